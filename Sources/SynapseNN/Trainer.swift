import Foundation
import SynapseCore

/// Where a training step is, for progress displays.
public struct BatchProgress {
    public var epoch: Int          // 1-based
    public var batch: Int          // batches done in this epoch
    public var batches: Int        // batches per epoch
    public var loss: Float         // this batch's loss
    public var meanLoss: Float     // mean training loss over the batches done
    public var imagesPerSecond: Double
    public var elapsed: Double     // seconds since the epoch started
}

/// The outcome of one epoch.
public struct EpochReport {
    public var epoch: Int
    public var trainLoss: Double
    public var learningRate: Float   // at the epoch's last step
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// Loss, accuracy and confusion matrix of a model on a data set.
public struct Evaluation {
    public var loss: Double
    public var accuracy: Double
    /// `confusion[truth][prediction]` counts.
    public var confusion: [[Int]]
}

/// Mini-batch training of a classifier with the fused softmax cross-entropy loss. The sample order of
/// epoch e and every dropout mask come from Philox streams under `seed`, so a run is reproducible and
/// a run resumed from a checkpoint continues exactly as the uninterrupted run would have.
public final class Trainer {
    public let model: Sequential
    public let optimizer: Optimizer
    public let learningRate: Float
    public let schedule: LearningRateSchedule
    public let batchSize: Int
    public let shuffle: Bool
    /// Epochs completed.
    public internal(set) var epoch = 0
    /// Optimizer steps taken; the schedule's iteration.
    public internal(set) var iteration = 0
    private let loss = SoftmaxCrossEntropy()
    private var inputBuffer: Buffer?
    private var labelBuffer: Buffer?

    public init(model: Sequential, optimizer: Optimizer, learningRate: Float,
                schedule: LearningRateSchedule = .fixed, batchSize: Int, shuffle: Bool = true) throws {
        guard batchSize > 0 else { throw NNError.invalidSetting(name: "--batch-size", message: "must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else {
            throw NNError.invalidSetting(name: "--lr", message: "must be positive, got \(learningRate)")
        }
        if case let .cosine(_, minimum) = schedule, minimum > learningRate {
            throw NNError.invalidSetting(name: "--schedule", message:
                "the cosine schedule's minimum rate \(minimum) is above the base rate \(learningRate); the rate would rise")
        }
        self.model = model
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.schedule = schedule
        self.batchSize = batchSize
        self.shuffle = shuffle
    }

    public var backend: Backend { model.backend }

    /// The learning rate of the next step.
    public var currentLearningRate: Float { schedule.rate(base: learningRate, iteration: iteration) }

    /// Trains one epoch (the next one). Reads the loss after every step, and stops with
    /// `NNError.nonFiniteLoss` the moment it is NaN or infinite.
    public func trainEpoch(on data: Dataset, lastCheckpoint: String? = nil,
                           progress: ((BatchProgress) -> Void)? = nil) throws -> EpochReport {
        try Self.checkCompatible(data, model)
        let thisEpoch = epoch + 1
        let batches = try data.batches(epoch: thisEpoch, seed: model.seed, batchSize: batchSize, shuffle: shuffle)
        let start = Date()
        var lossSum = 0.0, seen = 0
        var rate = currentLearningRate
        for (b, indices) in batches.enumerated() {
            let (input, labels, _) = try Self.upload(data, indices, on: backend, input: &inputBuffer, labels: &labelBuffer)
            rate = currentLearningRate
            let value = try step(input, labels: labels)
            guard value.isFinite else {
                throw NNError.nonFiniteLoss(epoch: thisEpoch, step: b + 1, loss: value, checkpoint: lastCheckpoint)
            }
            lossSum += Double(value) * Double(indices.count)
            seen += indices.count
            let elapsed = Date().timeIntervalSince(start)
            progress?(BatchProgress(epoch: thisEpoch, batch: b + 1, batches: batches.count, loss: value,
                                    meanLoss: Float(lossSum / Double(seen)),
                                    imagesPerSecond: Double(seen) / max(elapsed, 1e-9), elapsed: elapsed))
        }
        try backend.synchronize()
        epoch = thisEpoch
        let seconds = Date().timeIntervalSince(start)
        return EpochReport(epoch: thisEpoch, trainLoss: lossSum / Double(seen), learningRate: rate,
                           seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9))
    }

    /// One optimizer step on a batch already on the device (`labels` int32): forward, loss, backward and
    /// update at the schedule's rate. Returns the batch's mean loss; a NaN or infinite loss leaves the
    /// weights untouched.
    public func step(_ input: Tensor, labels: Buffer) throws -> Float {
        let value = try backend.readScalar(loss.forward(model.forward(input, training: true), targets: labels))
        guard value.isFinite else { return value }
        try model.backwardParameters(loss.backward())
        try optimizer.step(model.parameters, learningRate: currentLearningRate)
        iteration += 1
        return value
    }

    /// Trains until `epochs` epochs are complete (continuing from `epoch` after a resume), evaluating on
    /// `test` and saving a checkpoint to `checkpoint` (atomically) after every epoch. The checkpoint's path is
    /// checked before the first epoch, so a path that cannot be written fails at once, not after an epoch.
    /// When the loss turns NaN the run stops with `NNError.nonFiniteLoss` and the checkpoint of the last good
    /// epoch is kept. `metadata` gives the caller's keys for the epoch's checkpoint; `epochDone` is called
    /// once that checkpoint is saved, so nothing it records can show an epoch the checkpoint lacks.
    public func fit(train: Dataset, test: Dataset?, epochs: Int, checkpoint: String? = nil,
                    metadata: (EpochReport, Evaluation?) -> [String: String] = { _, _ in [:] },
                    progress: ((BatchProgress) -> Void)? = nil,
                    epochDone: ((EpochReport, Evaluation?) throws -> Void)? = nil) throws {
        if let checkpoint {
            try AtomicFile.checkWritable(checkpoint, fail: { NNError.checkpoint(path: checkpoint, message: $0) })
        }
        // Only a checkpoint this run resumed from is its "last good" one; a stray file at the path is not.
        var lastGood = epoch > 0 ? checkpoint : nil
        while epoch < epochs {
            let report = try trainEpoch(on: train, lastCheckpoint: lastGood, progress: progress)
            let evaluation = try test.map { try evaluate($0) }
            if let checkpoint {
                try Checkpoint.save(self, to: checkpoint, metadata: metadata(report, evaluation))
                lastGood = checkpoint
            }
            try epochDone?(report, evaluation)
        }
    }

    /// Loss, accuracy and confusion matrix on `data`, in evaluation mode (dropout off).
    public func evaluate(_ data: Dataset) throws -> Evaluation {
        try Self.evaluate(model, on: data, batchSize: batchSize)
    }

    public static func evaluate(_ model: Sequential, on data: Dataset, batchSize: Int) throws -> Evaluation {
        guard batchSize > 0 else { throw NNError.invalidSetting(name: "--batch-size", message: "must be positive, got \(batchSize)") }
        try checkCompatible(data, model)
        let classes = model.outputShape.reduce(1, *)
        let backend = model.backend
        let loss = SoftmaxCrossEntropy()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var lossSum = 0.0, correct = 0
        var input: Buffer?, labels: Buffer?
        for indices in try data.batches(epoch: 0, seed: 0, batchSize: batchSize, shuffle: false) {
            let (x, y, truths) = try upload(data, indices, on: backend, input: &input, labels: &labels)
            let logits = try model.forward(x, training: false)
            lossSum += Double(try backend.readScalar(loss.forward(logits, targets: y))) * Double(indices.count)
            let scores = try backend.download(logits.buffer, offset: 0, count: indices.count * classes)
            for (row, truth) in truths.enumerated() {
                let rowScores = scores[(row * classes)..<((row + 1) * classes)]
                let predicted = rowScores.indices.max { rowScores[$0] < rowScores[$1] }! - row * classes
                confusion[Int(truth)][predicted] += 1
                if predicted == Int(truth) { correct += 1 }
            }
        }
        return Evaluation(loss: lossSum / Double(max(data.count, 1)), accuracy: Double(correct) / Double(max(data.count, 1)),
                          confusion: confusion)
    }

    /// Uploads the samples at `indices` into `input` and `labels` (reallocated when the batch size changes).
    private static func upload(_ data: Dataset, _ indices: ArraySlice<Int>, on backend: Backend,
                               input: inout Buffer?, labels: inout Buffer?) throws -> (Tensor, Buffer, [Int32]) {
        let batch = data.batch(indices: indices)
        let x = try reuse(&input, count: batch.images.count, on: backend)
        try backend.upload(batch.images, to: x, offset: 0)
        let y = try reuse(&labels, count: batch.labels.count, dtype: .int32, on: backend)
        try backend.uploadInt32(batch.labels, to: y, offset: 0)
        return (Tensor(x, shape: [indices.count] + data.sampleShape), y, batch.labels)
    }

    private static func checkCompatible(_ data: Dataset, _ model: Sequential) throws {
        let classes = model.outputShape.reduce(1, *)
        guard data.sampleShape == model.inputShape, classes >= data.classCount, data.count > 0 else {
            throw NNError.invalidSetting(name: "data", message:
                "\(data.name) has \(data.count) samples \(describe(data.sampleShape)) in \(data.classCount) classes; the model takes \(describe(model.inputShape)) and has \(classes) outputs")
        }
    }
}
