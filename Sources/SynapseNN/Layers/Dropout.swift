import SynapseCore

/// Inverted dropout (Srivastava et al.): in training each element is zeroed with `probability` and the
/// survivors scaled by `1/(1-probability)`; in evaluation the layer passes its input through.
/// Masks come from Philox, one stream per dropout layer, so they are identical on every device; the
/// backward pass regenerates the mask instead of storing it.
public final class Dropout: UnaryLayer, RandomizedLayer {
    public var name: String
    /// The chance that an element is zeroed in training, in [0, 1).
    public let probability: Float
    /// The next Philox word this layer will use; checkpoints store it so a resumed run draws the same masks.
    public var randomCounter: UInt64 = 0
    private var stream = PhiloxAddress(seed: 0)

    /// A layer dropping each element with `probability` in training and passing its input through otherwise.
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

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        guard call.training else { return x }
        // A data-parallel shard draws the numbers of its rows of the global batch, and the stream moves past the
        // whole batch: the masks of a single process training that batch.
        let perRow = x.count / max(x.batch, 1)
        let shard = call.batchShard ?? BatchShard(offset: 0, globalBatch: x.batch)
        let address = PhiloxAddress(seed: stream.seed, stream: stream.stream, counter: randomCounter &+ UInt64(shard.offset * perRow))
        let y = try call.tensor("output", shape: x.shape)
        try call.backend.dropoutForward(input: x, output: y, probability: probability, address: address)
        call.randomAddress = address
        randomCounter &+= UInt64(shard.globalBatch * perRow)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        guard let address = call.randomAddress else { return dy }   // evaluation mode: the identity
        let dx = try call.tensor("gradInput", shape: dy.shape)
        try call.backend.dropoutBackward(gradOutput: dy, gradInput: dx, probability: probability, address: address)
        return dx
    }
}
