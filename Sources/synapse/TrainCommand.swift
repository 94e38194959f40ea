import ArgumentParser
import Foundation
import Synapse

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a network; with no arguments, the LeNet-style net on Fashion-MNIST on the best device.",
        discussion: "After every epoch the test loss and accuracy are printed, a checkpoint is saved (atomically) "
            + "and the curves are written as CSV and SVG next to it. --resume continues a run from its checkpoint "
            + "with the checkpoint's settings, giving the same weights as an uninterrupted run on the same device."
    )

    @Option(help: "mlp, lenet, alexnet-small or alexnet.") var model: String?
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var deviceOption: DeviceOption
    @Option(help: "Total epochs to train (default 15; a resumed run continues up to the epochs it was planned for).") var epochs: Int?
    @Option(help: "Images per mini-batch (default 64).") var batchSize: Int?
    @Option(name: .customLong("lr"), help: "Base learning rate (default 0.02 with SGD, 0.001 with Adam).") var learningRate: Float?
    @Option(help: ArgumentHelp("Learning-rate schedule: \(LearningRateSchedule.acceptedForms) (sizes in epochs; default cosine).",
                               valueName: "schedule")) var schedule: String?
    @Option(help: "sgd or adam (default sgd).") var optimizer: String?
    @Option(help: "SGD momentum (default 0.9).") var momentum: Float?
    @Flag(help: "Nesterov momentum.") var nesterov = false
    @Option(help: "L2 weight decay (default 5e-4).") var weightDecay: Float?
    @Option(help: "Seed of the weights, the sample order and the dropout masks (default 1).") var seed: UInt64?
    @Option(help: "Checkpoint file (default <model>.safetensors).") var checkpoint: String?
    @Flag(help: "Continue the run saved in the checkpoint.") var resume = false
    @Flag(help: "Replace an existing checkpoint by a new run (without it, an existing checkpoint is never overwritten).")
    var overwrite = false
    @Option(help: ArgumentHelp("Initialise from a safetensors file of PyTorch weights with the same parameter names.",
                               valueName: "file")) var importWeights: String?

    /// Settings a run is defined by; stored in the checkpoint, and read back on --resume.
    struct Settings {
        var model = "lenet", batchSize = 64, optimizer = "sgd", schedule = "cosine"
        var learningRate: Float?, momentum: Float = 0.9, weightDecay: Float = 5e-4, nesterov = false
        var seed: UInt64 = 1, epochs = 15
        var data = Dataset.defaultDirectory, trainLimit = 0, testLimit = 0

        var metadata: [String: String] {
            ["settings.model": model, "settings.batch_size": String(batchSize), "settings.optimizer": optimizer,
             "settings.schedule": schedule, "settings.lr": learningRate.map { "\($0)" } ?? "",
             "settings.momentum": "\(momentum)", "settings.weight_decay": "\(weightDecay)",
             "settings.nesterov": String(nesterov), "settings.seed": String(seed), "settings.epochs": String(epochs),
             "settings.data": data, "settings.train_limit": String(trainLimit), "settings.test_limit": String(testLimit)]
        }
    }

    func run() throws {
        let checkpointPath = checkpoint ?? "\(model ?? "lenet").safetensors"
        let curvesBase = (checkpointPath as NSString).deletingPathExtension
        guard curvesBase + ".csv" != checkpointPath, curvesBase + ".svg" != checkpointPath else {
            throw NNError.invalidSetting(name: "--checkpoint", message: "\(checkpointPath) would be overwritten by the curves; use a .safetensors name")
        }
        var settings = Settings()
        var saved: [String: String] = [:]
        if resume {
            saved = try Checkpoint.metadata(at: checkpointPath)
            settings = try Self.settings(from: saved, path: checkpointPath)
            try checkNoConflict(with: settings)
            if let epochs { settings.epochs = epochs }
        } else {
            guard overwrite || !FileManager.default.fileExists(atPath: checkpointPath) else {
                throw NNError.invalidSetting(name: "--checkpoint", message:
                    "\(checkpointPath) exists; continue that run with --resume, or start a new one with --overwrite or another --checkpoint")
            }
            if let model { settings.model = model }
            if let batchSize { settings.batchSize = batchSize }
            if let optimizer { settings.optimizer = optimizer.lowercased() }
            if let schedule { settings.schedule = schedule }
            settings.learningRate = learningRate
            if let momentum { settings.momentum = momentum }
            if let weightDecay { settings.weightDecay = weightDecay }
            settings.nesterov = nesterov
            if let seed { settings.seed = seed }
            if let epochs { settings.epochs = epochs }
            settings.data = dataOptions.data
            settings.trainLimit = dataOptions.trainLimit
            settings.testLimit = dataOptions.testLimit
        }
        let epochs = settings.epochs
        guard epochs > 0, epochs <= 1_000_000 else {
            throw NNError.invalidSetting(name: "--epochs", message: "must be in 1...1000000, got \(epochs)")
        }
        guard settings.batchSize > 0, settings.batchSize <= 1 << 24 else {
            throw NNError.invalidSetting(name: "--batch-size", message: "must be in 1...16777216, got \(settings.batchSize)")
        }
        var dataOptions = dataOptions
        (dataOptions.data, dataOptions.trainLimit, dataOptions.testLimit) = (settings.data, settings.trainLimit, settings.testLimit)
        var savedNormalization: Normalization?
        if resume {
            guard let normalization = Normalization(metadata: saved) else {
                throw NNError.checkpoint(path: checkpointPath, message: "metadata 'normalization.mean'/'normalization.std' are missing or unreadable")
            }
            savedNormalization = normalization
        }

        let kind = try ModelKind(parsing: settings.model)
        let backend = try deviceOption.backend()
        let (train, test, normalization) = try dataOptions.load(normalization: savedNormalization)
        print("data: \(train.name) \(train.count) images, \(test.name) \(test.count) images, \(describe(train.sampleShape))")
        print("device: \(backend.name)  \(backend.deviceDescription)")
        let network = try kind.build(inputShape: train.sampleShape, classes: train.classCount, backend: backend, seed: settings.seed)
        print(network.summary)
        if let importWeights {
            try Checkpoint.importWeights(into: network, from: importWeights)
            print("imported weights from \(importWeights)")
        }

        let optimizer: Optimizer
        let baseRate: Float
        switch settings.optimizer {
        case "sgd":
            optimizer = try SGD(momentum: settings.momentum, weightDecay: settings.weightDecay, nesterov: settings.nesterov)
            baseRate = settings.learningRate ?? 0.02
        case "adam":
            optimizer = try Adam(weightDecay: settings.weightDecay)
            baseRate = settings.learningRate ?? 0.001
        default:
            throw NNError.invalidSetting(name: "--optimizer", message: "unknown optimizer '\(settings.optimizer)'; available: sgd, adam")
        }
        settings.learningRate = baseRate   // saved resolved, so a later change of the default cannot alter a resumed run
        let batchesPerEpoch = (train.count - 1) / settings.batchSize + 1
        let lrSchedule = try LearningRateSchedule(parsing: settings.schedule, iterationsPerEpoch: batchesPerEpoch,
                                                  totalIterations: batchesPerEpoch * epochs)
        let trainer = try Trainer(model: network, optimizer: optimizer, learningRate: baseRate, schedule: lrSchedule,
                                  batchSize: settings.batchSize)
        var points: [CurvePoint] = []
        if resume {
            try Checkpoint.resume(trainer, from: checkpointPath)
            points = Curves.parse(saved["curves"] ?? "")
            print("resumed from \(checkpointPath) after epoch \(trainer.epoch)")
            if let planned = saved["settings.epochs"], planned != String(epochs) {
                print("note: the run was planned for \(planned) epochs, now \(epochs); schedules that span the run (cosine, poly) change from here on")
            }
            if trainer.epoch >= epochs { print("nothing to do: the checkpoint has already trained \(trainer.epoch) of \(epochs) epochs") }
        }
        print("training: \(optimizer.summary), lr \(baseRate), schedule \(lrSchedule), batch \(settings.batchSize), seed \(settings.seed)")

        var bar: ProgressBar?
        try trainer.fit(train: train, test: test, epochs: epochs, checkpoint: checkpointPath,
                        metadata: {
                            settings.metadata.merging(normalization.metadata) { $1 }
                                .merging(["curves": Curves.csv(points)]) { $1 }
                        },
                        progress: { p in
                            if p.batch == 1 { bar = ProgressBar(title: "epoch \(p.epoch)/\(epochs)", total: p.batches) }
                            bar?.update(done: p.batch, loss: p.meanLoss, imagesPerSecond: p.imagesPerSecond, elapsed: p.elapsed)
                        },
                        epochDone: { report, evaluation in
                            let e = evaluation!
                            bar?.finish(String(format: "epoch %d/%d  train loss %.4f  test loss %.4f  test accuracy %.2f%%  %.1f s  %.0f img/s  lr %.3g",
                                               report.epoch, epochs, report.trainLoss, e.loss, 100 * e.accuracy,
                                               report.seconds, report.imagesPerSecond, report.learningRate))
                            points.append(CurvePoint(epoch: report.epoch, trainLoss: report.trainLoss, testLoss: e.loss,
                                                     testAccuracy: e.accuracy, learningRate: Double(report.learningRate),
                                                     seconds: report.seconds, imagesPerSecond: report.imagesPerSecond))
                            do {
                                try Curves.write(Curves.csv(points), to: curvesBase + ".csv")
                                try Curves.write(Curves.svg(points, title: "\(kind.rawValue) on \(train.name), \(backend.name)"),
                                                 to: curvesBase + ".svg")
                            } catch {
                                print("warning: could not write the curves: \(error)")
                            }
                        })
        print("checkpoint: \(checkpointPath)  curves: \(curvesBase).csv, \(curvesBase).svg")
    }

    /// A resumed run continues with the checkpoint's settings; an explicit flag that disagrees is a mistake.
    private func checkNoConflict(with saved: Settings) throws {
        let given: [(String, String?, String)] = [
            ("--model", model, saved.model), ("--batch-size", batchSize.map(String.init), String(saved.batchSize)),
            ("--optimizer", optimizer?.lowercased(), saved.optimizer), ("--schedule", schedule, saved.schedule),
            ("--lr", learningRate.map { "\($0)" }, saved.learningRate.map { "\($0)" } ?? "the default"),
            ("--momentum", momentum.map { "\($0)" }, "\(saved.momentum)"),
            ("--weight-decay", weightDecay.map { "\($0)" }, "\(saved.weightDecay)"),
            ("--seed", seed.map(String.init), String(saved.seed)),
            ("--nesterov", nesterov ? "true" : nil, String(saved.nesterov)),
            ("--data", dataOptions.data == Dataset.defaultDirectory ? nil : dataOptions.data, saved.data),
            ("--train-limit", dataOptions.trainLimit == 0 ? nil : String(dataOptions.trainLimit), String(saved.trainLimit)),
            ("--test-limit", dataOptions.testLimit == 0 ? nil : String(dataOptions.testLimit), String(saved.testLimit)),
        ]
        for (flag, value, savedValue) in given where value != nil && value != savedValue {
            throw NNError.invalidSetting(name: flag, message:
                "\(value!) differs from the checkpoint's setting (\(savedValue)); a resumed run keeps the checkpoint's settings")
        }
        if importWeights != nil {
            throw NNError.invalidSetting(name: "--import-weights", message: "cannot be combined with --resume")
        }
    }

    private static func settings(from metadata: [String: String], path: String) throws -> Settings {
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
        var s = Settings()
        s.model = try value("model")
        s.batchSize = try parsed("batch_size") { Int($0) }
        s.optimizer = try value("optimizer")
        s.schedule = try value("schedule")
        let rate = try value("lr")
        s.learningRate = rate.isEmpty ? nil : try parsed("lr") { Float($0) }
        s.momentum = try parsed("momentum") { Float($0) }
        s.weightDecay = try parsed("weight_decay") { Float($0) }
        s.nesterov = try parsed("nesterov") { Bool($0) }
        s.seed = try parsed("seed") { UInt64($0) }
        s.epochs = try parsed("epochs") { Int($0) }
        s.data = try value("data")
        s.trainLimit = try parsed("train_limit") { Int($0) }
        s.testLimit = try parsed("test_limit") { Int($0) }
        return s
    }
}
