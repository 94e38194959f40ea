import SynapseCore

/// A decoder whose weight is an encoder's, transposed (tied weights): `Y = X W + b` for the `Dense` encoder's
/// `W` `[hidden, inputs]`, with its own bias `[inputs]`. The weight is one parameter; the encoder and the decoder
/// both add to its gradient, so it receives the sum.
public final class TiedDense: UnaryLayer {
    public var name: String
    /// The layer whose weight this one uses transposed; it must be built (come earlier in the model).
    public let encoder: Dense
    /// How the bias is initialised.
    public let biasInit: Initializer
    /// `[encoder.inputs]`; nil until the layer is built.
    public private(set) var bias: Parameter!

    /// The transpose of `encoder`, mapping its outputs back to its inputs.
    public init(transposing encoder: Dense, name: String = "", biasInit: Initializer = .constant(0)) {
        self.encoder = encoder
        self.name = name
        self.biasInit = biasInit
    }

    public var summary: String { "Dense(\(encoder.outputs)->\(encoder.inputs > 0 ? "\(encoder.inputs)" : "?"), tied to \(encoder.name))" }
    public var parameters: [Parameter] { bias.map { [encoder.weight, $0] } ?? [] }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard encoder.weight != nil else {
            throw NNError.invalidModel("layer '\(name)': its encoder '\(encoder.name)' must come earlier in the model")
        }
        guard inputShape == [encoder.outputs] else {
            throw UnexpectedInputShape(expected: "[\(encoder.outputs)], the outputs of '\(encoder.name)'")
        }
        bias = context.parameter("\(name).bias", shape: [encoder.inputs], initializer: biasInit,
                                 fanIn: encoder.outputs, fanOut: encoder.inputs)
        return [encoder.inputs]
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let backend = call.backend, rows = x.batch, (hidden, width) = (encoder.outputs, encoder.inputs)
        let y = try call.tensor("output", shape: [rows, width])
        try backend.gemm(transA: false, transB: false, m: rows, n: width, k: hidden, alpha: 1, a: x, lda: hidden,
                         b: encoder.weight.value, ldb: width, beta: 0, c: y, ldc: width)
        try backend.biasAdd(data: y, bias: bias.value, outer: rows, channels: width, inner: 1)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        let backend = call.backend, x = call.input, rows = x.batch, (hidden, width) = (encoder.outputs, encoder.inputs)
        // Y = X W, so dW += X^T dY, and dX = dY W^T.
        let weight = encoder.weight!
        try backend.gemm(transA: true, transB: false, m: hidden, n: width, k: rows, alpha: 1, a: x, lda: hidden,
                         b: dy, ldb: width, beta: weight.gradientBeta(), c: weight.gradient, ldc: width)
        try backend.biasGradient(gradOutput: dy, gradBias: bias.gradient, outer: rows, channels: width, inner: 1,
                                 accumulate: bias.gradientBeta() == 1)
        guard call.needsInputGradient else { return nil }
        let dx = try call.tensor("gradInput", shape: x.shape)
        try backend.gemm(transA: false, transB: true, m: rows, n: hidden, k: width, alpha: 1, a: dy, lda: width,
                         b: weight.value, ldb: width, beta: 0, c: dx, ldc: hidden)
        return dx
    }
}

/// A layer that adds a term of its own to the objective's loss, such as a sparsity penalty; its backward pass
/// adds that term's gradient to the one flowing through it. Objectives add `Graph.addPenalties` to their loss.
public protocol PenaltyLayer: Layer {
    /// Element 0 of the returned tensor holds the term for the call's last training forward pass; nil after an
    /// evaluation pass, which computes none.
    func penalty(_ call: LayerCall) throws -> Tensor?
}

/// The sparse autoencoder's penalty on the code (UFLDL's form): the identity on its input `[batch, units]`
/// (activations in (0, 1), after a sigmoid), adding `weight * sum_j KL(target || r_j)` to the loss, where `r_j` is
/// unit j's mean activation over the batch. Its gradient `weight * (-target / r_j + (1 - target) / (1 - r_j)) / batch`
/// is added to every sample's gradient.
public final class SparsityPenalty: UnaryLayer, PenaltyLayer {
    public var name: String
    /// The mean activation each unit is pushed towards (`rho`), in (0, 1).
    public let target: Float
    /// The penalty's weight in the loss (`beta`), not negative.
    public let weight: Float

    /// A penalty pushing each unit's mean activation towards `target`, weighted by `weight`.
    public init(target: Float, weight: Float, name: String = "") {
        self.target = target
        self.weight = weight
        self.name = name
    }

    public var summary: String { "SparsityPenalty(rho \(target), beta \(weight))" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 1 else { throw UnexpectedInputShape(expected: "a flat code [units]") }
        guard target > 0, target < 1, weight >= 0, weight.isFinite else {
            throw NNError.invalidModel("layer '\(name)': the sparsity target must lie in (0, 1) and its weight must not be negative, got \(target) and \(weight)")
        }
        return inputShape
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        guard call.training else { return x }
        let backend = call.backend, rows = x.batch, units = x.shape[1]
        let mean = try call.tensor("meanActivation", shape: [units])
        try backend.biasGradient(gradOutput: x, gradBias: mean, outer: rows, channels: units, inner: 1, accumulate: false)
        try backend.scale(mean, by: 1 / Float(rows))
        let divergence = try call.tensor("divergence", shape: [units]), gradient = try call.tensor("gradient", shape: [units])
        try backend.sparsityPenalty(meanActivation: mean, target: target, divergence: divergence, gradient: gradient)
        let total = try call.tensor("penalty", shape: [1])
        try backend.sum(divergence, result: total)
        try backend.scale(total, by: weight)
        return x
    }

    public func penalty(_ call: LayerCall) throws -> Tensor? {
        guard call.training else { return nil }
        return try call.tensor("penalty", shape: [1])
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        guard call.training else { return dy }
        let backend = call.backend, rows = dy.batch, units = dy.shape[1]
        let gradient = try call.tensor("gradient", shape: [units]), dx = try call.tensor("gradInput", shape: dy.shape)
        try backend.scale(gradient, by: weight / Float(rows))
        try backend.copy(from: dy, to: dx)
        try backend.biasAdd(data: dx, bias: gradient, outer: rows, channels: units, inner: 1)
        return dx
    }
}

/// Masking noise for a denoising autoencoder (Vincent et al.): in training each input element is set to 0 with
/// probability `fraction`, the survivors left as they are (no rescaling, unlike dropout); in evaluation the layer
/// passes its input through. The mask comes from Philox (a corruption stream), so it is the same on every device.
public final class Corruption: UnaryLayer, RandomizedLayer {
    public var name: String
    /// The chance that an element is zeroed in training, in [0, 1).
    public let fraction: Float
    /// The next Philox word the layer will draw; checkpoints store it.
    public var randomCounter: UInt64 = 0
    private var stream = PhiloxAddress(seed: 0)

    /// Masking noise zeroing each element with probability `fraction` in training.
    public init(masking fraction: Float, name: String = "") {
        self.fraction = fraction
        self.name = name
    }

    public var summary: String { "Corruption(masking \(fraction))" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard fraction >= 0, fraction < 1 else {
            throw NNError.invalidModel("layer '\(name)': the corruption fraction must lie in [0, 1), got \(fraction)")
        }
        stream = context.corruptionAddress()
        return inputShape
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        guard call.training else { return x }
        let backend = call.backend
        let mask = try call.tensor("mask", shape: x.shape), y = try call.tensor("output", shape: x.shape)
        try backend.fill(mask, value: 1 - fraction)
        try backend.bernoulli(probabilities: mask, output: mask,
                              address: PhiloxAddress(seed: stream.seed, stream: stream.stream, counter: randomCounter))
        randomCounter &+= UInt64(x.count)
        try backend.multiply(x, mask, output: y)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        guard call.training else { return dy }
        let mask = try call.tensor("mask", shape: dy.shape), dx = try call.tensor("gradInput", shape: dy.shape)
        try call.backend.multiply(dy, mask, output: dx)
        return dx
    }
}
