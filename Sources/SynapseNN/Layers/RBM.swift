import SynapseCore

/// A restricted Boltzmann machine with binary visible and hidden units, energy
/// `E(v, h) = -h^T W v - c^T v - b^T h` (SEEDS.md's, with `W` `[hidden, visible]` as a dense layer's weight).
/// As a layer it is the encoder a deep belief net is built from: `forward` gives `P(h = 1 | v) = sigmoid(v W^T + b)`
/// and `backward` differentiates that, so a stack of trained RBMs fine-tunes as an ordinary sigmoid network. It is
/// trained by `ContrastiveDivergence`, not by backpropagation. Parameters: `weight`, `bias` (hidden, as a
/// dense layer's, so that its weights move into one by name) and `visible_bias`.
public final class RBM: UnaryLayer {
    public var name: String
    /// Hidden units.
    public let hidden: Int
    /// Visible units, known once the layer is built; 0 before.
    public private(set) var visible = 0
    /// `[hidden, visible]`; nil until the layer is built.
    public private(set) var weight: Parameter!
    /// The hidden biases `b` `[hidden]`; nil until built.
    public private(set) var bias: Parameter!
    /// The visible biases `c` `[visible]`; nil until built.
    public private(set) var visibleBias: Parameter!

    /// An RBM with `hidden` hidden units; the visible units are the input's features.
    public init(hidden: Int, name: String = "") {
        self.hidden = hidden
        self.name = name
    }

    public var summary: String { "RBM(\(visible > 0 ? "\(visible)" : "?")->\(hidden))" }
    public var parameters: [Parameter] { weight.map { [$0, bias, visibleBias] } ?? [] }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 1 else { throw UnexpectedInputShape(expected: "a flat vector [visible units] (add Flatten first)") }
        guard hidden > 0 else { throw NNError.invalidModel("layer '\(name)': an RBM needs hidden units, got \(hidden)") }
        visible = inputShape[0]
        // Hinton's guide: weights from N(0, 0.01^2), biases 0.
        weight = context.parameter("\(name).weight", shape: [hidden, visible], initializer: .gaussian(mean: 0, std: 0.01),
                                   fanIn: visible, fanOut: hidden)
        bias = context.parameter("\(name).bias", shape: [hidden], initializer: .constant(0), fanIn: visible, fanOut: hidden)
        visibleBias = context.parameter("\(name).visible_bias", shape: [visible], initializer: .constant(0),
                                        fanIn: hidden, fanOut: visible)
        return [hidden]
    }

    /// `P(h = 1 | v) = sigmoid(v W^T + b)` for `v` `[batch, visible]` into `output` `[batch, hidden]`.
    public func hiddenProbabilities(_ v: Tensor, into output: Tensor) throws {
        let backend = output.backend, rows = v.batch
        try backend.gemm(transA: false, transB: true, m: rows, n: hidden, k: visible, alpha: 1, a: v, lda: visible,
                         b: weight.value, ldb: visible, beta: 0, c: output, ldc: hidden)
        try backend.biasAdd(data: output, bias: bias.value, outer: rows, channels: hidden, inner: 1)
        try backend.activationForward(.sigmoid, input: output, output: output)
    }

    /// `P(v = 1 | h) = sigmoid(h W + c)` for `h` `[batch, hidden]` into `output` `[batch, visible]`.
    public func visibleProbabilities(_ h: Tensor, into output: Tensor) throws {
        let backend = output.backend, rows = h.batch
        try backend.gemm(transA: false, transB: false, m: rows, n: visible, k: hidden, alpha: 1, a: h, lda: hidden,
                         b: weight.value, ldb: visible, beta: 0, c: output, ldc: visible)
        try backend.biasAdd(data: output, bias: visibleBias.value, outer: rows, channels: visible, inner: 1)
        try backend.activationForward(.sigmoid, input: output, output: output)
    }

    /// The free energy `F(v) = -c^T v - sum_j softplus((v W^T + b)_j)` of each row of `v` into `output` `[batch]`,
    /// using `call`'s buffers; `p(v)` is proportional to `exp(-F(v))`.
    public func freeEnergy(_ v: Tensor, into output: Tensor, call: LayerCall) throws {
        let backend = call.backend, rows = v.batch
        let z = try call.tensor("freeEnergyHidden", shape: [rows, hidden]), ones = try call.tensor("ones", shape: [hidden])
        try backend.gemm(transA: false, transB: true, m: rows, n: hidden, k: visible, alpha: 1, a: v, lda: visible,
                         b: weight.value, ldb: visible, beta: 0, c: z, ldc: hidden)
        try backend.biasAdd(data: z, bias: bias.value, outer: rows, channels: hidden, inner: 1)
        try backend.activationForward(.softplus, input: z, output: z)
        try backend.fill(ones, value: 1)
        try backend.gemm(transA: false, transB: false, m: rows, n: 1, k: visible, alpha: -1, a: v, lda: visible,
                         b: visibleBias.value, ldb: 1, beta: 0, c: output, ldc: 1)
        try backend.gemm(transA: false, transB: false, m: rows, n: 1, k: hidden, alpha: -1, a: z, lda: hidden,
                         b: ones, ldb: 1, beta: 1, c: output, ldc: 1)
    }

    public func forward(_ v: Tensor, _ call: LayerCall) throws -> Tensor {
        let y = try call.tensor("output", shape: [v.batch, hidden])
        try hiddenProbabilities(v, into: y)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        let backend = call.backend, v = call.input, rows = v.batch
        let y = try call.tensor("output", shape: [rows, hidden]), dz = try call.tensor("gradPreActivation", shape: [rows, hidden])
        try backend.activationBackward(.sigmoid, input: y, output: y, gradOutput: dy, gradInput: dz)
        try backend.gemm(transA: true, transB: false, m: hidden, n: visible, k: rows, alpha: 1, a: dz, lda: hidden,
                         b: v, ldb: visible, beta: weight.gradientBeta(), c: weight.gradient, ldc: visible)
        try backend.biasGradient(gradOutput: dz, gradBias: bias.gradient, outer: rows, channels: hidden, inner: 1,
                                 accumulate: bias.gradientBeta() == 1)
        guard call.needsInputGradient else { return nil }
        let dv = try call.tensor("gradInput", shape: v.shape)
        try backend.gemm(transA: false, transB: false, m: rows, n: visible, k: hidden, alpha: 1, a: dz, lda: hidden,
                         b: weight.value, ldb: visible, beta: 0, c: dv, ldc: visible)
        return dv
    }
}

extension RBM {
    /// Draws `count` samples from a stack of RBMs, bottom first (one RBM, or a deep belief net's generative model):
    /// `steps` steps of alternating Gibbs sampling in the top RBM, from visible units drawn uniformly at random,
    /// then a pass down through the lower RBMs' `P(v | h)`. Returns the bottom visible probabilities, `count` rows.
    /// Every draw comes from Philox at `address`, so the same address gives the same samples on every device.
    public static func sample(_ stack: [RBM], count: Int, steps: Int, address: PhiloxAddress, backend: Backend) throws -> [Float] {
        guard let top = stack.last, stack.allSatisfy({ $0.weight != nil }) else {
            throw NNError.invalidModel("sampling needs a stack of built RBMs")
        }
        guard count > 0, (1...1_000_000).contains(steps) else {
            throw NNError.invalidSetting(name: "sampling", message: "needs at least one sample and 1...1000000 Gibbs steps, got \(count) and \(steps)")
        }
        for (lower, upper) in zip(stack, stack.dropFirst()) where lower.hidden != upper.visible {
            throw NNError.invalidModel("RBM '\(upper.name)' has \(upper.visible) visible units but '\(lower.name)' below it has \(lower.hidden) hidden")
        }
        var address = address
        func bernoulli(_ p: Tensor, into output: Tensor) throws {
            try backend.bernoulli(probabilities: p, output: output, address: address)
            address = address.advanced(by: p.count)
        }
        let v = try backend.tensor(shape: [count, top.visible]), pv = try backend.tensor(shape: [count, top.visible])
        let h = try backend.tensor(shape: [count, top.hidden])
        try backend.fill(pv, value: 0.5)
        try bernoulli(pv, into: v)
        for _ in 0..<steps {
            try top.hiddenProbabilities(v, into: h)
            try bernoulli(h, into: h)
            try top.visibleProbabilities(h, into: pv)
            try bernoulli(pv, into: v)
        }
        var current = pv
        for rbm in stack.dropLast().reversed() {
            let below = try backend.tensor(shape: [count, rbm.visible])
            try rbm.visibleProbabilities(current, into: below)
            current = below
        }
        return try backend.download(current)
    }
}
