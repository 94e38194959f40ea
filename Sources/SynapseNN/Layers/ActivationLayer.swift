import SynapseCore

/// An elementwise nonlinearity (ReLU, leaky ReLU, sigmoid, tanh, step, softplus, LeCun's scaled tanh) on input of any shape.
public final class ActivationLayer: UnaryLayer {
    public var name: String
    /// The nonlinearity applied to every element.
    public let activation: Activation

    /// A layer applying `activation` to every element; without a `name` it is named after its kind when built.
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
        case .step: return "Step"
        case .softplus: return "Softplus"
        case .scaledTanh: return "ScaledTanh"
        }
    }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let y = try call.tensor("output", shape: x.shape)
        try call.backend.activationForward(activation, input: x, output: y)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        let x = call.input
        let y = try call.tensor("output", shape: x.shape), dx = try call.tensor("gradInput", shape: x.shape)
        try call.backend.activationBackward(activation, input: x, output: y, gradOutput: dy, gradInput: dx)
        return dx
    }
}
