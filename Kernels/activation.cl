// activation
