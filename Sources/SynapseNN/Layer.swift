import SynapseCore

/// One stage of a network, Caffe-style: `build` once, then `forward` and `backward` per step.
/// Shapes passed to `build` are per sample (no batch dimension); tensors passed to `forward` carry
/// the batch first. A layer keeps what its backward pass needs (its input, masks, argmax) from the
/// last forward, so `backward` must follow the `forward` it differentiates.
public protocol Layer: AnyObject {
    /// Unique within a model; prefixes parameter names (`conv1` -> `conv1.weight`).
    var name: String { get set }
    /// One line for model summaries and checkpoint headers, e.g. `Conv2D(1->6, 5x5, pad 2)`.
    var summary: String { get }
    /// Checks the per-sample input shape, creates the parameters and returns the per-sample output shape.
    /// Throws `UnexpectedInputShape` when the input does not fit.
    func build(inputShape: [Int], context: BuildContext) throws -> [Int]
    var parameters: [Parameter] { get }
    func forward(_ input: Tensor, training: Bool) throws -> Tensor
    /// Writes (overwrites) the gradients of `parameters` and returns the gradient for the input.
    func backward(_ gradOutput: Tensor) throws -> Tensor
    /// Writes the gradients of `parameters` only: for the first layer of a network, whose input is data
    /// and needs no gradient. Layers for which the input gradient is real work (GEMMs) skip it.
    func backwardParameters(_ gradOutput: Tensor) throws
}

extension Layer {
    public var parameters: [Parameter] { [] }

    public func backwardParameters(_ gradOutput: Tensor) throws { _ = try backward(gradOutput) }
}

/// What a layer needs while it is being built: the device, and the run's seed and random streams.
public final class BuildContext {
    public let backend: Backend
    public let seed: UInt64
    private var parameterCount = 0
    private var randomLayerCount = 0

    public init(backend: Backend, seed: UInt64) {
        self.backend = backend
        self.seed = seed
    }

    /// A new parameter filled from `initializer`, drawn from the next parameter stream.
    public func parameter(_ name: String, shape: [Int], initializer: Initializer,
                          fanIn: Int, fanOut: Int) throws -> Parameter {
        let p = try Parameter(name: name, shape: shape, backend: backend)
        let address = PhiloxAddress(seed: seed, stream: RandomStream.parameter(parameterCount))
        parameterCount += 1
        try backend.upload(initializer.values(count: p.count, fanIn: fanIn, fanOut: fanOut, address: address),
                           to: p.value, offset: 0)
        return p
    }

    /// The start of a fresh stream for a layer that draws random numbers at run time (dropout).
    public func dropoutAddress() -> PhiloxAddress {
        defer { randomLayerCount += 1 }
        return PhiloxAddress(seed: seed, stream: RandomStream.dropout(randomLayerCount))
    }
}

/// Layers that draw random numbers during training expose their position in their stream, so that a
/// checkpoint can store it and a resumed run continues with the same masks.
public protocol RandomizedLayer: Layer {
    var randomCounter: UInt64 { get set }
}
