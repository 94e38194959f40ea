import Foundation
import SynapseCore

/// An objective that keeps state from step to step (persistent Gibbs chains), which a checkpoint must hold for a
/// resumed run to continue exactly. Checkpoints store each tensor as `objective.<name>`.
public protocol StatefulObjective: Objective {
    /// The state as device tensors by name, allocated for `model` if need be.
    func state(for model: Graph) throws -> [String: Tensor]
}

/// Trains the last layer of a model, an `RBM`, by contrastive divergence (Hinton 2002): CD-k, or persistent CD
/// (Tieleman 2008) whose chains carry on from step to step. Whatever comes before the RBM (a deep belief net's
/// lower layers, held frozen) turns each example into the RBM's visible vector `v0`. A step runs the chain
/// `h ~ P(h | v)`, `v ~ P(v | h)` for `gibbsSteps` steps from `h ~ P(h | v0)` (or from the persistent chains), and
/// the gradient is `-(<v h>_data - <v h>_chain)` (and likewise for the biases), with hidden probabilities rather
/// than samples in both statistics, as Hinton's guide advises. Every sample comes from Philox (a stream per epoch,
/// a fixed stretch per batch), so runs agree bit for bit in their draws on every device.
///
/// The loss reported is the reconstruction error `||v0 - P(v | h0)||^2` per example. `evaluate` adds the mean free
/// energy and the pseudo-likelihood, estimated as scikit-learn's `BernoulliRBM.score_samples` does: for each example
/// one visible unit `i`, drawn from Philox, is flipped, and `visible * log sigmoid(F(v with i flipped) - F(v))`.
public final class ContrastiveDivergence: StatefulObjective {
    /// The examples; inputs are the data the model reads, in [0, 1] at the RBM (binary, or probabilities).
    public let train: TensorDataset
    /// The held-out examples `evaluate` reports on; nil for none.
    public let test: TensorDataset?
    /// The RBM trained: the model's last layer.
    public let rbm: RBM
    /// Gibbs steps per update, k in CD-k.
    public let gibbsSteps: Int
    /// Chains that persist from one update to the next (PCD), at least one per example of a batch; 0 for CD,
    /// whose chains start at the data.
    public let persistentChains: Int
    /// Whether the chains persist (PCD).
    public var persistent: Bool { persistentChains > 0 }
    /// Whether each epoch visits the examples in a new order drawn from Philox.
    public let shuffle: Bool
    /// The name of the evaluation metric holding the pseudo-likelihood.
    public static let pseudoLikelihood = "pseudo-likelihood"
    /// The name of the metric holding the reconstruction error per example.
    public static let reconstructionError = "reconstruction error"
    /// The name of the metric holding the mean free energy.
    public static let freeEnergy = "free energy"
    /// The name of the metric holding the hidden units' mean activation `P(h = 1 | v)`: near 0 or 1, the units
    /// have died (saturated), and the RBM codes nothing.
    public static let meanHidden = "mean hidden activation"

    private var call: LayerCall?
    private var uploads: LayerCall?
    private var chainState: Tensor?
    private var epoch = 0, batchSize = 0, rows = 0
    private var visibleName = ""

    /// CD-`gibbsSteps` on `train` (persistent, with `persistentChains` chains, when that is positive), evaluated on
    /// `test` when given.
    public init(train: TensorDataset, test: TensorDataset? = nil, rbm: RBM, gibbsSteps: Int = 1, persistentChains: Int = 0,
                shuffle: Bool = true) throws {
        guard (1...10_000).contains(gibbsSteps) else {
            throw NNError.invalidSetting(name: "--gibbs-steps", message: "must be in 1...10000, got \(gibbsSteps)")
        }
        guard persistentChains >= 0 else {
            throw NNError.invalidSetting(name: "persistent chains", message: "must not be negative, got \(persistentChains)")
        }
        self.persistentChains = persistentChains
        self.train = train
        self.test = test
        self.rbm = rbm
        self.gibbsSteps = gibbsSteps
        self.shuffle = shuffle
    }

    public var dataDescription: String { "\(train.name) \(train.count) examples" }
    public var exampleName: String { "examples" }

    public func check(model: Graph) throws {
        guard let last = model.nodes.last, last.layer === rbm, model.outputNames == last.outputs else {
            throw NNError.invalidModel("contrastive divergence trains an RBM that is the model's last layer and only output")
        }
        let inputName = try model.singleInputAndOutput(for: "contrastive divergence").input
        for data in [train] + (test.map { [$0] } ?? []) where data.inputShape != model.shapes[inputName]! {
            throw NNError.invalidSetting(name: "data", message:
                "\(data.name) holds \(describe(data.inputShape)) examples; the model takes \(describe(model.shapes[inputName]!))")
        }
        visibleName = last.inputs[0]
    }

    public func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        self.epoch = epoch
        self.batchSize = batchSize
        return try train.batches(epoch: epoch, seed: seed, batchSize: batchSize, shuffle: shuffle)
    }

    private func buffers(_ model: Graph) -> LayerCall {
        if let call, call.backend === model.backend { return call }
        let fresh = LayerCall(backend: model.backend)
        call = fresh
        return fresh
    }

    public func state(for model: Graph) throws -> [String: Tensor] {
        guard persistent else { return [:] }
        return ["chains": try chains(model)]
    }

    /// The persistent chains' hidden states, a row per chain; zeros when first made (as scikit-learn's).
    private func chains(_ model: Graph) throws -> Tensor {
        if let chainState, chainState.backend === model.backend { return chainState }
        let fresh = try model.backend.tensor(shape: [persistentChains, rbm.hidden])
        try model.backend.fill(fresh, value: 0)
        chainState = fresh
        return fresh
    }

    public func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        let backend = model.backend, call = buffers(model)
        let uploads = self.uploads.flatMap { $0.backend === backend ? $0 : nil } ?? LayerCall(backend: backend)
        self.uploads = uploads
        let x = try train.uploadInputs(batch.samples, call: uploads)
        let inputName = model.inputNames[0]
        let dataHidden = try model.forward([inputName: x], training: true)[rbm.name]!
        let v0 = model.lastTensor(visibleName)!
        rows = x.batch
        guard !persistent || rows <= persistentChains else {
            throw NNError.invalidSetting(name: "persistent chains", message:
                "\(persistentChains) chains cannot serve a batch of \(rows); give at least one per example")
        }
        let (visible, hidden) = (rbm.visible, rbm.hidden)
        // Each batch draws from its own stretch of the epoch's stream, so the draws do not depend on what ran before.
        let perBatch = UInt64(max(batchSize, rows) * (visible + hidden) * (gibbsSteps + 1))
        var address = PhiloxAddress(seed: model.seed, stream: RandomStream.gibbs(epoch: epoch),
                                    counter: UInt64(batch.index) * perBatch)
        func sample(_ probabilities: Tensor, into output: Tensor) throws {
            try backend.bernoulli(probabilities: probabilities, output: output, address: address)
            address = address.advanced(by: probabilities.count)
        }
        let v = try call.tensor("visibleSample", shape: [rows, visible])
        let pv = try call.tensor("visibleProbabilities", shape: [rows, visible])
        let ph = try call.tensor("chainHidden", shape: [rows, hidden])
        let reconstruction = try call.tensor("reconstruction", shape: [rows, visible])
        // The chains' hidden states are sampled in place: persistent chains carry on from where they are.
        let h = persistent ? try chains(model).rows(0..<rows) : try call.tensor("hiddenSample", shape: [rows, hidden])
        if !persistent { try sample(dataHidden, into: h) }
        for step in 1...gibbsSteps {
            try rbm.visibleProbabilities(h, into: pv)
            if step == 1 {
                // The reconstruction error is measured from the data, whatever chain the update follows.
                if persistent {
                    let h0 = try call.tensor("dataHiddenSample", shape: [rows, hidden])
                    try sample(dataHidden, into: h0)
                    try rbm.visibleProbabilities(h0, into: reconstruction)
                } else {
                    try backend.copy(from: pv, to: reconstruction)
                }
            }
            try sample(pv, into: v)
            try rbm.hiddenProbabilities(v, into: ph)
            if step < gibbsSteps || persistent { try sample(ph, into: h) }
        }
        let loss = try call.tensor("loss", shape: [1])
        try backend.axpy(alpha: -1, x: v0, y: reconstruction)
        try backend.sumOfSquares(reconstruction, result: loss)
        try backend.scale(loss, by: 1 / Float(rows))
        return loss
    }

    /// Writes `-(<v h>_data - <v h>_chain) / rows` into the RBM's gradients (and zeros into any frozen layer's).
    public func backward(model: Graph) throws {
        guard rows > 0, let call else { throw NNError.invalidModel("contrastive divergence: backward called before forward") }
        let backend = model.backend, (visible, hidden) = (rbm.visible, rbm.hidden), scale = 1 / Float(rows)
        let v0 = model.lastTensor(visibleName)!, h0 = model.lastTensor(rbm.name)!
        let vk = try call.tensor("visibleSample", shape: [rows, visible]), hk = try call.tensor("chainHidden", shape: [rows, hidden])
        let weight = rbm.weight!
        try backend.gemm(transA: true, transB: false, m: hidden, n: visible, k: rows, alpha: -scale, a: h0, lda: hidden,
                         b: v0, ldb: visible, beta: weight.gradientBeta(), c: weight.gradient, ldc: visible)
        try backend.gemm(transA: true, transB: false, m: hidden, n: visible, k: rows, alpha: scale, a: hk, lda: hidden,
                         b: vk, ldb: visible, beta: 1, c: weight.gradient, ldc: visible)
        for (bias, data, chain, width) in [(rbm.bias!, h0, hk, hidden), (rbm.visibleBias!, v0, vk, visible)] {
            let sums = try call.tensor("sums\(width == hidden ? "Hidden" : "Visible")", shape: [2, width])
            try backend.biasGradient(gradOutput: chain, gradBias: sums.rows(0..<1), outer: rows, channels: width, inner: 1,
                                     accumulate: false)
            try backend.biasGradient(gradOutput: data, gradBias: sums.rows(1..<2), outer: rows, channels: width, inner: 1,
                                     accumulate: false)
            try backend.axpy(alpha: -1, x: sums.rows(1..<2), y: sums.rows(0..<1))
            try backend.scale(sums.rows(0..<1), by: scale)
            if bias.gradientBeta() == 0 {
                try backend.copy(from: sums.rows(0..<1).reshaped([width]), to: bias.gradient)
            } else {
                try backend.axpy(alpha: 1, x: sums.rows(0..<1).reshaped([width]), y: bias.gradient)
            }
        }
        try model.arena.completeGradients()
        rows = 0
    }

    public func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        guard let test else { return nil }
        return try Self.evaluate(model: model, rbm: rbm, on: test, batchSize: batchSize)
    }

    /// Reconstruction error per example (`||v - P(v | P(h | v))||^2`, no sampling), mean free energy, the hidden
    /// units' mean activation and the pseudo-likelihood estimate of `rbm` (the last layer of `model`) on `data`. The flipped units come from a
    /// fixed Philox stream, so the figure is the same on every run and device.
    public static func evaluate(model: Graph, rbm: RBM, on data: TensorDataset, batchSize: Int) throws -> Evaluation {
        guard let node = model.nodes.last, node.layer === rbm else {
            throw NNError.invalidModel("contrastive divergence evaluates an RBM that is the model's last layer")
        }
        let backend = model.backend, call = LayerCall(backend: backend), visible = rbm.visible
        let flips = Philox.words(PhiloxAddress(seed: model.seed, stream: RandomStream.pseudoLikelihood), count: data.count)
        var squaredError = 0.0, energy = 0.0, pseudoLikelihood = 0.0, hiddenSum = 0.0
        for batch in try data.batches(epoch: 0, seed: 0, batchSize: batchSize, shuffle: false) {
            let x = try data.uploadInputs(batch.samples, call: call)
            let h = try model.forward([model.inputNames[0]: x], training: false)[rbm.name]!
            let v = model.lastTensor(node.inputs[0])!, rows = x.batch
            let pv = try call.tensor("reconstruction", shape: [rows, visible]), total = try call.tensor("total", shape: [1])
            try backend.sum(h, result: total)
            hiddenSum += Double(try backend.readScalar(total))
            try rbm.visibleProbabilities(h, into: pv)
            try backend.axpy(alpha: -1, x: v, y: pv)
            try backend.sumOfSquares(pv, result: total)
            squaredError += Double(try backend.readScalar(total))
            // F(v) and F(v with one unit flipped), the flip made on the host where the visible vectors are.
            var flipped = try backend.download(v)
            for (row, sample) in batch.samples.enumerated() {
                let i = row * visible + Int((UInt64(flips[sample]) * UInt64(visible)) >> 32)
                flipped[i] = 1 - flipped[i]
            }
            let vFlipped = try call.tensor("flipped", shape: [rows, visible])
            try backend.upload(flipped, to: vFlipped)
            let f = try call.tensor("freeEnergy", shape: [rows]), fFlipped = try call.tensor("freeEnergyFlipped", shape: [rows])
            try rbm.freeEnergy(v, into: f, call: call)
            try rbm.freeEnergy(vFlipped, into: fFlipped, call: call)
            for (a, b) in zip(try backend.download(f), try backend.download(fFlipped)) {
                energy += Double(a)
                let d = Double(b) - Double(a)   // log sigmoid(d), stably
                pseudoLikelihood += Double(visible) * (min(d, 0) - log1p(exp(-abs(d))))
            }
        }
        let n = Double(data.count)
        return Evaluation(loss: squaredError / n, metrics: [Self.reconstructionError: squaredError / n,
                                                            Self.freeEnergy: energy / n,
                                                            Self.meanHidden: hiddenSum / (n * Double(rbm.hidden)),
                                                            Self.pseudoLikelihood: pseudoLikelihood / n])
    }
}
