// im2col
