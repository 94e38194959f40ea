/// The settings a `synapse train` run is defined by. They are stored in the checkpoint's metadata
/// (`settings.<key>`) and read back on `--resume`, so a resumed run continues with exactly the settings
/// it started with. Reading them back checks every value's range: a checkpoint is a file, and a file
/// can hold anything.
public struct RunSettings: Equatable, Sendable {
    /// The network, by its command-line name (a `ModelKind` raw value).
    public var model = "lenet"
    /// Examples per batch: images, or for a text model, sequences read side by side.
    public var batchSize = 64
    /// The optimizer by name: `sgd` or `adam`.
    public var optimizer = "sgd"
    /// The learning-rate schedule in its command-line form (`LearningRateSchedule.acceptedForms`).
    public var schedule = "cosine"
    /// The base learning rate; nil until resolved to the optimizer's default.
    public var learningRate: Float?
    /// SGD's momentum, in [0, 1).
    public var momentum: Float = 0.9
    /// The L2 weight decay, not negative; 0 for none.
    public var weightDecay: Float = 5e-4
    /// Whether SGD takes Nesterov's look-ahead step.
    public var nesterov = false
    /// The seed of every random number in the run: initial weights, dropout masks, the order of samples.
    public var seed: UInt64 = 1
    /// Epochs the run trains in all; a resumed run continues up to it.
    public var epochs = 15
    /// The data set's directory, or for a text model a text file or a directory of them.
    public var data = Dataset.defaultDirectory
    /// The first N images of each set (0: all).
    public var trainLimit = 0
    /// The first N test images only (0: all).
    public var testLimit = 0
    /// Text models: LSTM units per layer, layers, and characters per training sequence.
    public var hidden = 128
    /// Stacked LSTM layers, for text models.
    public var layers = 2
    /// Characters per training sequence, for text models.
    public var sequenceLength = 50
    /// The largest global norm of a step's gradients (0: no clipping).
    public var clip: Float = 0
    /// Layer-wise models: the width of each hidden layer, bottom up (one for autoencoder and rbm).
    public var widths = [500, 500]
    /// Autoencoders: whether the decoder's weight is the encoder's, transposed.
    public var tied = false
    /// Autoencoders: the sparsity penalty's target mean activation rho (used when `sparsityWeight` > 0).
    public var sparsityTarget: Float = 0.05
    /// Autoencoders: the sparsity penalty's weight beta (0: no penalty).
    public var sparsityWeight: Float = 0
    /// Autoencoders: the fraction of inputs masked to 0 in training (0: a plain, not denoising, autoencoder).
    public var corruption: Float = 0
    /// RBMs: Gibbs steps per update, the k of CD-k.
    public var gibbsSteps = 1
    /// RBMs: whether the Gibbs chains persist across updates (PCD).
    public var persistent = false
    /// Stacked models: epochs of pretraining per layer; 0 trains the same classifier from scratch.
    public var pretrainEpochs = 5
    /// Stacked models: the learning rate of pretraining (fixed).
    public var pretrainLearningRate: Float = 0.01
    /// Sparse coding: the L1 weight lambda of the codes.
    public var lambda: Float = 0.15
    /// Sparse coding: the side of the square patches, in pixels.
    public var patchSize = 8
    /// Sparse coding: training patches cut from the photographs (a tenth as many more are held out).
    public var patchCount = 20_000

    /// The values `epochs` may take.
    public static let epochRange = 1...1_000_000
    /// The values `batchSize` may take.
    public static let batchSizeRange = 1...(1 << 24)
    /// The values `trainLimit` and `testLimit` may take.
    public static let limitRange = 0...Int(Int32.max)
    /// The values `hidden`, `layers` and `sequenceLength` may take.
    public static let sizeRange = 1...(1 << 16)

    /// The defaults of `kind` where they differ from an image classifier's; each applies unless given.
    public mutating func useDefaults(for kind: ModelKind) {
        switch kind {
        case .charLSTM: useTextDefaults()
        case .perceptron: usePerceptronDefaults()
        case .sparseCoding:
            // Olshausen & Field's overcomplete basis: 128 atoms for 8x8 patches, batches of 256 patches.
            widths = [128]
            batchSize = 256
            epochs = 10
            data = Photographs.defaultDirectory
        case .lenet5:
            // The RBF scores are squared distances over 84 units: at the LeNet-style net's 0.02 the F6 units
            // saturate in the first epoch and stay there, and at 0.006 for some seeds. Of 0.003 to 0.005, 0.004
            // did best over three seeds. Nesterov's momentum reached a lower training loss in the same epochs.
            learningRate = 0.004
            nesterov = true
        case .autoencoder, .stackedAutoencoder:
            // A linear decoder on standardised pixels: Adam copes with the reconstruction's scale without tuning.
            optimizer = "adam"
            learningRate = 0.001
            pretrainLearningRate = 0.001
            weightDecay = 0
            epochs = kind == .autoencoder ? 10 : 15
            if kind == .autoencoder { widths = [256] }
        case .rbm, .dbn:
            // scikit-learn's BernoulliRBM: plain SGD at 0.1. A sigmoid net fine-tunes at 0.1: at the ReLU MLP's 0.02
            // it was still underfitting after 10 epochs.
            pretrainLearningRate = 0.1
            learningRate = 0.1
            if kind == .rbm {
                widths = [256]
                momentum = 0
                weightDecay = 0
                schedule = "fixed"
                epochs = 5
            }
        default: break
        }
    }

    /// The perceptron rule as Rosenblatt ran it: one image at a time, rate 1, no momentum, decay or schedule.
    private mutating func usePerceptronDefaults() {
        batchSize = 1
        learningRate = 1
        momentum = 0
        weightDecay = 0
        schedule = "fixed"
        epochs = 10
    }

    /// The defaults of a character model (torch-rnn's): batches of 50 sequences of 50 characters, Adam at 0.002
    /// without weight decay, gradients clipped to a norm of 5, the fortune files.
    private mutating func useTextDefaults() {
        batchSize = 50
        optimizer = "adam"
        learningRate = 0.002
        weightDecay = 0
        clip = 5
        epochs = 10
        data = TextCorpus.defaultPath
    }

    /// The defaults of an image classifier's run; `useDefaults(for:)` switches to another model's.
    public init() {}

    /// Every setting as checkpoint metadata, keyed `settings.<key>`; `init(metadata:path:)` reads it back.
    public var metadata: [String: String] {
        ["settings.model": model, "settings.batch_size": String(batchSize), "settings.optimizer": optimizer,
         "settings.schedule": schedule, "settings.lr": learningRate.map { "\($0)" } ?? "",
         "settings.momentum": "\(momentum)", "settings.weight_decay": "\(weightDecay)",
         "settings.nesterov": String(nesterov), "settings.seed": String(seed), "settings.epochs": String(epochs),
         "settings.data": data, "settings.train_limit": String(trainLimit), "settings.test_limit": String(testLimit),
         "settings.hidden": String(hidden), "settings.layers": String(layers),
         "settings.sequence_length": String(sequenceLength), "settings.clip": "\(clip)",
         "settings.widths": widths.map(String.init).joined(separator: ","), "settings.tied": String(tied),
         "settings.sparsity_target": "\(sparsityTarget)", "settings.sparsity_weight": "\(sparsityWeight)",
         "settings.corruption": "\(corruption)", "settings.gibbs_steps": String(gibbsSteps),
         "settings.persistent": String(persistent), "settings.pretrain_epochs": String(pretrainEpochs),
         "settings.pretrain_lr": "\(pretrainLearningRate)", "settings.lambda": "\(lambda)",
         "settings.patch_size": String(patchSize), "settings.patch_count": String(patchCount)]
    }

    /// The ranges every run's settings must lie in, whether typed or read from a checkpoint; the error names
    /// the command-line flag.
    public func validate() throws {
        func check(_ ok: Bool, _ flag: String, _ message: @autoclosure () -> String) throws {
            if !ok { throw NNError.invalidSetting(name: flag, message: message()) }
        }
        try check(ModelKind(rawValue: model) != nil, "--model",
                  "unknown model '\(model)'; available: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
        try check(Self.epochRange.contains(epochs), "--epochs", "must be in \(Self.epochRange), got \(epochs)")
        try check(Self.batchSizeRange.contains(batchSize), "--batch-size",
                  "must be in \(Self.batchSizeRange), got \(batchSize)")
        // The schedule's form only, before any data is read: the iterations an epoch are a stand-in until the data
        // sets them, when the schedule is parsed again.
        _ = try LearningRateSchedule(parsing: schedule, iterationsPerEpoch: 1000, totalIterations: 1000 * epochs)
        try check(learningRate.map { $0.isFinite && $0 > 0 } ?? true, "--lr",
                  "must be finite and positive, got \(learningRate.map { "\($0)" } ?? "")")
        try check(momentum.isFinite && momentum >= 0 && momentum < 1, "--momentum", "must be in [0, 1), got \(momentum)")
        try check(weightDecay.isFinite && weightDecay >= 0, "--weight-decay",
                  "must be finite and not negative, got \(weightDecay)")
        try check(!data.isEmpty, "--data", "must name the data (a directory, or for a text model a file or directory)")
        try check(Self.limitRange.contains(trainLimit), "--train-limit", "must be in \(Self.limitRange), got \(trainLimit)")
        try check(Self.limitRange.contains(testLimit), "--test-limit", "must be in \(Self.limitRange), got \(testLimit)")
        for (flag, value) in [("--hidden", hidden), ("--layers", layers), ("--sequence-length", sequenceLength)] {
            try check(Self.sizeRange.contains(value), flag, "must be in \(Self.sizeRange), got \(value)")
        }
        try check(clip.isFinite && clip >= 0, "--clip", "must be finite and not negative (0: no clipping), got \(clip)")
        try check(!widths.isEmpty && widths.count <= 16 && widths.allSatisfy(Self.sizeRange.contains), "--widths",
                  "must be 1 to 16 comma-separated widths in \(Self.sizeRange), got \(widths)")
        try check(sparsityTarget > 0 && sparsityTarget < 1, "--sparsity", "must lie in (0, 1), got \(sparsityTarget)")
        try check(sparsityWeight.isFinite && sparsityWeight >= 0, "--sparsity-weight",
                  "must be finite and not negative (0: no penalty), got \(sparsityWeight)")
        try check(corruption >= 0 && corruption < 1, "--corruption", "must lie in [0, 1), got \(corruption)")
        try check((1...10_000).contains(gibbsSteps), "--gibbs-steps", "must be in 1...10000, got \(gibbsSteps)")
        try check(pretrainEpochs == 0 || Self.epochRange.contains(pretrainEpochs), "--pretrain-epochs",
                  "must be 0 (no pretraining) or in \(Self.epochRange), got \(pretrainEpochs)")
        try check(pretrainLearningRate.isFinite && pretrainLearningRate > 0, "--pretrain-lr",
                  "must be finite and positive, got \(pretrainLearningRate)")
        try check(lambda.isFinite && lambda > 0, "--lambda", "must be finite and positive, got \(lambda)")
        try check((2...32).contains(patchSize), "--patch-size", "must be in 2...32, got \(patchSize)")
        try check((1...1_000_000).contains(patchCount), "--patches", "must be in 1...1000000, got \(patchCount)")
    }

    /// The settings stored in checkpoint `path`, every field present, readable and in range.
    public init(metadata: [String: String], path: String) throws {
        func value(_ key: String) throws -> String {
            guard let text = metadata["settings." + key] else {
                throw NNError.checkpoint(path: path, message: "metadata field 'settings.\(key)' is missing (not written by synapse train?)")
            }
            return text
        }
        func parsed<T>(_ key: String, _ parse: (String) -> T?) throws -> T {
            let text = try value(key)
            guard let v = parse(text) else {
                throw NNError.checkpoint(path: path, message: "metadata field 'settings.\(key)' has an unreadable value '\(text)'")
            }
            return v
        }
        model = try value("model")
        batchSize = try parsed("batch_size") { Int($0) }
        optimizer = try value("optimizer")
        schedule = try value("schedule")
        let rate = try value("lr")
        learningRate = rate.isEmpty ? nil : try parsed("lr") { Float($0) }
        momentum = try parsed("momentum") { Float($0) }
        weightDecay = try parsed("weight_decay") { Float($0) }
        nesterov = try parsed("nesterov") { Bool($0) }
        seed = try parsed("seed") { UInt64($0) }
        epochs = try parsed("epochs") { Int($0) }
        data = try value("data")
        trainLimit = try parsed("train_limit") { Int($0) }
        testLimit = try parsed("test_limit") { Int($0) }
        // Added with the text models: a checkpoint written before them lacks them, and keeps the defaults.
        if metadata["settings.hidden"] != nil {
            hidden = try parsed("hidden") { Int($0) }
            layers = try parsed("layers") { Int($0) }
            sequenceLength = try parsed("sequence_length") { Int($0) }
            clip = try parsed("clip") { Float($0) }
        }
        // Added with the layer-wise models.
        if metadata["settings.widths"] != nil {
            widths = try parsed("widths") { text in
                let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
                return parts.contains(nil) ? nil : parts.map { $0! }
            }
            tied = try parsed("tied") { Bool($0) }
            sparsityTarget = try parsed("sparsity_target") { Float($0) }
            sparsityWeight = try parsed("sparsity_weight") { Float($0) }
            corruption = try parsed("corruption") { Float($0) }
            gibbsSteps = try parsed("gibbs_steps") { Int($0) }
            persistent = try parsed("persistent") { Bool($0) }
            pretrainEpochs = try parsed("pretrain_epochs") { Int($0) }
            pretrainLearningRate = try parsed("pretrain_lr") { Float($0) }
        }
        // Added with sparse coding.
        if metadata["settings.lambda"] != nil {
            lambda = try parsed("lambda") { Float($0) }
            patchSize = try parsed("patch_size") { Int($0) }
            patchCount = try parsed("patch_count") { Int($0) }
        }
        do {
            try validate()
        } catch NNError.invalidSetting(let flag, let message) {
            throw NNError.checkpoint(path: path, message: "its setting for \(flag) is out of range: \(message)")
        }
    }
}
