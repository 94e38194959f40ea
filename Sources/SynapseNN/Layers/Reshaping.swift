import SynapseCore

/// Flattens each sample to a vector (`[C, H, W]` -> `[C*H*W]`) without copying: NCHW is already row-major.
public final class Flatten: UnaryLayer {
    public var name: String
    private var inputShape: [Int] = []

    /// A flattening layer; without a `name` it is named after its kind (`flatten1`) when built.
    public init(name: String = "") { self.name = name }

    public var summary: String { "Flatten" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        self.inputShape = inputShape
        return [inputShape.reduce(1, *)]
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        x.reshaped([x.batch, x.count / x.batch])
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        call.needsInputGradient ? dy.reshaped([dy.batch] + inputShape) : nil
    }
}

/// Softmax over the features of each sample. For classification training use the fused softmax
/// cross-entropy of `Classification` on the logits instead; this layer is for models that output probabilities.
public final class Softmax: UnaryLayer {
    public var name: String

    /// A softmax layer; without a `name` it is named after its kind (`softmax1`) when built.
    public init(name: String = "") { self.name = name }

    public var summary: String { "Softmax" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 1 else { throw UnexpectedInputShape(expected: "a flat vector [classes] (add Flatten before Softmax)") }
        return inputShape
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let y = try call.tensor("output", shape: x.shape)
        try call.backend.softmaxForward(input: x, output: y, rows: x.batch, cols: x.shape[1])
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        let y = try call.tensor("output", shape: dy.shape), dx = try call.tensor("gradInput", shape: dy.shape)
        try call.backend.softmaxBackward(output: y, gradOutput: dy, gradInput: dx, rows: dy.batch, cols: dy.shape[1])
        return dx
    }
}
