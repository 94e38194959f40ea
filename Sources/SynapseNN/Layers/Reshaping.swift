import SynapseCore

/// Flattens each sample to a vector (`[C, H, W]` -> `[C*H*W]`) without copying: NCHW is already row-major.
public final class Flatten: Layer {
    public var name: String
    private var inputShape: [Int] = []

    public init(name: String = "") { self.name = name }

    public var summary: String { "Flatten" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        self.inputShape = inputShape
        return [inputShape.reduce(1, *)]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        x.reshaped([x.batch, x.count / x.batch])
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        dy.reshaped([dy.batch] + inputShape)
    }
}

/// Softmax over the features of each sample. For classification training use the fused
/// `SoftmaxCrossEntropy` loss on the logits instead; this layer is for models that output probabilities.
public final class Softmax: Layer {
    public var name: String
    private var output: Buffer?
    private var gradInput: Buffer?
    private var outputShape: [Int] = []

    public init(name: String = "") { self.name = name }

    public var summary: String { "Softmax" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 1 else { throw UnexpectedInputShape(expected: "a flat vector [classes] (add Flatten before Softmax)") }
        return inputShape
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let y = try reuse(&output, count: x.count, on: x.backend)
        try x.backend.softmaxForward(input: x.buffer, output: y, rows: x.batch, cols: x.shape[1])
        outputShape = x.shape
        return Tensor(y, shape: x.shape)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let y = output, !outputShape.isEmpty else {
            throw NNError.invalidModel("layer '\(name)': backward called before forward")
        }
        let dx = try reuse(&gradInput, count: dy.count, on: dy.backend)
        try dy.backend.softmaxBackward(output: y, gradOutput: dy.buffer, gradInput: dx, rows: outputShape[0], cols: outputShape[1])
        return Tensor(dx, shape: outputShape)
    }
}
