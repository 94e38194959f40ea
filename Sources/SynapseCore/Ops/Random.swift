/// Random numbers drawn from Philox on the device, bit-identical on every device.
public protocol RandomKernels {
    /// `output[i] = input[i] * scale` when Philox word `address.counter + i`, as a uniform in [0, 1), is at
    /// least `probability`, else 0, with `scale = 1 / (1 - probability)`.
    func uncheckedDropout(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws
}

extension Backend {
    /// Inverted dropout: element `i` is kept when Philox word `address.counter + i` of `address.stream`, as a
    /// uniform in [0, 1), is at least `probability`; survivors are scaled by `1 / (1 - probability)`.
    public func dropoutForward(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws {
        try Check.probability(op: "dropoutForward", probability)
        try Check.elementwise(on: self, op: "dropoutForward", ["input": input, "output": output])
        try uncheckedDropout(input: input, output: output, probability: probability, address: address)
    }

    /// The forward mask regenerated from the same address and applied to the gradient; no mask is stored.
    public func dropoutBackward(gradOutput: Tensor, gradInput: Tensor, probability: Float, address: PhiloxAddress) throws {
        try Check.probability(op: "dropoutBackward", probability)
        try Check.elementwise(on: self, op: "dropoutBackward", ["gradOutput": gradOutput, "gradInput": gradInput])
        try uncheckedDropout(input: gradOutput, output: gradInput, probability: probability, address: address)
    }
}
