import ArgumentParser
import Foundation
import Synapse
import SynapseDistributed

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a network; with no arguments, the LeNet-style net on Fashion-MNIST on the best device.",
        discussion: "After every epoch the held-out loss and metric (test accuracy, or validation bits per character) "
            + "are printed, a checkpoint is saved (atomically) and the curves are written as CSV and SVG next to it. "
            + "--resume continues a run from its checkpoint with the checkpoint's settings, giving the same weights as "
            + "an uninterrupted run on the same device. --model char-lstm trains a character-level language model on "
            + "a UTF-8 text (--data FILE; by default the fortune files of Debian's fortunes package)."
    )

    @Option(help: "perceptron, softmax, mlp, lenet, lenet5, alexnet-small, alexnet, char-lstm, autoencoder, rbm, stacked-autoencoder, dbn or sparse-coding.")
    var model: String?
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var deviceOption: DeviceOption
    @Option(parsing: .unconditional, help: "Total epochs to train (default 15; 10 for char-lstm, perceptron, autoencoder and sparse-coding, 5 for rbm; stacks: of fine-tuning; a resumed run continues up to the epochs it was planned for).")
    var epochs: Int?
    @Option(parsing: .unconditional, help: "Images, text sequences or patches per mini-batch (default 64; 50 for char-lstm, 1 for perceptron, 256 for sparse-coding).") var batchSize: Int?
    @Option(name: .customLong("lr"), parsing: .unconditional, help: "Base learning rate (default 0.02 with SGD, 0.001 with Adam; with the model's own optimizer 0.004 for lenet5, 0.1 for rbm and dbn, 0.002 for char-lstm, 1 for perceptron).")
    var learningRate: Float?
    @Option(help: ArgumentHelp("Learning-rate schedule: \(LearningRateSchedule.acceptedForms) (sizes in epochs; default cosine; fixed for perceptron, rbm and the stacks' pretraining).",
                               valueName: "schedule")) var schedule: String?
    @Option(help: "sgd or adam (default sgd; adam for char-lstm and the autoencoders).") var optimizer: String?
    @Option(parsing: .unconditional, help: "SGD momentum (default 0.9; 0 for perceptron and rbm).") var momentum: Float?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (default on for lenet5, off for the others).") var nesterov: Bool?
    @Option(parsing: .unconditional, help: "L2 weight decay (default 5e-4; 0 for char-lstm, perceptron, rbm and the autoencoders).") var weightDecay: Float?
    @Option(parsing: .unconditional, help: "Seed of the weights, the sample order and the dropout masks (default 1).") var seed: UInt64?
    @Option(parsing: .unconditional, help: "char-lstm: LSTM units per layer (default 128).") var hidden: Int?
    @Option(parsing: .unconditional, help: "char-lstm: LSTM layers (default 2).") var layers: Int?
    @Option(parsing: .unconditional, help: "char-lstm: characters per training sequence, the span of backpropagation through time (default 50).")
    var sequenceLength: Int?
    @Option(parsing: .unconditional, help: "Clip each step's gradients to this global norm, as PyTorch's clip_grad_norm_ (default 0: off; 5 for char-lstm).")
    var clip: Float?
    @Option(help: ArgumentHelp("Layer-wise models: hidden widths, bottom up (default 256 for autoencoder and rbm, 500,500 for the stacks).",
                               valueName: "w1,w2,...")) var widths: String?
    @Flag(help: "Autoencoders: tie the decoder's weight to the encoder's, transposed.") var tied = false
    @Option(parsing: .unconditional, help: "Autoencoders: the KL sparsity penalty's target mean activation rho (default 0.05).") var sparsity: Float?
    @Option(parsing: .unconditional, help: "Autoencoders: the sparsity penalty's weight beta (default 0: no penalty; UFLDL uses 3).") var sparsityWeight: Float?
    @Option(parsing: .unconditional, help: "Autoencoders: the fraction of inputs masked to 0 in training, a denoising autoencoder (default 0).")
    var corruption: Float?
    @Option(parsing: .unconditional, help: "RBMs: Gibbs steps per update, k of CD-k (default 1).") var gibbsSteps: Int?
    @Flag(help: "RBMs: persistent contrastive divergence (chains carried across updates).") var persistent = false
    @Option(parsing: .unconditional, help: "Stacks: epochs of pretraining per layer (default 5).") var pretrainEpochs: Int?
    @Option(name: .customLong("pretrain-lr"), parsing: .unconditional, help: "Stacks: the learning rate of pretraining (default 0.001 with Adam for autoencoders, 0.1 with SGD for RBMs; with another --optimizer 0.001 for Adam, 0.02 for SGD).")
    var pretrainLearningRate: Float?
    @Option(parsing: .unconditional, help: "Sparse coding: the L1 weight of the codes (default 0.15).") var lambda: Float?
    @Option(parsing: .unconditional, help: "Sparse coding: the side of the square patches (default 8).") var patchSize: Int?
    @Option(name: .customLong("patches"), parsing: .unconditional, help: "Sparse coding: training patches cut from the photographs (default 20000).")
    var patchCount: Int?
    @Option(help: "Checkpoint file (default <model>.safetensors).") var checkpoint: String?
    @Flag(help: "Continue the run saved in the checkpoint.") var resume = false
    @Flag(help: ArgumentHelp("Under mpirun: all-reduce the gradients in buckets on a thread of their own beside backward, "
        + "not in one piece after it (pays where the ranks leave cores or a network card free)."))
    var overlapAllreduce = false
    @Flag(help: "Replace an existing checkpoint by a new run (without it, an existing checkpoint is never overwritten).")
    var overwrite = false
    @Option(help: ArgumentHelp("Initialise from a safetensors file of PyTorch weights with the same parameter names.",
                               valueName: "file")) var importWeights: String?

    func run() throws {
        // Under mpirun every rank runs this command; rank 0 alone prints and writes.
        let world = MPIWorld.launchedByMPI ? try MPIWorld.joined() : nil
        if let world, world.rank != 0 { dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO) }
        let checkpointPath = checkpoint ?? "\(model ?? "lenet").safetensors"
        guard !checkpointPath.isEmpty, !checkpointPath.hasSuffix("/") else {
            throw NNError.invalidSetting(name: "--checkpoint", message: "'\(checkpointPath)' is not a file name")
        }
        let curvesBase = (checkpointPath as NSString).deletingPathExtension
        guard !(curvesBase as NSString).lastPathComponent.isEmpty, curvesBase + ".csv" != checkpointPath,
              curvesBase + ".svg" != checkpointPath else {
            throw NNError.invalidSetting(name: "--checkpoint", message: "\(checkpointPath) would be overwritten by the curves (or they would have no name); use a name such as run.safetensors")
        }
        var settings = RunSettings()
        var saved: [String: String] = [:]
        if resume {
            saved = try Checkpoint.metadata(at: checkpointPath)
            settings = try RunSettings(metadata: saved, path: checkpointPath)
            try checkNoConflict(with: settings)
            if let epochs { settings.epochs = epochs }
        } else {
            if let model { settings.model = model }
            settings.useDefaults(for: try ModelKind(parsing: settings.model))
            if let batchSize { settings.batchSize = batchSize }
            if let optimizer, optimizer.lowercased() != settings.optimizer {
                // A model's default rates suit its default optimizer; another one starts from its own defaults.
                settings.optimizer = optimizer.lowercased()
                settings.learningRate = nil
                settings.pretrainLearningRate = settings.optimizer == "adam" ? 0.001 : 0.02
            }
            if let schedule { settings.schedule = schedule }
            if let learningRate { settings.learningRate = learningRate }
            if let momentum { settings.momentum = momentum }
            if let weightDecay { settings.weightDecay = weightDecay }
            if let nesterov { settings.nesterov = nesterov }
            if let seed { settings.seed = seed }
            if let epochs { settings.epochs = epochs }
            if let hidden { settings.hidden = hidden }
            if let layers { settings.layers = layers }
            if let sequenceLength { settings.sequenceLength = sequenceLength }
            if let clip { settings.clip = clip }
            if let widths { settings.widths = try Self.parseWidths(widths) }
            settings.tied = tied
            if let sparsity { settings.sparsityTarget = sparsity }
            if let sparsityWeight { settings.sparsityWeight = sparsityWeight }
            if let corruption { settings.corruption = corruption }
            if let gibbsSteps { settings.gibbsSteps = gibbsSteps }
            settings.persistent = persistent
            if let pretrainEpochs { settings.pretrainEpochs = pretrainEpochs }
            if let pretrainLearningRate { settings.pretrainLearningRate = pretrainLearningRate }
            if let lambda { settings.lambda = lambda }
            if let patchSize { settings.patchSize = patchSize }
            if let patchCount { settings.patchCount = patchCount }
            if let data = dataOptions.data { settings.data = DataOptions.absolute(data) }
            if let trainLimit = dataOptions.trainLimit { settings.trainLimit = trainLimit }
            if let testLimit = dataOptions.testLimit { settings.testLimit = testLimit }
        }
        try settings.validate()
        let kind = try ModelKind(parsing: settings.model)
        try checkApplicable(to: kind)
        if kind == .perceptron { try checkPerceptronRule(settings) }
        try checkApart(checkpoint: checkpointPath, curves: curvesBase, data: settings.data)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: checkpointPath, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else {
                throw NNError.invalidSetting(name: "--checkpoint", message: "\(checkpointPath) is a directory; name a file, such as \((checkpointPath as NSString).appendingPathComponent("run.safetensors"))")
            }
            guard resume || overwrite else {
                throw NNError.invalidSetting(name: "--checkpoint", message:
                    "\(checkpointPath) exists; continue that run with --resume, or start a new one with --overwrite or another --checkpoint")
            }
        }
        if kind.isLayerwise, !kind.isUnsupervised {
            // The stack's copy before fine-tuning belongs to the run: a new run must not replace someone else's.
            let pretrained = LayerwiseTraining.pretrainedPath(checkpointPath)
            guard resume || overwrite || !FileManager.default.fileExists(atPath: pretrained) else {
                throw NNError.invalidSetting(name: "--checkpoint", message:
                    "\(pretrained) exists (a stack pretrained before); start a new run with --overwrite or another --checkpoint")
            }
            try AtomicFile.checkWritable(pretrained, fail: { NNError.checkpoint(path: pretrained, message: $0) })
        }
        if kind.isAutoencoder, sparsity != nil, settings.sparsityWeight == 0 {
            throw NNError.invalidSetting(name: "--sparsity", message: "has no effect without a penalty weight; give --sparsity-weight (UFLDL uses 3)")
        }
        if let world {
            let parallel: [ModelKind] = [.softmax, .mlp, .lenet, .lenet5, .alexnet, .alexnetSmall]
            guard parallel.contains(kind) else {
                throw NNError.invalidSetting(name: "mpirun", message: "data-parallel training covers the image classifiers ("
                    + parallel.map(\.rawValue).joined(separator: ", ") + "), not --model \(kind.rawValue)")
            }
            guard settings.batchSize % world.size == 0 else {
                throw NNError.invalidSetting(name: "--batch-size", message: "\(settings.batchSize) is the global batch, which "
                    + "the \(world.size) ranks share: it must be a multiple of \(world.size)")
            }
        }
        let epochs = settings.epochs
        let backend = try deviceOption.backend(localRank: world?.localRank ?? 0)
        if kind == .sparseCoding {
            return try SparseCodingTraining(settings: settings, backend: backend, checkpoint: checkpointPath,
                                            curvesBase: curvesBase, saved: resume ? saved : nil).run()
        }
        if kind.isLayerwise {
            _ = try makeOptimizer(settings)
            if settings.learningRate == nil { settings.learningRate = settings.optimizer == "adam" ? 0.001 : 0.02 }
            return try LayerwiseTraining(kind: kind, settings: settings, backend: backend, checkpoint: checkpointPath,
                                         curvesBase: curvesBase, saved: resume ? saved : nil).run()
        }
        let setup = kind.readsText ? try TrainingSetup.text(settings, backend: backend, saved: resume ? saved : nil, path: checkpointPath)
            : try TrainingSetup.images(kind, settings, backend: backend, saved: resume ? saved : nil, path: checkpointPath)
        print("data: \(setup.objective.dataDescription)")
        print("device: \(backend.name)  \(backend.deviceDescription)")
        let network = setup.network
        print(network.summary)
        if let importWeights {
            try Checkpoint.importWeights(into: network, from: importWeights)
            print("imported weights from \(importWeights)")
        }

        let optimizer = try makeOptimizer(settings)
        let baseRate = settings.learningRate ?? (settings.optimizer == "adam" ? 0.001 : 0.02)
        settings.learningRate = baseRate   // saved resolved, so a later change of the default cannot alter a resumed run
        let batches = try setup.objective.batches(epoch: 1, seed: settings.seed, batchSize: settings.batchSize)
        let batchesPerEpoch = batches.count
        // Every rank takes a share of every batch, the epoch's last and smallest too: known now, not an epoch later.
        if let world, let last = batches.last, last.samples.count < world.size {
            throw NNError.invalidSetting(name: "--batch-size", message: "the epoch's last batch holds \(last.samples.count) "
                + "example\(last.samples.count == 1 ? "" : "s"), fewer than the \(world.size) ranks that share it; choose a "
                + "--batch-size or --train-limit that leaves it at least \(world.size)")
        }
        let lrSchedule = try LearningRateSchedule(parsing: settings.schedule, iterationsPerEpoch: batchesPerEpoch,
                                                  totalIterations: batchesPerEpoch * epochs)
        let trainer = try Trainer(model: network, objective: setup.objective, optimizer: optimizer, learningRate: baseRate,
                                  schedule: lrSchedule, batchSize: settings.batchSize)
        if settings.clip > 0 { trainer.gradientHooks = [try GradientClipping(maxNorm: settings.clip)] }
        var points: [CurvePoint] = []
        if resume {
            try Checkpoint.resume(trainer, from: checkpointPath)
            points = resumedCurves(saved, checkpoint: checkpointPath, epochs: trainer.epoch)
            if let planned = saved["settings.epochs"], planned != String(epochs) {
                print("note: the run was planned for \(planned) epoch\(planned == "1" ? "" : "s"), now \(epochs); schedules that span the run (cosine, poly) change from here on")
            }
            // The recorder below then only writes the curves from the checkpoint (a run killed between the two).
            if trainer.epoch >= epochs { print("nothing to do: the checkpoint has already trained \(trainer.epoch) of \(epochs) epochs") }
        }
        if trainer.epoch < epochs {
            let clipping = settings.clip > 0 ? ", gradients clipped to norm \(settings.clip)" : ""
            print("training: \(optimizer.summary), lr \(baseRate), schedule \(lrSchedule), batch \(settings.batchSize), seed \(settings.seed)\(clipping)")
        }
        if let world {
            trainer.overlapAllReduce = overlapAllreduce
            trainer.group = world
            try world.checkSameParameters(network.arena)
            print("data-parallel: \(world.size) ranks (mpirun), each \(settings.batchSize / world.size) examples of every batch")
            if world.rank != 0 {
                try trainer.fit(epochs: epochs)
                return try world.finish()
            }
        }

        let recorder = EpochRecorder(metric: setup.metric, unit: setup.unit, curvesBase: curvesBase,
                                     title: "\(kind.rawValue) on \(setup.dataName), \(backend.name)", prefix: "",
                                     metadata: settings.metadata.merging(setup.metadata) { $1 })
        // Rosenblatt's first stopping rule: an epoch without a misclassified image leaves nothing to learn.
        let converged: ((EpochReport) -> Bool)? = kind == .perceptron ? { $0.trainLoss == 0 } : nil
        if try recorder.fit(trainer, epochs: epochs, checkpoint: checkpointPath, points: &points, converged: converged) {
            print("stopped after epoch \(trainer.epoch) of \(epochs): it classified every training image correctly")
        }
        print("checkpoint: \(checkpointPath)  curves: \(curvesBase).csv, \(curvesBase).svg")
        if let world, let seconds = trainer.allReduceSecondsPerStep {
            print(String(format: "all-reduce: %.2f ms a step (%d floats)", seconds * 1000, network.arena.gradients.count))
            try world.finish()
        }
    }

    /// The model-specific flags the user typed must belong to the model.
    private func checkApplicable(to kind: ModelKind) throws {
        let autoencoders: [ModelKind] = [.autoencoder, .stackedAutoencoder], rbms: [ModelKind] = [.rbm, .dbn]
        let flags: [(String, Bool, [ModelKind])] = [
            ("--hidden", hidden != nil, [.charLSTM]), ("--layers", layers != nil, [.charLSTM]),
            ("--sequence-length", sequenceLength != nil, [.charLSTM]),
            ("--widths", widths != nil, autoencoders + rbms + [.sparseCoding]), ("--tied", tied, autoencoders),
            ("--lambda", lambda != nil, [.sparseCoding]), ("--patch-size", patchSize != nil, [.sparseCoding]),
            ("--patches", patchCount != nil, [.sparseCoding]),
            ("--train-limit", dataOptions.trainLimit != nil, ModelKind.allCases.filter { $0 != .sparseCoding }),
            ("--test-limit", dataOptions.testLimit != nil, ModelKind.allCases.filter { $0 != .sparseCoding }),
            ("--sparsity", sparsity != nil, autoencoders), ("--sparsity-weight", sparsityWeight != nil, autoencoders),
            ("--corruption", corruption != nil, autoencoders), ("--gibbs-steps", gibbsSteps != nil, rbms),
            ("--persistent", persistent, rbms), ("--pretrain-epochs", pretrainEpochs != nil, [.stackedAutoencoder, .dbn]),
            ("--pretrain-lr", pretrainLearningRate != nil, [.stackedAutoencoder, .dbn]),
            ("--import-weights", importWeights != nil, ModelKind.allCases.filter { !$0.isLayerwise }),
        ]
        for (flag, given, kinds) in flags where given && !kinds.contains(kind) {
            throw NNError.invalidSetting(name: flag, message:
                "applies to \(kinds.map(\.rawValue).joined(separator: ", ")), not to \(kind.rawValue)")
        }
        let optimizerFlags = [("--optimizer", optimizer != nil), ("--lr", learningRate != nil), ("--schedule", schedule != nil),
                              ("--momentum", momentum != nil), ("--nesterov", nesterov != nil),
                              ("--weight-decay", weightDecay != nil), ("--clip", clip != nil)]
        if kind == .sparseCoding, let (flag, _) = optimizerFlags.first(where: \.1) {
            throw NNError.invalidSetting(name: flag, message: "does not apply to sparse-coding, which solves for its codes and "
                + "dictionary: it has no optimizer, learning rate, momentum, decay, schedule or clipping")
        }
    }

    /// `500,500` as widths.
    static func parseWidths(_ text: String) throws -> [Int] {
        let widths = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ $0 != nil }) else {
            throw NNError.invalidSetting(name: "--widths", message: "'\(text)' is not a comma-separated list of widths, such as 500,500")
        }
        return widths.map { $0! }
    }

    /// The perceptron learns by its own rule, `w += lr (d - y) x`: plain SGD with a rate in (0, 1].
    private func checkPerceptronRule(_ settings: RunSettings) throws {
        let rule = "the perceptron learns by its rule w += lr (d - y) x, which is plain SGD"
        if settings.optimizer != "sgd" { throw NNError.invalidSetting(name: "--optimizer", message: "\(rule); \(settings.optimizer) does not apply") }
        for (flag, value) in [("--momentum", settings.momentum), ("--weight-decay", settings.weightDecay), ("--clip", settings.clip)]
        where value != 0 {
            throw NNError.invalidSetting(name: flag, message: "\(rule); it must be 0 (got \(value))")
        }
        if settings.nesterov { throw NNError.invalidSetting(name: "--nesterov", message: "\(rule), without momentum") }
        if let rate = settings.learningRate, rate > 1 {
            throw NNError.invalidSetting(name: "--lr", message: "the perceptron's rate lies in (0, 1], got \(rate)")
        }
        if settings.batchSize != 1 {
            throw NNError.invalidSetting(name: "--batch-size", message: "\(rule) applied after each image; it must be 1 (got \(settings.batchSize))")
        }
        if settings.schedule != "fixed" {
            throw NNError.invalidSetting(name: "--schedule", message: "\(rule) at a fixed rate; it must be fixed (got \(settings.schedule))")
        }
    }

    /// The checkpoint and curves are written over and over; inside the data (with --overwrite, say) they would
    /// replace what the run reads.
    private func checkApart(checkpoint: String, curves: String, data: String) throws {
        let data = DataOptions.absolute(data)
        for file in [checkpoint, curves + ".csv", curves + ".svg"].map(DataOptions.absolute)
        where file == data || file.hasPrefix(data.hasSuffix("/") ? data : data + "/") {
            throw NNError.invalidSetting(name: "--checkpoint", message: "\(file) lies in the training data \(data), "
                + "which the run's checkpoint and curves must not overwrite; choose a place outside it")
        }
    }

    /// A resumed run continues with the checkpoint's settings; a flag the user typed that disagrees is a
    /// mistake, even when it equals a default.
    private func checkNoConflict(with saved: RunSettings) throws {
        let given: [(String, String?, String)] = [
            ("--model", model, saved.model), ("--batch-size", batchSize.map(String.init), String(saved.batchSize)),
            ("--optimizer", optimizer?.lowercased(), saved.optimizer), ("--schedule", schedule, saved.schedule),
            ("--lr", learningRate.map { "\($0)" }, saved.learningRate.map { "\($0)" } ?? "the default"),
            ("--momentum", momentum.map { "\($0)" }, "\(saved.momentum)"),
            ("--weight-decay", weightDecay.map { "\($0)" }, "\(saved.weightDecay)"),
            ("--seed", seed.map(String.init), String(saved.seed)),
            ("--nesterov", nesterov.map(String.init), String(saved.nesterov)),
            ("--hidden", hidden.map(String.init), String(saved.hidden)),
            ("--layers", layers.map(String.init), String(saved.layers)),
            ("--sequence-length", sequenceLength.map(String.init), String(saved.sequenceLength)),
            ("--clip", clip.map { "\($0)" }, "\(saved.clip)"),
            ("--widths", try widths.map { try Self.parseWidths($0).map(String.init).joined(separator: ",") },
             saved.widths.map(String.init).joined(separator: ",")),
            ("--tied", tied ? "true" : nil, String(saved.tied)),
            ("--sparsity", sparsity.map { "\($0)" }, "\(saved.sparsityTarget)"),
            ("--sparsity-weight", sparsityWeight.map { "\($0)" }, "\(saved.sparsityWeight)"),
            ("--corruption", corruption.map { "\($0)" }, "\(saved.corruption)"),
            ("--gibbs-steps", gibbsSteps.map(String.init), String(saved.gibbsSteps)),
            ("--persistent", persistent ? "true" : nil, String(saved.persistent)),
            ("--pretrain-epochs", pretrainEpochs.map(String.init), String(saved.pretrainEpochs)),
            ("--pretrain-lr", pretrainLearningRate.map { "\($0)" }, "\(saved.pretrainLearningRate)"),
            ("--lambda", lambda.map { "\($0)" }, "\(saved.lambda)"),
            ("--patch-size", patchSize.map(String.init), String(saved.patchSize)),
            ("--patches", patchCount.map(String.init), String(saved.patchCount)),
            ("--data", dataOptions.data.map(DataOptions.absolute), DataOptions.absolute(saved.data)),
            ("--train-limit", dataOptions.trainLimit.map(String.init), String(saved.trainLimit)),
            ("--test-limit", dataOptions.testLimit.map(String.init), String(saved.testLimit)),
        ]
        for (flag, value, savedValue) in given where value != nil && value != savedValue {
            throw NNError.invalidSetting(name: flag, message:
                "\(value!) differs from the checkpoint's setting (\(savedValue)); a resumed run keeps the checkpoint's settings")
        }
        if importWeights != nil {
            throw NNError.invalidSetting(name: "--import-weights", message: "cannot be combined with --resume")
        }
    }
}

/// What differs between training an image classifier and a character model: the data and objective, the
/// network, what the checkpoint must also hold, and how the metric is shown.
struct TrainingSetup {
    let network: Sequential
    let objective: Objective
    /// Checkpoint metadata beyond the settings: the normalisation, or the vocabulary.
    let metadata: [String: String]
    let metric: CurveMetric
    let dataName: String
    /// The unit of throughput.
    let unit: String

    /// Builds the network with `body`; when resuming, checked against the checkpoint at `path` before its parameters
    /// are allocated (`Checkpoint.building`).
    static func build(resuming: Bool, path: String, _ body: () throws -> Sequential) throws -> Sequential {
        resuming ? try Checkpoint.building(for: path, body) : try body()
    }

    /// An image classifier on IDX or CIFAR-10 files, normalised with the checkpoint's statistics on resume.
    static func images(_ kind: ModelKind, _ settings: RunSettings, backend: Backend, saved: [String: String]?,
                       path: String) throws -> TrainingSetup {
        let savedNormalization = try saved.map { try Normalization.required(in: $0, path: path) }
        let (train, test, normalization) = try DataOptions.load(directory: settings.data, trainLimit: settings.trainLimit,
                                                                testLimit: settings.testLimit, normalization: savedNormalization,
                                                                pixels: kind.pixels)
        let network = try build(resuming: saved != nil, path: path) {
            try kind.build(inputShape: train.sampleShape, classes: train.classCount, backend: backend, seed: settings.seed)
        }
        let objective: Objective = kind == .perceptron
            ? try PerceptronRule(train: TensorDataset(oneHot: train), test: TensorDataset(oneHot: test))
            : Classification(train: train, test: test)
        return TrainingSetup(network: network, objective: objective,
                             metadata: normalization.metadata, metric: .accuracy, dataName: train.name, unit: "img/s")
    }

    /// A character model on a text, whose vocabulary a resumed run must share.
    static func text(_ settings: RunSettings, backend: Backend, saved: [String: String]?, path: String) throws -> TrainingSetup {
        guard settings.trainLimit == 0, settings.testLimit == 0 else {
            throw NNError.invalidSetting(name: settings.trainLimit != 0 ? "--train-limit" : "--test-limit",
                                         message: "applies to image data sets, not to text")
        }
        let corpus: TextCorpus
        do {
            corpus = try TextCorpus.load(path: settings.data)
        } catch NNError.dataFile(let file, let message) where saved != nil {
            throw NNError.dataFile(path: file, message: "\(message) (the text \(path) was trained on)")
        }
        let fingerprint = corpus.fingerprint
        if let saved {
            try CharacterVocabulary.stored(in: saved, path: path).checkSame(as: corpus.vocabulary, model: path, text: settings.data)
            guard saved[TextCorpus.fingerprintKey] == fingerprint else {
                throw NNError.invalidSetting(name: "--data", message: "\(settings.data) is not the text \(path) was trained on "
                    + "(\(TextCorpus.fingerprintKey) \(saved[TextCorpus.fingerprintKey] ?? "missing"), the text now gives "
                    + "\(fingerprint)): a resumed run must read the same characters in the same order")
            }
        }
        let objective = try LanguageModelling(corpus: corpus, steps: settings.sequenceLength)
        let network = try build(resuming: saved != nil, path: path) {
            try Sequential(inputShape: [settings.sequenceLength],
                           layers: Models.charLSTM(vocabulary: corpus.vocabulary.count, hidden: settings.hidden, layers: settings.layers),
                           backend: backend, seed: settings.seed)
        }
        return TrainingSetup(network: network, objective: objective, metadata: ["vocabulary": corpus.vocabulary.metadata,
                                                                            TextCorpus.fingerprintKey: fingerprint],
                             metric: .bitsPerCharacter, dataName: corpus.name, unit: "char/s")
    }
}
