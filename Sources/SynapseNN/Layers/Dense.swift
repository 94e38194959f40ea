import SynapseCore

/// Fully connected layer: `Y = X W^T + b` with `W` of shape `[out, in]` (PyTorch's `nn.Linear`).
/// Takes flat samples `[in]`; put a `Flatten` before it after convolutions.
public final class Dense: Layer {
    public var name: String
    public let outputs: Int
    public let weightInit: Initializer
    public let biasInit: Initializer
    public private(set) var inputs = 0
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter!
    private var input: Tensor?
    private var output: Buffer?
    private var gradInput: Buffer?

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
        guard inputShape.count == 1 else {
            throw UnexpectedInputShape(expected: "a flat vector [features] (add Flatten before Dense)")
        }
        guard outputs > 0 else { throw NNError.invalidModel("layer '\(name)': Dense needs a positive output count, got \(outputs)") }
        inputs = inputShape[0]
        weight = try context.parameter("\(name).weight", shape: [outputs, inputs], initializer: weightInit,
                                       fanIn: inputs, fanOut: outputs)
        bias = try context.parameter("\(name).bias", shape: [outputs], initializer: biasInit,
                                     fanIn: inputs, fanOut: outputs)
        return [outputs]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let backend = x.backend, batch = x.batch
        let y = try reuse(&output, count: batch * outputs, on: backend)
        try backend.gemm(transA: false, transB: true, m: batch, n: outputs, k: inputs, alpha: 1,
                         a: x.buffer, aOffset: 0, lda: inputs, b: weight.value, bOffset: 0, ldb: inputs,
                         beta: 0, c: y, cOffset: 0, ldc: outputs)
        try backend.biasAdd(data: y, bias: bias.value, outer: batch, channels: outputs, inner: 1)
        input = x
        return Tensor(y, shape: [batch, outputs])
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try lastInput(input, layer: name)
        let dx = try reuse(&gradInput, count: x.count, on: x.backend)
        try backward(dy, input: x, gradInput: dx)
        return Tensor(dx, shape: x.shape)
    }

    public func backwardParameters(_ dy: Tensor) throws {
        try backward(dy, input: lastInput(input, layer: name), gradInput: nil)
    }

    private func backward(_ dy: Tensor, input x: Tensor, gradInput dx: Buffer?) throws {
        let backend = x.backend, batch = x.batch
        // dW = dY^T X, db = column sums of dY, dX = dY W.
        try backend.gemm(transA: true, transB: false, m: outputs, n: inputs, k: batch, alpha: 1,
                         a: dy.buffer, aOffset: 0, lda: outputs, b: x.buffer, bOffset: 0, ldb: inputs,
                         beta: 0, c: weight.gradient, cOffset: 0, ldc: inputs)
        try backend.biasGradient(gradOutput: dy.buffer, gradBias: bias.gradient, outer: batch, channels: outputs, inner: 1)
        guard let dx else { return }
        try backend.gemm(transA: false, transB: false, m: batch, n: inputs, k: outputs, alpha: 1,
                         a: dy.buffer, aOffset: 0, lda: outputs, b: weight.value, bOffset: 0, ldb: inputs,
                         beta: 0, c: dx, cOffset: 0, ldc: inputs)
    }
}

/// The input saved by the last forward pass; backward without one is a usage error, reported as such.
func lastInput(_ input: Tensor?, layer: String) throws -> Tensor {
    guard let input else {
        throw NNError.invalidModel("layer '\(layer)': backward called before forward")
    }
    return input
}
