import SynapseCore

/// The networks Synapse ships, by the name the command line uses.
public enum ModelKind: String, CaseIterable, Sendable {
    /// Rosenblatt's perceptron: one threshold unit per class over the pixels, trained by the perceptron rule
    /// one image at a time; the predicted class is the unit with the largest score.
    case perceptron
    /// Softmax regression (multinomial logistic regression) with L2 weight decay: the linear baseline.
    case softmax
    /// Multilayer perceptron, 784-512-256-10 with ReLU and dropout 0.5 by default.
    case mlp
    /// LeNet-style CNN for 28x28 input: conv5x5-6 pad 2, pool, conv5x5-16, pool, fc120, fc84, fc10 (ReLU, max-pool).
    case lenet
    /// LeNet-5 as LeCun et al. (1998) built it: C1, trainable subsampling S2, C3 with the paper's connection table,
    /// S4, C5, F6, the scaled tanh, and Euclidean RBF outputs against fixed +-1 prototypes (`Models.lenet5`).
    case lenet5
    /// AlexNet as Krizhevsky et al. and Caffe's bvlc_alexnet define it, for 227x227x3 input.
    case alexnet
    /// A small AlexNet-style net (ReLU, LRN, overlapping pooling, a grouped convolution, dropout) for
    /// 28x28 or 32x32 input that trains in minutes on a CPU.
    case alexnetSmall = "alexnet-small"
    /// A character-level language model (char-rnn, torch-rnn's defaults): an embedding of 64, two LSTM layers of
    /// 128 that carry their state from batch to batch, and a linear layer to the next character's logits.
    case charLSTM = "char-lstm"
    /// An autoencoder of the standardised pixels: one layer of sigmoid codes and a linear decoder; tied, sparse or
    /// denoising as the settings say. Learns without labels; its metric is the reconstruction error.
    case autoencoder
    /// A restricted Boltzmann machine on the binarised pixels, trained by contrastive divergence (CD-k or PCD).
    /// Learns without labels; its metric is the pseudo-likelihood.
    case rbm
    /// Stacked autoencoders (denoising, sparse or tied as the settings say), pretrained one layer at a time,
    /// then fine-tuned as a sigmoid classifier.
    case stackedAutoencoder = "stacked-autoencoder"
    /// A deep belief net: RBMs on the binarised pixels pretrained one layer at a time, then fine-tuned as a
    /// sigmoid classifier.
    case dbn
    /// Sparse coding (Olshausen & Field) of patches of photographs: a dictionary of unit-norm atoms and L1-sparse
    /// codes (`SparseCoder`). Reads PNG and JPEG files, not the image data sets.
    case sparseCoding = "sparse-coding"

    /// The model named `name`, in any case; an unknown name throws `NNError.invalidSetting` listing the known ones.
    public init(parsing name: String) throws {
        guard let kind = ModelKind(rawValue: name.lowercased()) else {
            throw NNError.invalidSetting(name: "--model", message:
                "unknown model '\(name)'; available: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = kind
    }

    /// Whether the model is trained layer by layer (`LayerwiseStack`): autoencoders, RBMs and their stacks.
    public var isLayerwise: Bool { [.autoencoder, .rbm, .stackedAutoencoder, .dbn].contains(self) }
    /// Whether the model is an autoencoder or a stack of them.
    public var isAutoencoder: Bool { self == .autoencoder || self == .stackedAutoencoder }
    /// Whether the model learns without labels and has no classifier: the single autoencoder and RBM.
    public var isUnsupervised: Bool { self == .autoencoder || self == .rbm }
    /// Whether the model is made of RBMs, whose visible units take values in [0, 1].
    public var isBoltzmann: Bool { self == .rbm || self == .dbn }

    /// How the model's pixels are prepared.
    public var pixels: PixelScaling {
        switch self {
        case .rbm: return .binarized
        case .dbn: return .unitInterval
        case .lenet5: return .lecun
        default: return .standardized
        }
    }

    /// The stack `settings` describe, for a layer-wise model; nil for the others.
    public func stack(_ settings: RunSettings) throws -> LayerwiseStack? {
        switch self {
        case .autoencoder, .stackedAutoencoder:
            return try LayerwiseStack(widths: settings.widths, unit: .autoencoder(
                tied: settings.tied, sparsityTarget: settings.sparsityTarget, sparsityWeight: settings.sparsityWeight,
                corruption: settings.corruption))
        case .rbm, .dbn:
            return try LayerwiseStack(widths: settings.widths, unit: .rbm(gibbsSteps: settings.gibbsSteps,
                                                                          persistent: settings.persistent))
        default:
            return nil
        }
    }

    /// The layers of this model for `classes` outputs, unbuilt; nil for a layer-wise model, which `build` makes
    /// from its stack.
    private func layers(classes: Int) -> [Layer]? {
        switch self {
        case .perceptron: return [Flatten(name: "flatten"), Dense(classes, name: "units", weightInit: .constant(0))]
        case .softmax: return Models.mlp(hidden: [], classes: classes)
        case .mlp: return Models.mlp(hidden: [512, 256], classes: classes, dropout: 0.5)
        case .lenet: return Models.lenet(classes: classes)
        case .lenet5: return Models.lenet5(classes: classes)
        case .alexnet: return Models.alexNet(classes: classes)
        case .alexnetSmall: return Models.smallAlexNet(classes: classes)
        case .charLSTM: return Models.charLSTM(vocabulary: classes)
        case .autoencoder, .rbm, .stackedAutoencoder, .dbn, .sparseCoding: return nil
        }
    }

    /// Whether the model reads text (characters) rather than images.
    public var readsText: Bool { self == .charLSTM }

    /// Builds the model for per-sample `inputShape` on `backend`, with its per-parameter learning-rate and
    /// decay multipliers set. A layer-wise model is built as `settings` describe it (its defaults when nil): the
    /// single autoencoder or RBM as it trains, a stack as the classifier it becomes.
    public func build(inputShape: [Int], classes: Int, backend: Backend, seed: UInt64,
                      settings: RunSettings? = nil) throws -> Sequential {
        if isLayerwise {
            var defaults = RunSettings()
            defaults.useDefaults(for: self)
            let stack = try stack(settings ?? defaults)!
            if isUnsupervised { return try stack.pretrainingModel(layer: 1, inputShape: inputShape, backend: backend, seed: seed) }
            return try Sequential(inputShape: inputShape, layers: stack.classifier(classes: classes), backend: backend, seed: seed)
        }
        if self == .alexnet, inputShape != [3, 227, 227] {
            throw NNError.invalidSetting(name: "--model", message:
                "alexnet takes [3, 227, 227] images, the data has \(describe(inputShape)); for small images use alexnet-small")
        }
        let model = try Sequential(inputShape: inputShape, layers: layers(classes: classes)!, backend: backend, seed: seed)
        if self == .alexnet || self == .alexnetSmall { Models.useCaffeBiasMultipliers(model) }
        if self == .lenet5 { Models.useLeNet5Multipliers(model) }
        return model
    }
}

/// How image models see their pixels.
public enum PixelScaling: Sendable {
    /// Mean 0 and standard deviation 1 per channel, with the statistics of the training set.
    case standardized
    /// Intensities in [0, 1] as they are, read by an RBM as the probabilities of its visible units (as Hinton and
    /// Salakhutdinov trained deep belief nets on MNIST).
    case unitInterval
    /// 1 where the intensity is at least 0.5, else 0: binary visible units (as scikit-learn's RBM example).
    case binarized
    /// LeCun et al. 1998: the background at -0.1 and the foreground at 1.175 (`1.275 x - 0.1`), so that the inputs'
    /// mean is about 0 and their variance about 1.
    case lecun

    /// The normalisation that gives this scaling from intensities in [0, 1] (`binarized` then thresholds them).
    public func normalization(fitting train: Dataset) throws -> Normalization {
        let channels = train.sampleShape[0]
        func constant(_ mean: Float, _ std: Float) throws -> Normalization {
            try Normalization(mean: [Float](repeating: mean, count: channels), std: [Float](repeating: std, count: channels))
        }
        switch self {
        case .standardized: return Normalization.fit(train)
        case .unitInterval, .binarized: return try constant(0, 1)
        case .lecun: return try constant(0.1 / 1.275, 1 / 1.275)
        }
    }
}

/// Constructors for the standard networks.
public enum Models {
    /// The classifier layer's weights, as bvlc_alexnet draws fc8's: small enough that a fresh model's logits
    /// are near zero and its first loss is ln(classes), whatever the scale of the features below it (He
    /// initialisation keeps them at the input's scale, and max pooling enlarges them).
    static let outputInit = Initializer.gaussian(mean: 0, std: 0.01)

    /// Flatten, then `Dense -> ReLU -> Dropout` per hidden width, then a `Dense` to `classes` logits.
    /// `dropout` 0 leaves the dropout layers out.
    public static func mlp(hidden: [Int], classes: Int, activation: Activation = .relu, dropout: Float = 0) -> [Layer] {
        var layers: [Layer] = [Flatten(name: "flatten")]
        let weightInit: Initializer = activation == .relu ? .heNormal : .xavierUniform
        for (i, width) in hidden.enumerated() {
            layers.append(Dense(width, name: "fc\(i + 1)", weightInit: weightInit))
            layers.append(ActivationLayer(activation, name: "act\(i + 1)"))
            if dropout > 0 { layers.append(Dropout(dropout, name: "drop\(i + 1)")) }
        }
        layers.append(Dense(classes, name: "fc\(hidden.count + 1)", weightInit: outputInit))
        return layers
    }

    /// LeNet-style layers for 28x28 images: two 5x5 convolutions, each with ReLU and 2x2 max pooling, then three
    /// dense layers to `classes` logits.
    public static func lenet(classes: Int) -> [Layer] {
        [
            Conv2D(6, kernel: 5, padding: 2, name: "conv1", weightInit: .heNormal), ActivationLayer(.relu, name: "relu1"),
            Pool2D.max(2, name: "pool1"),
            Conv2D(16, kernel: 5, name: "conv2", weightInit: .heNormal), ActivationLayer(.relu, name: "relu2"),
            Pool2D.max(2, name: "pool2"),
            Flatten(name: "flatten"),
            Dense(120, name: "fc1", weightInit: .heNormal), ActivationLayer(.relu, name: "relu3"),
            Dense(84, name: "fc2", weightInit: .heNormal), ActivationLayer(.relu, name: "relu4"),
            Dense(classes, name: "fc3", weightInit: outputInit),
        ]
    }

    /// LeNet-5's C3 connection table (LeCun et al. 1998, Table I): the S2 maps each C3 map reads.
    public static let lenet5Connections: [[Int]] = [
        [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [0, 4, 5], [0, 1, 5],
        [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [0, 3, 4, 5], [0, 1, 4, 5], [0, 1, 2, 5],
        [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5],
    ]

    /// LeNet-5 as LeCun et al. (1998) built it, for 28x28 images (padded to the paper's 32x32 by C1, with the
    /// background value -0.1): C1 6@28x28 (5x5), S2 6@14x14 (each map's 2x2 sum times a trainable coefficient plus
    /// a bias), C3 16@10x10 through the connection table, S4 16@5x5, C5 120 (5x5 over all 16 maps), F6 84, each
    /// followed by the squashing `1.7159 tanh(2x/3)`, then `classes` Euclidean RBF units. Weights from
    /// U(-2.4/fanIn, 2.4/fanIn), as the paper's. Parameters per layer: 156, 12, 1,516, 32, 48,120, 10,164.
    public static func lenet5(classes: Int) -> [Layer] {
        let squash = { (name: String) in ActivationLayer(.scaledTanh, name: name) }
        func subsampling(_ maps: Int, _ name: String) -> Conv2D {
            Conv2D(maps, kernel: 2, stride: 2, groups: maps, sharing: .onePerChannel(maps, taps: 4), name: name,
                   weightInit: .lecunUniform, biasInit: .constant(0))
        }
        return [
            Conv2D(6, kernel: 5, padding: 2, paddingValue: -0.1, name: "c1", weightInit: .lecunUniform), squash("squash1"),
            subsampling(6, "s2"), squash("squash2"),
            Conv2D(16, kernel: 5, sharing: .connections(lenet5Connections, inputs: 6, kernelTaps: 25), name: "c3",
                   weightInit: .lecunUniform), squash("squash3"),
            subsampling(16, "s4"), squash("squash4"),
            Conv2D(120, kernel: 5, name: "c5", weightInit: .lecunUniform), squash("squash5"),
            Flatten(name: "flatten"),
            Dense(84, name: "f6", weightInit: .lecunUniform), squash("squash6"),
            EuclideanRBF(classes: classes, name: "rbf"),
        ]
    }

    /// bvlc_alexnet: LRN after the first two ReLUs, then 3x3/2 max pooling; groups 2 on conv2, conv4, conv5;
    /// Gaussian weights (std 0.01, 0.005 for fc6/fc7) and biases 0 or 0.1 as in the reference model.
    public static func alexNet(classes: Int) -> [Layer] {
        let conv: (Int, Int, Int, Int, Int, Float, String) -> Conv2D = { out, k, s, p, g, bias, name in
            Conv2D(out, kernel: k, stride: s, padding: p, groups: g, name: name,
                   weightInit: .gaussian(mean: 0, std: 0.01), biasInit: .constant(bias))
        }
        return [
            conv(96, 11, 4, 0, 1, 0, "conv1"), ActivationLayer(.relu, name: "relu1"), LRN(name: "norm1"),
            Pool2D.max(3, stride: 2, name: "pool1"),
            conv(256, 5, 1, 2, 2, 0.1, "conv2"), ActivationLayer(.relu, name: "relu2"), LRN(name: "norm2"),
            Pool2D.max(3, stride: 2, name: "pool2"),
            conv(384, 3, 1, 1, 1, 0, "conv3"), ActivationLayer(.relu, name: "relu3"),
            conv(384, 3, 1, 1, 2, 0.1, "conv4"), ActivationLayer(.relu, name: "relu4"),
            conv(256, 3, 1, 1, 2, 0.1, "conv5"), ActivationLayer(.relu, name: "relu5"),
            Pool2D.max(3, stride: 2, name: "pool5"),
            Flatten(name: "flatten"),
            Dense(4096, name: "fc6", weightInit: .gaussian(mean: 0, std: 0.005), biasInit: .constant(0.1)),
            ActivationLayer(.relu, name: "relu6"), Dropout(0.5, name: "drop6"),
            Dense(4096, name: "fc7", weightInit: .gaussian(mean: 0, std: 0.005), biasInit: .constant(0.1)),
            ActivationLayer(.relu, name: "relu7"), Dropout(0.5, name: "drop7"),
            Dense(classes, name: "fc8", weightInit: outputInit),
        ]
    }

    /// AlexNet's ingredients at MNIST/CIFAR scale: 28x28 input gives 32@28x28 -> 32@13x13 -> 64@13x13 -> 64@6x6.
    public static func smallAlexNet(classes: Int) -> [Layer] {
        [
            Conv2D(32, kernel: 5, padding: 2, name: "conv1", weightInit: .heNormal), ActivationLayer(.relu, name: "relu1"),
            LRN(name: "norm1"), Pool2D.max(3, stride: 2, name: "pool1"),
            Conv2D(64, kernel: 5, padding: 2, groups: 2, name: "conv2", weightInit: .heNormal, biasInit: .constant(0.1)),
            ActivationLayer(.relu, name: "relu2"), LRN(name: "norm2"), Pool2D.max(3, stride: 2, name: "pool2"),
            Flatten(name: "flatten"),
            Dense(256, name: "fc3", weightInit: .heNormal, biasInit: .constant(0.1)), ActivationLayer(.relu, name: "relu3"),
            Dropout(0.5, name: "drop3"),
            Dense(classes, name: "fc4", weightInit: outputInit),
        ]
    }

    /// A character-level language model over `vocabulary` characters for input `[steps]` tokens: an embedding,
    /// `layers` LSTM layers of `hidden` units (dropout between them) that carry their state from one forward pass
    /// to the next, and a linear layer to `[steps, vocabulary]` logits. The LSTM looks the tokens up in the
    /// embedding itself (`Recurrent.embedding`), which spares most of its first layer's input GEMMs.
    public static func charLSTM(vocabulary: Int, embedding: Int = 64, hidden: Int = 128, layers: Int = 2,
                                dropout: Float = 0) -> [Layer] {
        [
            LSTM(hidden: hidden, layers: layers, dropout: dropout, carriesState: true,
                 embedding: Embedding(vocabulary, dimension: embedding, name: "embed"), name: "lstm"),
            Dense(vocabulary, name: "fc"),
        ]
    }

    /// An autoencoder over flat inputs of `inputs` features (give it `Flatten` first for images): optional masking
    /// noise (`corruption`, a denoising autoencoder), an encoder to `hidden` sigmoid units, an optional sparsity
    /// penalty on them (`sparsity`: the target mean activation rho and the weight beta), and a linear decoder back to
    /// `inputs`, whose weight is the encoder's transposed when `tied`. The decoder is linear because the inputs are
    /// standardised (mean 0, standard deviation 1), not confined to (0, 1).
    public static func autoencoder(inputs: Int, hidden: Int, tied: Bool = false, sparsity: (target: Float, weight: Float)? = nil,
                                   corruption: Float = 0) -> [Layer] {
        let encoder = Dense(hidden, name: "encoder", weightInit: .xavierUniform)
        var layers: [Layer] = []
        if corruption > 0 { layers.append(Corruption(masking: corruption, name: "corrupt")) }
        layers += [encoder, ActivationLayer(.sigmoid, name: "code")]
        if let sparsity { layers.append(SparsityPenalty(target: sparsity.target, weight: sparsity.weight, name: "sparsity")) }
        layers.append(tied ? TiedDense(transposing: encoder, name: "decoder")
                           : Dense(inputs, name: "decoder", weightInit: .xavierUniform))
        return layers
    }

    /// LeNet-5's feature layers (C1 to S4) learn at `lenet5FeatureRate` times the base rate. The squashed layers
    /// shrink the signal on the way up and the gradient on the way down, so at one rate the convolutions hardly move
    /// while F6 already saturates at a higher one; LeCun et al. gave every parameter its own step size for the same
    /// reason.
    public static func useLeNet5Multipliers(_ model: Sequential) {
        let features = ["c1.", "s2.", "c3.", "s4."]
        for p in model.parameters where features.contains(where: { p.name.hasPrefix($0) }) {
            p.learningRateMultiplier = lenet5FeatureRate
        }
    }

    /// Measured on Fashion-MNIST from 2 to 16 times: 4 and 6 did best, 8 and more saturate F6 for some seeds.
    public static let lenet5FeatureRate: Float = 4

    /// Caffe's AlexNet solver settings per parameter: biases learn at twice the rate and are not decayed.
    public static func useCaffeBiasMultipliers(_ model: Sequential) {
        for p in model.parameters where p.name.hasSuffix(".bias") {
            p.learningRateMultiplier = 2
            p.weightDecayMultiplier = 0
        }
    }
}
