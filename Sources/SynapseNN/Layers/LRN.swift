import SynapseCore

/// Local response normalisation across channels (AlexNet; Caffe's `LRN` with ACROSS_CHANNELS, PyTorch's
/// `nn.LocalResponseNorm`): `y = x * (k + alpha/size * sum of x^2 over size neighbouring channels)^-beta`.
public final class LRN: Layer {
    public var name: String
    public let size: Int
    public let alpha: Float
    public let beta: Float
    public let k: Float
    private var sampleShape: [Int] = []
    private var input: Tensor?
    private var output: Buffer?
    private var scale: Buffer?
    private var gradInput: Buffer?

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

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let y = try reuse(&output, count: x.count, on: x.backend)
        let s = try reuse(&scale, count: x.count, on: x.backend)
        try x.backend.lrnForward(input: x.buffer, output: y, scale: s, geometry: geometry(batch: x.batch, sampleShape))
        input = x
        return Tensor(y, shape: x.shape)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try lastInput(input, layer: name)
        let dx = try reuse(&gradInput, count: x.count, on: x.backend)
        try x.backend.lrnBackward(input: x.buffer, output: output!, scale: scale!, gradOutput: dy.buffer,
                                  gradInput: dx, geometry: geometry(batch: x.batch, sampleShape))
        return Tensor(dx, shape: x.shape)
    }
}
