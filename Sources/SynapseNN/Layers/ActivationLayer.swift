import SynapseCore

/// An elementwise nonlinearity (ReLU, leaky ReLU, sigmoid, tanh) on input of any shape.
public final class ActivationLayer: Layer {
    public var name: String
    public let activation: Activation
    private var input: Tensor?
    private var output: Buffer?
    private var gradInput: Buffer?

    public init(_ activation: Activation, name: String = "") {
        self.activation = activation
        self.name = name
    }

    public var summary: String {
        switch activation {
        case .relu: return "ReLU"
        case let .leakyReLU(slope): return "LeakyReLU(\(slope))"
        case .sigmoid: return "Sigmoid"
        case .tanh: return "Tanh"
        }
    }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let y = try reuse(&output, count: x.count, on: x.backend)
        try x.backend.activationForward(activation, input: x.buffer, output: y, count: x.count)
        input = x
        return Tensor(y, shape: x.shape)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try lastInput(input, layer: name)
        let dx = try reuse(&gradInput, count: x.count, on: x.backend)
        try x.backend.activationBackward(activation, input: x.buffer, output: output!, gradOutput: dy.buffer,
                                         gradInput: dx, count: x.count)
        return Tensor(dx, shape: x.shape)
    }
}
