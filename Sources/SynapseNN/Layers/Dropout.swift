import SynapseCore

/// Inverted dropout (Srivastava et al.): in training each element is zeroed with `probability` and the
/// survivors scaled by `1/(1-probability)`; in evaluation the layer passes its input through.
/// Masks come from Philox, one stream per dropout layer, so they are identical on every device; the
/// backward pass regenerates the mask instead of storing it.
public final class Dropout: RandomizedLayer {
    public var name: String
    public let probability: Float
    /// The next Philox word this layer will use; checkpoints store it so a resumed run draws the same masks.
    public var randomCounter: UInt64 = 0
    private var stream = PhiloxAddress(seed: 0)
    private var lastAddress: PhiloxAddress?
    private var lastShape: [Int] = []
    private var output: Buffer?
    private var gradInput: Buffer?

    public init(_ probability: Float = 0.5, name: String = "") {
        self.probability = probability
        self.name = name
    }

    public var summary: String { "Dropout(\(probability))" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard probability >= 0, probability < 1 else {
            throw NNError.invalidModel("layer '\(name)': dropout probability must be in [0, 1), got \(probability)")
        }
        stream = context.dropoutAddress()
        return inputShape
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        lastShape = x.shape
        guard training else {
            lastAddress = nil
            return x
        }
        let address = PhiloxAddress(seed: stream.seed, stream: stream.stream, counter: randomCounter)
        let y = try reuse(&output, count: x.count, on: x.backend)
        try x.backend.dropoutForward(input: x.buffer, output: y, count: x.count, probability: probability, address: address)
        lastAddress = address
        randomCounter &+= UInt64(x.count)
        return Tensor(y, shape: x.shape)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let address = lastAddress else { return dy }   // evaluation mode: the identity
        let dx = try reuse(&gradInput, count: dy.count, on: dy.backend)
        try dy.backend.dropoutBackward(gradOutput: dy.buffer, gradInput: dx, count: dy.count,
                                       probability: probability, address: address)
        return Tensor(dx, shape: lastShape)
    }
}
