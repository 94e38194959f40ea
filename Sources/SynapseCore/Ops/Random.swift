/// Random numbers drawn from Philox on the device, bit-identical on every device.
public protocol RandomKernels {
    /// `output[i] = input[i] * scale` when Philox word `address.counter + i`, as a uniform in [0, 1), is at
    /// least `probability`, else 0, with `scale = 1 / (1 - probability)`.
    func uncheckedDropout(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws
    /// `output[i] = low + (high - low) * u_i`, `u_i` word `address.counter + i` as a uniform in [0, 1).
    func uncheckedUniform(output: Tensor, low: Float, high: Float, address: PhiloxAddress) throws
    /// `output[i] = u_i < probabilities[i] ? 1 : 0`.
    func uncheckedBernoulli(probabilities: Tensor, output: Tensor, address: PhiloxAddress) throws
}

extension Backend {
    /// Inverted dropout: element `i` is kept when Philox word `address.counter + i` of `address.stream`, as a
    /// uniform in [0, 1), is at least `probability`; survivors are scaled by `1 / (1 - probability)`.
    public func dropoutForward(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws {
        try Check.probability(op: "dropoutForward", probability)
        try Check.elementwise(on: self, op: "dropoutForward", ["input": input, "output": output])
        try uncheckedDropout(input: input, output: output, probability: probability, address: address)
    }

    /// Uniform samples in `[low, high)`: element `i` is `low + (high - low) * u`, with `u` Philox word
    /// `address.counter + i` of `address.stream` as a uniform in [0, 1) (24 bits). Bit-identical on every device.
    public func uniform(output: Tensor, low: Float, high: Float, address: PhiloxAddress) throws {
        let op = "uniform"
        guard low.isFinite, high.isFinite, low <= high else {
            throw SynapseError.invalidArgument(op: op, message: "needs finite low <= high, got \(low) and \(high)")
        }
        try Check.elementwise(on: self, op: op, ["output": output])
        try uncheckedUniform(output: output, low: low, high: high, address: address)
    }

    /// Bernoulli samples: element `i` is 1 when `u` (as for `uniform`) is below `probabilities[i]`, else 0; a
    /// probability at or below 0 never fires, one at or above 1 always does. Bit-identical on every device.
    /// `output` may be `probabilities` (in place).
    public func bernoulli(probabilities: Tensor, output: Tensor, address: PhiloxAddress) throws {
        try Check.elementwise(on: self, op: "bernoulli", ["probabilities": probabilities, "output": output])
        try uncheckedBernoulli(probabilities: probabilities, output: output, address: address)
    }

    /// The forward mask regenerated from the same address and applied to the gradient; no mask is stored.
    public func dropoutBackward(gradOutput: Tensor, gradInput: Tensor, probability: Float, address: PhiloxAddress) throws {
        try Check.probability(op: "dropoutBackward", probability)
        try Check.elementwise(on: self, op: "dropoutBackward", ["gradOutput": gradOutput, "gradInput": gradInput])
        try uncheckedDropout(input: gradOutput, output: gradInput, probability: probability, address: address)
    }
}
