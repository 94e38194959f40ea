import SynapseCore

/// Local response normalisation across channels (AlexNet; Caffe's `LRN` with ACROSS_CHANNELS, PyTorch's
/// `nn.LocalResponseNorm`): `y = x * (k + alpha/size * sum of x^2 over size neighbouring channels)^-beta`.
public final class LRN: UnaryLayer {
    public var name: String
    /// Channels in each normalisation window, centred on the channel normalised; must be odd.
    public let size: Int
    /// The weight of the window's sum of squares, divided by `size`, in the scale; not negative.
    public let alpha: Float
    /// The power of the scale that divides the input (`y = x / scale^beta`); not negative.
    public let beta: Float
    /// The scale's constant term; must be positive, so that the scale never reaches zero.
    public let k: Float
    private var sampleShape: [Int] = []

    /// Defaults are AlexNet's reference Caffe model.
    public init(size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1, name: String = "") {
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.name = name
    }

    public var summary: String { "LRN(size \(size), alpha \(alpha), beta \(beta), k \(k))" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 3 else { throw UnexpectedInputShape(expected: "[channels, height, width]") }
        do {
            try geometry(batch: 1, inputShape).validate(op: name)
        } catch let SynapseError.invalidArgument(_, message) {
            throw NNError.invalidModel("layer '\(name)': \(message)")
        }
        sampleShape = inputShape
        return inputShape
    }

    private func geometry(batch: Int, _ shape: [Int]) -> LRNGeometry {
        LRNGeometry(batch: batch, channels: shape[0], spatial: shape[1] * shape[2], size: size, alpha: alpha, beta: beta, k: k)
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let y = try call.tensor("output", shape: x.shape), scale = try call.tensor("scale", shape: x.shape)
        try call.backend.lrnForward(input: x, output: y, scale: scale, geometry: geometry(batch: x.batch, sampleShape))
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        let x = call.input
        let y = try call.tensor("output", shape: x.shape), scale = try call.tensor("scale", shape: x.shape)
        let dx = try call.tensor("gradInput", shape: x.shape)
        try call.backend.lrnBackward(input: x, output: y, scale: scale, gradOutput: dy, gradInput: dx,
                                     geometry: geometry(batch: x.batch, sampleShape))
        return dx
    }
}
