import SynapseCore

/// A trainable tensor and its gradient, named as in a PyTorch `state_dict` (`conv1.weight`, `fc3.bias`).
/// Both are views into a `ParameterArena`: every parameter value of a model lives in one allocation and every
/// gradient in another. Gradients accumulate: a parameter used twice, by tied layers or at every time step of
/// a recurrent net, receives the sum of its uses, from the model's `zeroGradients` to the end of `backward`.
public final class Parameter {
    /// The `state_dict` name, the layer's name and the parameter's role (`conv1.weight`); unique within a model.
    public let name: String
    /// The shape in PyTorch's layout, e.g. `[out, in]` for a dense layer's weight.
    public let shape: [Int]
    /// Elements of `value` (and of `gradient`): the product of `shape`.
    public let count: Int
    /// Drawn once when the model is built.
    let initializer: Initializer
    let fanIn: Int, fanOut: Int
    /// Set when the arena is allocated, at the end of building the model.
    private var views: (value: Tensor, gradient: Tensor)?
    /// Whether the gradient has received a contribution since the arena last started a new sum.
    var gradientStarted = false
    /// Scales the optimizer's learning rate for this parameter (AlexNet trains biases at 2x).
    public var learningRateMultiplier: Float = 1
    /// Scales the optimizer's weight decay for this parameter (AlexNet does not decay biases).
    public var weightDecayMultiplier: Float = 1
    /// Whether training leaves the parameter as it is (a pretrained layer held fixed while the next one trains):
    /// backward computes no gradient for a layer whose parameters are all frozen, and optimizers do not move it.
    public var isFrozen = false

    init(name: String, shape: [Int], initializer: Initializer, fanIn: Int, fanOut: Int) {
        self.name = name
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.initializer = initializer
        self.fanIn = fanIn
        self.fanOut = fanOut
    }

    /// The parameter's values. Valid once the model that created it is built.
    public var value: Tensor { views!.value }
    /// The gradient accumulated since the model last zeroed its gradients.
    public var gradient: Tensor { views!.gradient }

    func bind(value: Tensor, gradient: Tensor) { views = (value, gradient) }

    /// The `beta` with which a layer writes its contribution to `gradient` (`g = beta * g + contribution`):
    /// 0 for the first contribution since `zeroGradients`, which overwrites what the memory holds (as PyTorch's
    /// `zero_grad(set_to_none=True)`: no fill, and a GEMM that does not read C), then 1, which adds. Call it once
    /// per contribution, before writing; a layer that writes the gradient in parts asks once and gives every part
    /// of its first write that beta.
    public func gradientBeta() -> Float {
        defer { gradientStarted = true }
        return gradientStarted ? 1 : 0
    }
}

/// All parameter values of a model in one allocation and all gradients in another, each `Parameter` a view
/// into both (llm.c's layout). An optimizer step is one launch over `values`, a data-parallel all-reduce one
/// call on `gradients`, and zeroing the gradients costs nothing (each one's first contribution overwrites it).
public final class ParameterArena {
    /// Every parameter in the arena, in model order.
    public let parameters: [Parameter]
    /// Every value, parameters in model order, each starting at a multiple of `alignment` elements.
    public let values: Tensor
    /// Every gradient, laid out as `values`: each parameter's gradient at the same offset as its value.
    public let gradients: Tensor
    /// Parameters start at multiples of this many elements (128 bytes), so that each is aligned for vector
    /// loads; the gaps hold zeros, which every optimizer update leaves at zero.
    public static let alignment = 32

    /// Allocates `parameters` on `backend` and uploads their initial values, drawn from Philox parameter
    /// streams under `seed` in order (stream i for parameter i).
    init(parameters: [Parameter], backend: Backend, seed: UInt64) throws {
        var names = Set<String>()
        for p in parameters where !names.insert(p.name).inserted {
            throw NNError.invalidModel("two parameters are named '\(p.name)'; checkpoints and optimizer state are kept by name")
        }
        var offsets: [Int] = []
        var end = 0
        for p in parameters {
            offsets.append(end)
            end += (p.count + Self.alignment - 1) / Self.alignment * Self.alignment
        }
        let total = max(end, 1)
        let values = try backend.tensor(shape: [total]), gradients = try backend.tensor(shape: [total])
        var initial = [Float](repeating: 0, count: total)
        for (i, p) in parameters.enumerated() {
            let address = PhiloxAddress(seed: seed, stream: RandomStream.parameter(i))
            let drawn = p.initializer.values(count: p.count, fanIn: p.fanIn, fanOut: p.fanOut, address: address)
            initial.replaceSubrange(offsets[i]..<offsets[i] + p.count, with: drawn)
            p.bind(value: Tensor(values.buffer, offset: offsets[i], shape: p.shape),
                   gradient: Tensor(gradients.buffer, offset: offsets[i], shape: p.shape))
        }
        try backend.upload(initial, to: values)
        self.parameters = parameters
        self.values = values
        self.gradients = gradients
    }

    /// A stand-alone arena of zero-initialised parameters, for optimizers and tests outside a model.
    public convenience init(_ shapes: [(name: String, shape: [Int])], backend: Backend) throws {
        try self.init(parameters: shapes.map { Parameter(name: $0.name, shape: $0.shape, initializer: .constant(0),
                                                         fanIn: 1, fanOut: 1) },
                      backend: backend, seed: 0)
    }

    /// The device the arena lives on.
    public var backend: Backend { values.backend }

    /// Starts a new sum of gradients: each one counts as zero until its first contribution overwrites it
    /// (see `Parameter.gradientBeta`); `completeGradients` zeroes those that received none.
    public func zeroGradients() {
        for p in parameters { p.gradientStarted = false }
    }

    /// Zeroes the gradients that received no contribution since `zeroGradients` (a parameter the last backward
    /// pass did not reach), so that every gradient holds its exact sum. Models call it at the end of `backward`.
    public func completeGradients() throws {
        for p in parameters where !p.gradientStarted {
            try backend.fill(p.gradient, value: 0)
            p.gradientStarted = true
        }
    }

    /// The arena's size in bytes, values and gradients together.
    public var bytes: Int { 2 * values.count * values.dtype.byteSize }
}

/// Where every random number in model code comes from: Philox streams under the run's seed.
/// Stream numbers are fixed by role so that adding one kind of randomness never shifts another.
public enum RandomStream {
    /// Initial values of parameter `i` (in model order).
    public static func parameter(_ index: Int) -> UInt64 { UInt64(index) }
    /// Masks of dropout layer `i` (in model order).
    public static func dropout(_ index: Int) -> UInt64 { 1 << 32 | UInt64(index) }
    /// The order of the training samples in epoch `e`.
    public static func shuffle(epoch: Int) -> UInt64 { 2 << 32 | UInt64(epoch) }
    /// Sampling at inference (text generation) for seed-stream `i`.
    public static func sampling(_ index: Int) -> UInt64 { 3 << 32 | UInt64(index) }
    /// Masks of corruption (denoising) layer `i` (in model order).
    public static func corruption(_ index: Int) -> UInt64 { 4 << 32 | UInt64(index) }
    /// The Gibbs sampling of contrastive divergence in epoch `e`.
    public static func gibbs(epoch: Int) -> UInt64 { 5 << 32 | UInt64(epoch) }
    /// The visible units flipped to estimate an RBM's pseudo-likelihood.
    public static let pseudoLikelihood: UInt64 = 6 << 32
    /// Where sparse coding's image patches are cut.
    public static let patches: UInt64 = 7 << 32
    /// word2vec's sampling (window sizes, sub-sampling, negatives) by `thread` in `epoch`.
    public static func words(epoch: Int, thread: Int) -> UInt64 { 8 << 32 | UInt64(epoch) << 16 | UInt64(thread) }
}
