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

    func run() throws {
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
            if let data = dataOptions.data { settings.data = data }
            if let trainLimit = dataOptions.trainLimit { settings.trainLimit = trainLimit }
            if let testLimit = dataOptions.testLimit { settings.testLimit = testLimit }
        }
        try settings.validate()
        let epochs = settings.epochs
        var savedNormalization: Normalization?
        if resume {
            guard let normalization = try Normalization.stored(in: saved, path: checkpointPath) else {
                throw NNError.checkpoint(path: checkpointPath, message: "metadata 'normalization.mean'/'normalization.std' are missing")
            }
            savedNormalization = normalization
        }

        let kind = try ModelKind(parsing: settings.model)
        let backend = try deviceOption.backend()
        let (train, test, normalization) = try DataOptions.load(directory: settings.data, trainLimit: settings.trainLimit,
                                                                testLimit: settings.testLimit, normalization: savedNormalization)
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
        let trainer = try Trainer(model: network, objective: Classification(train: train, test: test), optimizer: optimizer,
                                  learningRate: baseRate, schedule: lrSchedule, batchSize: settings.batchSize)
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
        func point(_ report: EpochReport, _ e: Evaluation) -> CurvePoint {
            CurvePoint(epoch: report.epoch, trainLoss: report.trainLoss, testLoss: e.loss, testAccuracy: e.accuracy ?? 0,
                       learningRate: Double(report.learningRate), seconds: report.seconds,
                       imagesPerSecond: report.examplesPerSecond)
        }
        try trainer.fit(epochs: epochs, checkpoint: checkpointPath,
                        metadata: { report, evaluation in
                            settings.metadata.merging(normalization.metadata) { $1 }
                                .merging(["curves": Curves.csv(points + [point(report, evaluation!)])]) { $1 }
                        },
                        progress: { p in
                            if p.batch == 1 { bar = ProgressBar(title: "epoch \(p.epoch)/\(epochs)", total: p.batches) }
                            bar?.update(done: p.batch, loss: p.meanLoss, imagesPerSecond: p.examplesPerSecond, elapsed: p.elapsed)
                        },
                        epochDone: { report, evaluation in
                            let e = evaluation!
                            bar?.finish(String(format: "epoch %d/%d  train loss %.4f  test loss %.4f  test accuracy %.2f%%  %.1f s  %.0f img/s  lr %.3g",
                                               report.epoch, epochs, report.trainLoss, e.loss, 100 * (e.accuracy ?? 0),
                                               report.seconds, report.examplesPerSecond, report.learningRate))
                            points.append(point(report, e))
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
            ("--nesterov", nesterov ? "true" : nil, String(saved.nesterov)),
            ("--data", dataOptions.data, saved.data),
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
