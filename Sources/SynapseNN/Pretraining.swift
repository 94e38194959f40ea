import SynapseCore

/// A deep sigmoid network pretrained greedily, one layer at a time (Hinton & Salakhutdinov 2006, Bengio et al.
/// 2007): each layer is trained without labels on the codes of the layers below it, which are held frozen, as an
/// autoencoder (stacked autoencoders; with masking noise, Vincent et al.'s stacked denoising autoencoders) or as an
/// RBM (a deep belief net, Hinton, Osindero & Teh 2006). Then the decoders are dropped, a classifier layer is put on
/// top and the whole stack is fine-tuned with backpropagation. The layers are named as in the classifier (`fc1`,
/// `act1`, ...), so the pretrained weights move into it by name.
public struct LayerwiseStack: Sendable {
    /// What each layer is pretrained as.
    public enum Unit: Sendable, Equatable {
        /// An autoencoder with a linear decoder (tied to the encoder when `tied`), an optional KL sparsity penalty
        /// (target activation and weight; a weight of 0 for none) and masking noise (`corruption`, 0 for none).
        case autoencoder(tied: Bool, sparsityTarget: Float, sparsityWeight: Float, corruption: Float)
        /// An RBM trained by CD-`gibbsSteps`, persistent (one chain per example of a batch) when `persistent`.
        case rbm(gibbsSteps: Int, persistent: Bool)
    }

    /// The width of each hidden layer, bottom up.
    public let widths: [Int]
    /// What each layer is pretrained as.
    public let unit: Unit

    /// A stack of sigmoid layers of `widths`, each pretrained as `unit`.
    public init(widths: [Int], unit: Unit) throws {
        guard !widths.isEmpty, widths.allSatisfy({ $0 > 0 }) else {
            throw NNError.invalidSetting(name: "--widths", message: "a stack needs at least one layer, each of positive width; got \(widths)")
        }
        self.widths = widths
        self.unit = unit
    }

    /// One line on how each layer is pretrained: `denoising autoencoder (masking 0.2), tied weights`.
    public var unitDescription: String {
        switch unit {
        case let .autoencoder(tied, target, weight, corruption):
            var parts = [corruption > 0 ? "denoising autoencoder (masking \(corruption))" : "autoencoder"]
            if weight > 0 { parts.append("sparsity rho \(target), beta \(weight)") }
            if tied { parts.append("tied weights") }
            return parts.joined(separator: ", ")
        case let .rbm(steps, persistent):
            return "RBM, \(persistent ? "persistent " : "")CD-\(steps)"
        }
    }

    /// The network that is fine-tuned: `Flatten`, then `fc<i>` (`Dense`) and `act<i>` (sigmoid) per width, then
    /// `fc<n+1>` to `classes` logits.
    public func classifier(classes: Int) -> [Layer] {
        Models.mlp(hidden: widths, classes: classes, activation: .sigmoid)
    }

    /// The model that pretrains layer `layer` (from 1): the layers below, frozen, then this one as an autoencoder
    /// (`fc<k>`, `act<k>`, then the decoder `decoder<k>`) or as an RBM (`fc<k>`). Below an autoencoder the layers are
    /// the classifier's (`fc<i>`, `act<i>`); below an RBM they are the RBMs trained before (`fc<i>`, whose forward
    /// pass is the same), so that the last phase's model is the whole deep belief net, generative model included.
    public func pretrainingModel(layer k: Int, inputShape: [Int], backend: Backend, seed: UInt64) throws -> Sequential {
        guard widths.indices.contains(k - 1) else {
            throw NNError.invalidSetting(name: "layer", message: "the stack has layers 1...\(widths.count), not \(k)")
        }
        let below: [Layer]
        if case .rbm = unit {
            below = [Flatten(name: "flatten")] + widths.prefix(k - 1).enumerated().map { RBM(hidden: $1, name: "fc\($0 + 1)") }
        } else {
            below = Array(classifier(classes: 1).prefix(1 + 2 * (k - 1)))
        }
        let width = widths[k - 1], inputs = k == 1 ? inputShape.reduce(1, *) : widths[k - 2]
        var layers = below
        switch unit {
        case let .autoencoder(tied, sparsityTarget, sparsityWeight, corruption):
            let encoder = Dense(width, name: "fc\(k)", weightInit: .xavierUniform)
            if corruption > 0 { layers.append(Corruption(masking: corruption, name: "corrupt\(k)")) }
            layers += [encoder, ActivationLayer(.sigmoid, name: "act\(k)")]
            if sparsityWeight > 0 {
                layers.append(SparsityPenalty(target: sparsityTarget, weight: sparsityWeight, name: "sparsity\(k)"))
            }
            layers.append(tied ? TiedDense(transposing: encoder, name: "decoder\(k)")
                               : Dense(inputs, name: "decoder\(k)", weightInit: .xavierUniform))
        case .rbm:
            layers.append(RBM(hidden: width, name: "fc\(k)"))
        }
        let model = try Sequential(inputShape: inputShape, layers: layers, backend: backend, seed: seed)
        for layer in below { for p in layer.parameters { p.isFrozen = true } }
        return model
    }

    /// The objective that pretrains layer `k` of `model` (from `pretrainingModel`) on `train`, evaluated on `test`:
    /// reconstruction of the layer's input, or contrastive divergence with `batchSize` persistent chains for PCD.
    public func pretrainingObjective(layer k: Int, model: Sequential, train: TensorDataset, test: TensorDataset?,
                                     batchSize: Int) throws -> Objective {
        switch unit {
        case .autoencoder:
            return LayerwiseReconstruction(train: train, test: test, target: k == 1 ? "flatten" : "act\(k - 1)")
        case let .rbm(gibbsSteps, persistent):
            guard let rbm = model.layers.last as? RBM else {
                throw NNError.invalidModel("layer \(k) of a deep belief net must be an RBM")
            }
            return try ContrastiveDivergence(train: train, test: test, rbm: rbm, gibbsSteps: gibbsSteps,
                                             persistentChains: persistent ? batchSize : 0)
        }
    }

    /// Copies into `target` the value of every parameter that `source` has under the same name and shape (the
    /// pretrained layers into the next model); returns the names copied.
    @discardableResult
    public static func transfer(from source: Graph, to target: Graph) throws -> [String] {
        let byName = Dictionary(uniqueKeysWithValues: source.parameters.map { ($0.name, $0) })
        var copied: [String] = []
        for p in target.parameters {
            guard let q = byName[p.name], q.shape == p.shape else { continue }
            if q.value.backend === p.value.backend {
                try p.value.backend.copy(from: q.value, to: p.value)
            } else {
                try p.value.backend.upload(try q.value.backend.download(q.value), to: p.value)
            }
            copied.append(p.name)
        }
        return copied
    }
}

/// Reconstruction of a tensor inside the model (a layer's input, during layer-wise pretraining): the squared
/// error `1/2 ||output - target||^2` (batch mean) of the model's output against the tensor named `target` of the
/// same forward pass, plus the penalties of the model's `PenaltyLayer`s. The target is a constant: no gradient
/// flows into it from the loss. Its metric is the mean squared error per value.
public final class LayerwiseReconstruction: Objective {
    /// The examples the model reads.
    public let train: TensorDataset
    /// The held-out examples `evaluate` reports on; nil for none.
    public let test: TensorDataset?
    /// The tensor reconstructed: a model input or a layer's output.
    public let target: String
    /// Whether each epoch visits the examples in a new order drawn from Philox.
    public let shuffle: Bool
    private var loss: SquaredError?
    private var uploads: LayerCall?
    private var outputName = ""

    /// Reconstruction of tensor `target` on `train`, evaluated on `test` when given.
    public init(train: TensorDataset, test: TensorDataset? = nil, target: String, shuffle: Bool = true) {
        self.train = train
        self.test = test
        self.target = target
        self.shuffle = shuffle
    }

    /// The name of the metric holding the mean squared error per value.
    public static let meanSquaredError = "mean squared error"

    public var dataDescription: String { "\(train.name) \(train.count) examples" }
    public var exampleName: String { "examples" }

    public func check(model: Graph) throws {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "reconstruction")
        guard let targetShape = model.shapes[target] else {
            throw NNError.invalidModel("reconstruction target '\(target)' is no tensor of the model")
        }
        guard targetShape.reduce(1, *) == model.shapes[outputName]!.reduce(1, *) else {
            throw NNError.invalidModel("the model's output \(describe(model.shapes[outputName]!)) cannot reconstruct '\(target)' \(describe(targetShape))")
        }
        for data in [train] + (test.map { [$0] } ?? []) where data.inputShape != model.shapes[inputName]! {
            throw NNError.invalidSetting(name: "data", message:
                "\(data.name) holds \(describe(data.inputShape)) examples; the model takes \(describe(model.shapes[inputName]!))")
        }
    }

    public func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        try train.batches(epoch: epoch, seed: seed, batchSize: batchSize, shuffle: shuffle)
    }

    public func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        let call = uploads.flatMap { $0.backend === model.backend ? $0 : nil } ?? LayerCall(backend: model.backend)
        uploads = call
        let x = try train.uploadInputs(batch.samples, call: call)
        let loss = self.loss ?? SquaredError(backend: model.backend)
        self.loss = loss
        let total = try reconstruction(x, model: model, loss: loss, training: true)
        try model.addPenalties(to: total)
        return total
    }

    private func reconstruction(_ x: Tensor, model: Graph, loss: SquaredError, training: Bool) throws -> Tensor {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "reconstruction")
        let output = try model.forward([inputName: x], training: training)[outputName]!
        self.outputName = outputName
        return try loss.forward(output, targets: model.lastTensor(target)!)
    }

    public func backward(model: Graph) throws {
        guard let loss else { throw NNError.invalidModel("reconstruction: backward called before forward") }
        try model.backward([outputName: try loss.backward()])
    }

    public func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        guard let test else { return nil }
        let loss = SquaredError(backend: model.backend), call = LayerCall(backend: model.backend)
        var total = 0.0
        for batch in try test.batches(epoch: 0, seed: 0, batchSize: batchSize, shuffle: false) {
            let x = try test.uploadInputs(batch.samples, call: call)
            total += Double(try model.backend.readScalar(reconstruction(x, model: model, loss: loss, training: false)))
                * Double(batch.examples)
        }
        let mean = total / Double(test.count), values = model.shapes[target]!.reduce(1, *)
        return Evaluation(loss: mean, metrics: [Self.meanSquaredError: 2 * mean / Double(values)])
    }
}
