import Foundation
import Synapse

/// `synapse train` for the layer-wise models: each layer of the stack is pretrained in turn (its own phase, with
/// the layers below frozen), then a stack is fine-tuned as a classifier. The checkpoint always holds the phase
/// under way (`stack.phase`), so `--resume` continues inside any phase, exactly as an uninterrupted run would.
struct LayerwiseTraining {
    let kind: ModelKind
    let settings: RunSettings
    let backend: Backend
    let checkpoint: String
    let curvesBase: String
    /// The checkpoint's metadata when resuming.
    let saved: [String: String]?

    /// Where a stack's checkpoint is copied when pretraining ends, before fine-tuning replaces it: the deep belief
    /// net as a generative model, for `sample` and `filters`.
    static func pretrainedPath(_ checkpoint: String) -> String {
        (checkpoint as NSString).deletingPathExtension + ".pretrained.safetensors"
    }

    /// What a layer's pretraining reports: an RBM's pseudo-likelihood, an autoencoder's reconstruction error.
    static func pretrainingMetric(_ kind: ModelKind) -> CurveMetric { kind.isBoltzmann ? .pseudoLikelihood : .meanSquaredError }

    /// The metadata key of the phase a checkpoint holds: layer k's pretraining is phase k; fine-tuning follows.
    static let phaseKey = "stack.phase"

    func run() throws {
        let stack = try kind.stack(settings)!
        if kind.isUnsupervised, stack.widths.count != 1 {
            throw NNError.invalidSetting(name: "--widths", message:
                "\(kind.rawValue) has one hidden layer, got \(stack.widths.count) widths; for several use \(kind == .rbm ? "dbn" : "stacked-autoencoder")")
        }
        let layerCount = stack.widths.count, phases = kind.isUnsupervised ? 1 : layerCount + 1
        // Without pretraining epochs a stack is its classifier trained from scratch: the baseline pretraining must beat.
        var firstPhase = kind.isUnsupervised || settings.pretrainEpochs > 0 ? 1 : layerCount + 1
        if let saved { firstPhase = try Self.phase(in: saved, path: checkpoint, kind: kind, settings: settings) }
        let savedNormalization = try saved.map { try Normalization.required(in: $0, path: checkpoint) }
        let (train, test, normalization) = try Self.loadData(kind, directory: settings.data, trainLimit: settings.trainLimit,
                                                             testLimit: settings.testLimit, normalization: savedNormalization)
        let unlabelledTrain = try TensorDataset(name: train.name, reconstructing: train.images, shape: train.sampleShape)
        let unlabelledTest = try TensorDataset(name: test.name, reconstructing: test.images, shape: test.sampleShape)
        print("data: \(train.name) \(train.count) images\(kind.pixels == .binarized ? ", binarised at 0.5" : kind.pixels == .unitInterval ? ", intensities in [0, 1]" : "")")
        print("device: \(backend.name)  \(backend.deviceDescription)")
        let metadata = settings.metadata.merging(normalization.metadata) { $1 }
        var below: Graph?
        for phase in firstPhase...phases {
            let resuming = saved != nil && phase == firstPhase
            var points: [CurvePoint] = []
            let phaseMetadata = metadata.merging([Self.phaseKey: String(phase)]) { $1 }
            if phase <= layerCount {
                let model = try TrainingSetup.build(resuming: resuming, path: checkpoint) {
                    try stack.pretrainingModel(layer: phase, inputShape: train.sampleShape, backend: backend, seed: settings.seed)
                }
                if let below { try LayerwiseStack.transfer(from: below, to: model) }
                let objective = try stack.pretrainingObjective(layer: phase, model: model, train: unlabelledTrain,
                                                               test: unlabelledTest, batchSize: settings.batchSize)
                let epochs = kind.isUnsupervised ? settings.epochs : settings.pretrainEpochs
                let rate = kind.isUnsupervised ? settings.learningRate! : settings.pretrainLearningRate
                let schedule = kind.isUnsupervised ? settings.schedule : "fixed"
                let trainer = try makeTrainer(model, objective, rate: rate, schedule: schedule, epochs: epochs, resuming: resuming,
                                              points: &points)
                let what = kind.isUnsupervised ? kind.rawValue : "layer \(phase)/\(layerCount) pretraining"
                print("\(what): \(stack.unitDescription)")
                print(model.summary)
                let metric = Self.pretrainingMetric(kind)
                let curves = kind.isUnsupervised ? curvesBase : "\(curvesBase).layer\(phase)"
                try EpochRecorder(metric: metric, unit: "img/s", curvesBase: curves,
                                  title: "\(kind.rawValue) \(kind.isUnsupervised ? "" : "layer \(phase) ")on \(train.name), \(backend.name)",
                                  prefix: kind.isUnsupervised ? "" : "layer \(phase)/\(layerCount) ", metadata: phaseMetadata)
                    .fit(trainer, epochs: epochs, checkpoint: checkpoint, points: &points)
                print("checkpoint: \(checkpoint)  curves: \(curves).csv, \(curves).svg")
                if let active = try objective.evaluate(model: model, batchSize: settings.batchSize)?.metrics[ContrastiveDivergence.meanHidden],
                   active < 0.01 || active > 0.99 {
                    print(String(format: "warning: layer %d's hidden units are %@ (mean activation %.4f): it codes almost nothing; "
                                 + "try a lower --pretrain-lr or --momentum", phase, active < 0.01 ? "nearly all off" : "nearly all on", active))
                }
                if phase == layerCount, !kind.isUnsupervised {
                    let pretrained = Self.pretrainedPath(checkpoint)
                    try SafeTensors.read(from: checkpoint).write(to: pretrained)
                    print("the pretrained stack is kept in \(pretrained)")
                }
                below = model
            } else {
                let classifier = try TrainingSetup.build(resuming: resuming, path: checkpoint) {
                    try kind.build(inputShape: train.sampleShape, classes: train.classCount, backend: backend,
                                   seed: settings.seed, settings: settings)
                }
                if let below { try LayerwiseStack.transfer(from: below, to: classifier) }
                let trainer = try makeTrainer(classifier, Classification(train: train, test: test), rate: settings.learningRate!,
                                              schedule: settings.schedule, epochs: settings.epochs, resuming: resuming,
                                              points: &points)
                print("fine-tuning the stack as a classifier")
                print(classifier.summary)
                try EpochRecorder(metric: .accuracy, unit: "img/s", curvesBase: curvesBase,
                                  title: "\(kind.rawValue) fine-tuned on \(train.name), \(backend.name)", prefix: "fine-tune ",
                                  metadata: phaseMetadata)
                    .fit(trainer, epochs: settings.epochs, checkpoint: checkpoint, points: &points)
                print("checkpoint: \(checkpoint)  curves: \(curvesBase).csv, \(curvesBase).svg")
            }
        }
    }

    /// The data of a layer-wise model, its pixels scaled as the model wants (`ModelKind.pixels`), normalised with
    /// `normalization` when given (a checkpoint's).
    static func loadData(_ kind: ModelKind, directory: String, trainLimit: Int, testLimit: Int,
                         normalization given: Normalization?) throws -> (Dataset, Dataset, Normalization) {
        let (train, test, normalization) = try DataOptions.load(directory: directory, trainLimit: trainLimit,
                                                                testLimit: testLimit, normalization: given,
                                                                pixels: kind.pixels)
        return kind.pixels == .binarized ? (train.binarized(), test.binarized(), normalization) : (train, test, normalization)
    }

    /// The phase checkpoint `path` holds, from its metadata, within the phases of `kind` under `settings`.
    static func phase(in metadata: [String: String], path: String, kind: ModelKind, settings: RunSettings) throws -> Int {
        let phases = kind.isUnsupervised ? 1 : settings.widths.count + 1
        guard let text = metadata[phaseKey], let phase = Int(text), (1...phases).contains(phase) else {
            throw NNError.checkpoint(path: path, message:
                "metadata field '\(phaseKey)' is \(metadata[phaseKey].map { "'\($0)'" } ?? "missing"), not a phase in 1...\(phases)")
        }
        return phase
    }

    /// A trainer for one phase with the run's optimizer at `rate`, restored from the checkpoint when `resuming`,
    /// with the phase's curves so far in `points`.
    private func makeTrainer(_ model: Graph, _ objective: Objective, rate: Float, schedule: String, epochs: Int,
                             resuming: Bool, points: inout [CurvePoint]) throws -> Trainer {
        let perEpoch = try objective.batches(epoch: 1, seed: settings.seed, batchSize: settings.batchSize).count
        let optimizer = try makeOptimizer(settings)
        let trainer = try Trainer(model: model, objective: objective, optimizer: optimizer, learningRate: rate,
                                  schedule: LearningRateSchedule(parsing: schedule, iterationsPerEpoch: perEpoch,
                                                                 totalIterations: perEpoch * epochs),
                                  batchSize: settings.batchSize)
        if settings.clip > 0 { trainer.gradientHooks = [try GradientClipping(maxNorm: settings.clip)] }
        if resuming {
            try Checkpoint.resume(trainer, from: checkpoint)
            points = resumedCurves(saved, checkpoint: checkpoint, epochs: trainer.epoch)
        }
        let clipping = settings.clip > 0 ? ", gradients clipped to norm \(settings.clip)" : ""
        if trainer.epoch < epochs {
            print("training: \(optimizer.summary), lr \(rate), schedule \(schedule), batch \(settings.batchSize), seed \(settings.seed)\(clipping)")
        }
        return trainer
    }
}
