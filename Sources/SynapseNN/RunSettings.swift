/// The settings a `synapse train` run is defined by. They are stored in the checkpoint's metadata
/// (`settings.<key>`) and read back on `--resume`, so a resumed run continues with exactly the settings
/// it started with. Reading them back checks every value's range: a checkpoint is a file, and a file
/// can hold anything.
public struct RunSettings: Equatable, Sendable {
    public var model = "lenet"
    public var batchSize = 64
    public var optimizer = "sgd"
    public var schedule = "cosine"
    /// The base learning rate; nil until resolved to the optimizer's default.
    public var learningRate: Float?
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var nesterov = false
    public var seed: UInt64 = 1
    public var epochs = 15
    public var data = Dataset.defaultDirectory
    /// The first N images of each set (0: all).
    public var trainLimit = 0
    public var testLimit = 0
    /// Text models: LSTM units per layer, layers, and characters per training sequence.
    public var hidden = 128
    public var layers = 2
    public var sequenceLength = 50
    /// The largest global norm of a step's gradients (0: no clipping).
    public var clip: Float = 0

    public static let epochRange = 1...1_000_000
    public static let batchSizeRange = 1...(1 << 24)
    public static let limitRange = 0...Int(Int32.max)
    public static let sizeRange = 1...(1 << 16)

    /// The defaults of a character model (torch-rnn's): batches of 50 sequences of 50 characters, Adam without
    /// weight decay, gradients clipped to a norm of 5, the fortune files; each applies unless given.
    public mutating func useTextDefaults() {
        batchSize = 50
        optimizer = "adam"
        weightDecay = 0
        clip = 5
        epochs = 10
        data = TextCorpus.defaultPath
    }

    public init() {}

    public var metadata: [String: String] {
        ["settings.model": model, "settings.batch_size": String(batchSize), "settings.optimizer": optimizer,
         "settings.schedule": schedule, "settings.lr": learningRate.map { "\($0)" } ?? "",
         "settings.momentum": "\(momentum)", "settings.weight_decay": "\(weightDecay)",
         "settings.nesterov": String(nesterov), "settings.seed": String(seed), "settings.epochs": String(epochs),
         "settings.data": data, "settings.train_limit": String(trainLimit), "settings.test_limit": String(testLimit),
         "settings.hidden": String(hidden), "settings.layers": String(layers),
         "settings.sequence_length": String(sequenceLength), "settings.clip": "\(clip)"]
    }

    /// The ranges every run's settings must lie in, whether typed or read from a checkpoint; the error names
    /// the command-line flag.
    public func validate() throws {
        func check(_ ok: Bool, _ flag: String, _ message: @autoclosure () -> String) throws {
            if !ok { throw NNError.invalidSetting(name: flag, message: message()) }
        }
        try check(Self.epochRange.contains(epochs), "--epochs", "must be in \(Self.epochRange), got \(epochs)")
        try check(Self.batchSizeRange.contains(batchSize), "--batch-size",
                  "must be in \(Self.batchSizeRange), got \(batchSize)")
        try check(learningRate.map { $0.isFinite && $0 > 0 } ?? true, "--lr",
                  "must be finite and positive, got \(learningRate.map { "\($0)" } ?? "")")
        try check(momentum.isFinite && momentum >= 0 && momentum < 1, "--momentum", "must be in [0, 1), got \(momentum)")
        try check(weightDecay.isFinite && weightDecay >= 0, "--weight-decay",
                  "must be finite and not negative, got \(weightDecay)")
        try check(!data.isEmpty, "--data", "must name a directory")
        try check(Self.limitRange.contains(trainLimit), "--train-limit", "must be in \(Self.limitRange), got \(trainLimit)")
        try check(Self.limitRange.contains(testLimit), "--test-limit", "must be in \(Self.limitRange), got \(testLimit)")
        for (flag, value) in [("--hidden", hidden), ("--layers", layers), ("--sequence-length", sequenceLength)] {
            try check(Self.sizeRange.contains(value), flag, "must be in \(Self.sizeRange), got \(value)")
        }
        try check(clip.isFinite && clip >= 0, "--clip", "must be finite and not negative (0: no clipping), got \(clip)")
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
        do {
            try validate()
        } catch NNError.invalidSetting(let flag, let message) {
            throw NNError.checkpoint(path: path, message: "its setting for \(flag) is out of range: \(message)")
        }
    }
}
