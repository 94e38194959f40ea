import SynapseCore

/// Fully connected layer: `Y = X W^T + b` with `W` of shape `[out, in]` (PyTorch's `nn.Linear`).
/// Takes flat samples `[in]`, or sequences `[steps, in]` (applied at every step, as `nn.Linear` to the last
/// dimension); put a `Flatten` before it after convolutions.
public final class Dense: UnaryLayer {
    public var name: String
    /// Output features per sample (or per step of a sequence).
    public let outputs: Int
    /// How the weight is initialised.
    public let weightInit: Initializer
    /// How the bias is initialised; zeros unless given.
    public let biasInit: Initializer
    /// Input features per sample (or per step), known once the layer is built; 0 before.
    public private(set) var inputs = 0
    /// Steps per sample: 1 for flat samples.
    private var steps = 1
    /// `[outputs, inputs]`; nil until the layer is built.
    public private(set) var weight: Parameter!
    /// `[outputs]`; nil until the layer is built.
    public private(set) var bias: Parameter!

    /// A fully connected layer to `outputs` features; the input width is learnt from the input when built.
    public init(_ outputs: Int, name: String = "", weightInit: Initializer = .pytorchDefault,
                biasInit: Initializer = .constant(0)) {
        self.outputs = outputs
        self.name = name
        self.weightInit = weightInit
        self.biasInit = biasInit
    }

    public var summary: String { "Dense(\(inputs > 0 ? "\(inputs)" : "?")->\(outputs))" }
    public var parameters: [Parameter] { weight.map { [$0, bias] } ?? [] }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 1 || inputShape.count == 2 else {
            throw UnexpectedInputShape(expected: "a flat vector [features] or a sequence [steps, features] (add Flatten before Dense)")
        }
        guard outputs > 0 else { throw NNError.invalidModel("layer '\(name)': Dense needs a positive output count, got \(outputs)") }
        inputs = inputShape.last!
        steps = inputShape.count == 2 ? inputShape[0] : 1
        weight = context.parameter("\(name).weight", shape: [outputs, inputs], initializer: weightInit,
                                   fanIn: inputs, fanOut: outputs)
        bias = context.parameter("\(name).bias", shape: [outputs], initializer: biasInit, fanIn: inputs, fanOut: outputs)
        return inputShape.dropLast() + [outputs]
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let backend = call.backend, rows = x.batch * steps
        let y = try call.tensor("output", shape: x.shape.dropLast() + [outputs])
        try backend.gemm(transA: false, transB: true, m: rows, n: outputs, k: inputs, alpha: 1, a: x, lda: inputs,
                         b: weight.value, ldb: inputs, beta: 0, c: y, ldc: outputs)
        try backend.biasAdd(data: y, bias: bias.value, outer: rows, channels: outputs, inner: 1)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        let backend = call.backend, x = call.input, rows = x.batch * steps
        // dW += dY^T X, db += column sums of dY, dX = dY W.
        try backend.gemm(transA: true, transB: false, m: outputs, n: inputs, k: rows, alpha: 1, a: dy, lda: outputs,
                         b: x, ldb: inputs, beta: weight.gradientBeta(), c: weight.gradient, ldc: inputs)
        try backend.biasGradient(gradOutput: dy, gradBias: bias.gradient, outer: rows, channels: outputs, inner: 1,
                                 accumulate: bias.gradientBeta() == 1)
        guard call.needsInputGradient else { return nil }
        let dx = try call.tensor("gradInput", shape: x.shape)
        try backend.gemm(transA: false, transB: false, m: rows, n: inputs, k: outputs, alpha: 1, a: dy, lda: outputs,
                         b: weight.value, ldb: inputs, beta: 0, c: dx, ldc: inputs)
        return dx
    }
}
