import SynapseCore

/// One stage of a network, Caffe-style: `build` once, then `forward` and `backward` per call. A layer holds
/// its parameters and settings only; everything one call needs for its backward pass (its inputs, masks,
/// argmax, output buffers) lives in that call's `LayerCall`, so one layer may run several times per step (a
/// recurrent cell at every time step, a layer shared by two branches) and each call differentiates its own
/// inputs. Shapes passed to `build` are per sample; tensors passed to `forward` carry the batch first.
public protocol Layer: AnyObject {
    /// Unique within a model; prefixes parameter names (`conv1` -> `conv1.weight`).
    var name: String { get set }
    /// One line for model summaries and checkpoint headers, e.g. `Conv2D(1->6, 5x5, pad 2)`.
    var summary: String { get }
    /// The parameters this layer created or shares; a shared one is trained once, with the summed gradient.
    var parameters: [Parameter] { get }
    /// Checks the per-sample input shapes, creates the parameters and returns the per-sample output shapes.
    /// Throws `UnexpectedInputShape` when an input does not fit.
    func build(inputShapes: [[Int]], context: BuildContext) throws -> [[Int]]
    /// The outputs for `call.inputs`, keeping in `call` what `backward` needs.
    func forward(_ call: LayerCall) throws -> [Tensor]
    /// Adds this call's contribution to the parameters' gradients and returns the gradients of the inputs
    /// (nil where `call.needsInputGradients` is false). An output gradient is nil when that output fed nothing
    /// that needs a gradient: it counts as zero.
    func backward(_ call: LayerCall, outputGradients: [Tensor?]) throws -> [Tensor?]
}

/// A layer with one input and one output, which most are; it implements `Layer` through these.
public protocol UnaryLayer: Layer {
    /// Checks the per-sample input shape, creates the parameters and returns the per-sample output shape.
    /// Throws `UnexpectedInputShape` when the input does not fit.
    func build(inputShape: [Int], context: BuildContext) throws -> [Int]
    /// The output for `input` (batch first), keeping in `call` what `backward` needs.
    func forward(_ input: Tensor, _ call: LayerCall) throws -> Tensor
    /// The gradient of the input when `call.needsInputGradient`, else nil (after the parameters' gradients).
    func backward(_ gradOutput: Tensor, _ call: LayerCall) throws -> Tensor?
}

extension Layer {
    public var parameters: [Parameter] { [] }

    /// Whether the layer has a parameter that training moves (one not frozen).
    public var trains: Bool { parameters.contains { !$0.isFrozen } }
}

extension UnaryLayer {
    public func build(inputShapes: [[Int]], context: BuildContext) throws -> [[Int]] {
        guard inputShapes.count == 1 else {
            throw NNError.invalidModel("layer '\(name)' (\(summary)) takes one input, got \(inputShapes.count)")
        }
        return [try build(inputShape: inputShapes[0], context: context)]
    }

    public func forward(_ call: LayerCall) throws -> [Tensor] { [try forward(call.input, call)] }

    public func backward(_ call: LayerCall, outputGradients: [Tensor?]) throws -> [Tensor?] {
        guard let gradient = outputGradients.first ?? nil else {
            throw NNError.invalidModel("layer '\(name)': backward without a gradient for its output")
        }
        return [try backward(gradient, call)]
    }
}

/// One call of a layer: its inputs, whether their gradients are wanted, what its backward pass needs, and
/// the buffers it writes. A model keeps each call from one step to the next, so buffers are allocated in
/// the first step and reused after (a smaller batch uses the front of a buffer).
public final class LayerCall {
    /// The device the call's buffers live on and its layer runs on.
    public let backend: Backend
    /// The inputs of the current forward pass, batch first.
    public internal(set) var inputs: [Tensor] = []
    /// Whether the current pass is training (dropout active) rather than evaluation.
    public internal(set) var training = false
    /// Per input: whether `backward` must return its gradient.
    public internal(set) var needsInputGradients: [Bool] = []
    /// Where the call drew its random numbers (dropout), for `backward` to draw the same.
    public var randomAddress: PhiloxAddress?
    /// In data-parallel training, the rows of the global batch this call's batch is; nil otherwise.
    public internal(set) var batchShard: BatchShard?
    /// The batch size of the final state a recurrent layer kept from this call's last forward pass, which the
    /// next one starts from when its batch is the same (truncated backpropagation through time); nil when there
    /// is none. `resetCarriedState` clears it.
    public var carriedBatch: Int?
    private var buffers: [String: Buffer] = [:]
    private var children: [LayerCall] = []

    /// A call on `backend` with no inputs and no buffers yet; `prepare` sets it up for each forward pass.
    public init(backend: Backend) { self.backend = backend }

    /// Sets up the call for a forward pass on `inputs`.
    public func prepare(inputs: [Tensor], training: Bool, needsInputGradients: [Bool]) {
        self.inputs = inputs
        self.training = training
        self.needsInputGradients = needsInputGradients
        randomAddress = nil
    }

    /// The first input, for layers that take one.
    public var input: Tensor { inputs[0] }
    /// Whether `backward` must return the gradient of the first input.
    public var needsInputGradient: Bool { needsInputGradients[0] }

    /// A view of `shape` at the start of this call's buffer `key`, which is allocated the first time and again
    /// only when it is too small. The same key in `backward` gives the same memory `forward` wrote.
    public func tensor(_ key: String, shape: [Int], dtype: DType = .float32) throws -> Tensor {
        let count = shape.reduce(1, *)
        if let existing = buffers[key], existing.count >= count, existing.dtype == dtype {
            return Tensor(existing, shape: shape)
        }
        let fresh = try backend.allocate(max(count, 1), dtype)
        buffers[key] = fresh
        return Tensor(fresh, shape: shape)
    }

    /// The `index`-th call a composite layer makes of a layer inside it (an LSTM's cell at each time step),
    /// kept like this one.
    public func child(_ index: Int) -> LayerCall {
        while children.count <= index { children.append(LayerCall(backend: backend)) }
        return children[index]
    }

    /// Forgets the state a recurrent layer carries from one forward pass to the next, here and in the children.
    public func resetCarriedState() {
        carriedBatch = nil
        for child in children { child.resetCarriedState() }
    }

    /// Bytes of device memory this call and its children hold.
    public var bytes: Int {
        buffers.values.reduce(0) { $0 + $1.byteCount } + children.reduce(0) { $0 + $1.bytes }
    }
}

/// What layers need while they are built: the device, and the run's seed. Parameters created here are
/// allocated together, in one arena, when the model is complete.
public final class BuildContext {
    /// The device every parameter is allocated on.
    public let backend: Backend
    /// The run's seed: the key of every Philox stream the model draws from.
    public let seed: UInt64
    private(set) var createdParameters: [Parameter] = []
    private var randomLayerCount = 0
    private var corruptionLayerCount = 0

    /// A context for building a model on `backend` whose random numbers all derive from `seed`.
    public init(backend: Backend, seed: UInt64) {
        self.backend = backend
        self.seed = seed
    }

    /// A new parameter whose initial values `initializer` draws from the next parameter stream.
    public func parameter(_ name: String, shape: [Int], initializer: Initializer, fanIn: Int, fanOut: Int) -> Parameter {
        let p = Parameter(name: name, shape: shape, initializer: initializer, fanIn: fanIn, fanOut: fanOut)
        createdParameters.append(p)
        return p
    }

    /// The start of a fresh stream for a layer that draws random numbers at run time (dropout).
    public func dropoutAddress() -> PhiloxAddress {
        defer { randomLayerCount += 1 }
        return PhiloxAddress(seed: seed, stream: RandomStream.dropout(randomLayerCount))
    }

    /// The start of a fresh stream for a layer that corrupts its input at run time (a denoising autoencoder's).
    public func corruptionAddress() -> PhiloxAddress {
        defer { corruptionLayerCount += 1 }
        return PhiloxAddress(seed: seed, stream: RandomStream.corruption(corruptionLayerCount))
    }

    /// The arena of every parameter created so far, with their initial values; when the model is built to load a
    /// checkpoint (`Checkpoint.building`), only once the parameters are known to fit it.
    func allocateArena() throws -> ParameterArena {
        if let planned = PlannedParameters.expected {
            try Checkpoint.checkShapes(planned.shapes, of: createdParameters, path: planned.path)
        }
        return try ParameterArena(parameters: createdParameters, backend: backend, seed: seed)
    }
}

extension DeviceProperties {
    /// Parts to cut a batch of `batch` images or sequences into for `Backend.concurrently`: as many as the device
    /// runs at once when each gets at least four (so that no part waits long for one with an item more), else one.
    func parts(ofBatch batch: Int) -> Int {
        concurrentParts > 1 && batch >= 4 * concurrentParts ? concurrentParts : 1
    }
}

/// Layers that draw random numbers during training expose their position in their stream, so that a
/// checkpoint can store it and a resumed run continues with the same masks.
public protocol RandomizedLayer: Layer {
    /// The next Philox word the layer will draw in its stream; checkpoints store and restore it.
    var randomCounter: UInt64 { get set }
}
