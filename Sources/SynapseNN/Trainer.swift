import Foundation
import SynapseCore

/// Where a training step is, for progress displays.
public struct BatchProgress {
    /// The epoch under way, from 1.
    public var epoch: Int          // 1-based
    /// Batches done in this epoch.
    public var batch: Int          // batches done in this epoch
    /// Batches in the whole epoch.
    public var batches: Int        // batches per epoch
    /// The loss of the last batch read; losses are read from the device only every `Trainer.lossInterval` steps.
    public var loss: Float         // the loss of the last batch read (batch `batch`)
    /// The mean training loss per example over the batches of this epoch whose loss has been read.
    public var meanLoss: Float     // mean training loss over the batches whose loss has been read
    /// Examples (images, characters) trained on per second since the epoch started.
    public var examplesPerSecond: Double
    /// Seconds since the epoch started.
    public var elapsed: Double     // seconds since the epoch started
}

/// The outcome of one epoch.
public struct EpochReport {
    /// The epoch reported, from 1.
    public var epoch: Int
    /// The mean training loss per example over the epoch.
    public var trainLoss: Double
    /// The learning rate of the epoch's last step.
    public var learningRate: Float   // at the epoch's last step
    /// Wall-clock seconds the epoch's training took, evaluation not included.
    public var seconds: Double
    /// Examples trained on per second over the epoch.
    public var examplesPerSecond: Double
}

/// Runs between backward and the optimizer's update, on the summed gradients of the step: gradient clipping,
/// and the all-reduce of data-parallel training.
public protocol GradientHook: AnyObject {
    /// Changes the summed gradients in `arena.gradients` in place, before the optimizer reads them.
    func apply(to arena: ParameterArena) throws
}

/// Scales all gradients together so that their global L2 norm is at most `maxNorm`, as PyTorch's
/// `clip_grad_norm_`: `g *= min(1, maxNorm / (||g|| + 1e-6))`, computed on the device (no synchronisation).
public final class GradientClipping: GradientHook {
    /// The largest global L2 norm the gradients are left with; finite and positive.
    public let maxNorm: Float
    private var total: Tensor?

    /// Throws `NNError.invalidSetting` unless `maxNorm` is finite and positive.
    public init(maxNorm: Float) throws {
        guard maxNorm.isFinite, maxNorm > 0 else {
            throw NNError.invalidSetting(name: "gradient clipping", message: "the maximum norm must be positive, got \(maxNorm)")
        }
        self.maxNorm = maxNorm
    }

    public func apply(to arena: ParameterArena) throws {
        let backend = arena.backend
        let total = try self.total.flatMap { $0.backend === backend ? $0 : nil } ?? backend.tensor(shape: [1])
        self.total = total
        try backend.sumOfSquares(arena.gradients, result: total)
        try backend.clipToNorm(arena.gradients, sumOfSquares: total, maxNorm: maxNorm)
    }
}

/// Mini-batch training of a model on an objective. The trainer drives the objective (which owns the data, the
/// loss and the metrics), the learning-rate schedule, the gradient hooks between backward and update,
/// checkpoints and progress. The batches of epoch e and every dropout mask come from Philox streams under the
/// model's seed, so a run is reproducible and a run resumed from a checkpoint continues exactly as the
/// uninterrupted run would have.
public final class Trainer {
    /// The model trained.
    public let model: Graph
    /// What the model is trained on and evaluated with: the data, the loss and the metrics.
    public let objective: Objective
    /// Updates the parameters at every step.
    public let optimizer: Optimizer
    /// The base learning rate, which `schedule` varies by iteration.
    public let learningRate: Float
    /// How the learning rate changes from one iteration to the next.
    public let schedule: LearningRateSchedule
    /// Examples per batch (for a text, streams per batch); evaluation uses it too.
    public let batchSize: Int
    /// Applied in order to the summed gradients of every step, before the update.
    public var gradientHooks: [GradientHook] = []
    /// The loss is read from the device every this many steps (and at the end of an epoch): reading waits for
    /// the device, which a GPU should not do every step. A NaN or infinite loss is still caught, and named by
    /// its step. Defaults to 1 on a backend that runs ops on the host (reading costs nothing there), else 16.
    public var lossInterval: Int
    /// Epochs completed.
    public internal(set) var epoch = 0
    /// Optimizer steps taken; the schedule's iteration.
    public internal(set) var iteration = 0
    /// The losses of the steps since the last read, on the device.
    private var pendingLosses: Tensor?
    /// The sum of the parameters, read after every epoch to see that they are still finite.
    private var parameterSum: Tensor?
    /// Data-parallel training: every rank trains its shard of each batch and the gradients are averaged over the
    /// group before the hooks and the update. Set it before training, on every rank alike.
    public var group: DataParallelGroup? {
        didSet { averaging = group.map { GradientAveraging(group: $0, overlap: overlapAllReduce) } }
    }
    /// Whether the data-parallel all-reduce runs in buckets on a thread of its own beside backward, rather than in
    /// one piece after it. It pays where the all-reduce has resources of its own (spare cores, a network card); on a
    /// machine whose cores the ranks already fill it costs (see the README's measurements). Set it before `group`.
    public var overlapAllReduce = false
    private var averaging: GradientAveraging?
    /// This rank's share of the batch under way (exactly 1 for a single rank); nil when the caller steps on batches
    /// of its own, each rank an equal share.
    private var shardWeight: Float?

    /// Seconds per step the update waited for the data-parallel all-reduce (its downloads and uploads included; with
    /// overlap, only what backward did not hide); nil without a group.
    public var allReduceSecondsPerStep: Double? {
        averaging.map { $0.steps > 0 ? $0.seconds / Double($0.steps) : 0 }
    }

    /// Throws `NNError.invalidSetting` for a batch size or learning rate that is not positive, or a cosine schedule
    /// whose minimum is above the base rate, and the objective's error when the model does not fit its data.
    public init(model: Graph, objective: Objective, optimizer: Optimizer, learningRate: Float,
                schedule: LearningRateSchedule = .fixed, batchSize: Int) throws {
        guard batchSize > 0 else { throw NNError.invalidSetting(name: "--batch-size", message: "must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else {
            throw NNError.invalidSetting(name: "--lr", message: "must be positive, got \(learningRate)")
        }
        if case let .cosine(_, minimum) = schedule, minimum > learningRate {
            throw NNError.invalidSetting(name: "--schedule", message:
                "the cosine schedule's minimum rate \(minimum) is above the base rate \(learningRate); the rate would rise")
        }
        try objective.check(model: model)
        self.model = model
        self.objective = objective
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.schedule = schedule
        self.batchSize = batchSize
        lossInterval = model.backend.properties.execution == .immediate ? 1 : 16
    }

    /// The device the model runs on.
    public var backend: Backend { model.backend }

    /// The learning rate of the next step.
    public var currentLearningRate: Float { schedule.rate(base: learningRate, iteration: iteration) }

    /// One optimizer step on the loss `forward` computes on the device (the objective's training forward
    /// pass): zero the gradients, forward, backward, the gradient hooks, and the update at the schedule's rate.
    /// Returns the loss, still on the device.
    @discardableResult
    public func step(forward: () throws -> Tensor) throws -> Tensor {
        let loss = try forward()
        model.zeroGradients()
        if let averaging { averaging.begin(model, weight: shardWeight ?? 1 / Float(averaging.group.size)) }
        try objective.backward(model: model)
        try averaging?.finish(model)
        for hook in gradientHooks { try hook.apply(to: model.arena) }
        try optimizer.step(model.arena, learningRate: currentLearningRate)
        iteration += 1
        return loss
    }

    /// Trains one epoch (the next one). The loss is read every `lossInterval` steps; the moment one is NaN or
    /// infinite, training stops with `NNError.nonFiniteLoss` naming the epoch and step.
    public func trainEpoch(lastCheckpoint: String? = nil, progress: ((BatchProgress) -> Void)? = nil) throws -> EpochReport {
        let thisEpoch = epoch + 1
        let batches = try objective.batches(epoch: thisEpoch, seed: model.seed, batchSize: batchSize)
        let interval = max(1, lossInterval)
        let window = try pendingLosses.flatMap { $0.count >= interval && $0.backend === backend ? $0 : nil }
            ?? backend.tensor(shape: [interval])
        pendingLosses = window
        let start = Date()
        var lossSum = 0.0, counted = 0, seen = 0
        var pending: [Batch] = []
        var rate = currentLearningRate
        var pendingShares: [Double] = []
        for batch in batches {
            rate = currentLearningRate
            let local = try shardOf(batch)
            let loss = try step { try objective.forward(local, model: model) }
            try backend.copy(from: loss.elements(0..<1), to: window.elements(pending.count..<pending.count + 1))
            pending.append(batch)
            pendingShares.append(Double(local.examples) / Double(batch.examples))
            seen += batch.examples
            guard pending.count == interval || batch.index == batches.count - 1 else { continue }
            var values = try backend.download(window.elements(0..<pending.count))
            if let group {
                // The global batch's mean loss, the same on every rank, so that all stop at the same NaN.
                var shares = zip(values, pendingShares).map { Double($0) * $1 }
                try group.sum(&shares)
                values = shares.map { Float($0) }
            }
            pendingShares.removeAll(keepingCapacity: true)
            for (value, read) in zip(values, pending) {
                guard value.isFinite else {
                    throw NNError.nonFiniteLoss(epoch: thisEpoch, step: read.index + 1, loss: value, checkpoint: lastCheckpoint)
                }
                lossSum += Double(value) * Double(read.examples)
                counted += read.examples
            }
            pending.removeAll(keepingCapacity: true)
            let elapsed = Date().timeIntervalSince(start)
            progress?(BatchProgress(epoch: thisEpoch, batch: batch.index + 1, batches: batches.count, loss: values.last!,
                                    meanLoss: Float(lossSum / Double(counted)),
                                    examplesPerSecond: Double(seen) / max(elapsed, 1e-9), elapsed: elapsed))
        }
        try backend.synchronize()
        epoch = thisEpoch
        let seconds = Date().timeIntervalSince(start)
        return EpochReport(epoch: thisEpoch, trainLoss: lossSum / Double(max(counted, 1)), learningRate: rate,
                           seconds: seconds, examplesPerSecond: Double(seen) / max(seconds, 1e-9))
    }

    /// This rank's shard of `batch` (the whole batch without a group), set up for the step: the model's randomized
    /// layers draw the shard's rows, and the gradient averaging weighs the shard by its size.
    private func shardOf(_ batch: Batch) throws -> Batch {
        guard let group else { return batch }
        let count = batch.samples.count
        let rows = group.shard(of: count)
        guard !rows.isEmpty, batch.examples == count else {
            throw NNError.invalidSetting(name: "data-parallel training", message: batch.examples != count
                ? "needs batches of samples; this objective's batches are streams"
                : "batch \(batch.index + 1) holds \(count) examples, fewer than the \(group.size) ranks that share it")
        }
        model.batchShard = BatchShard(offset: rows.lowerBound, globalBatch: count)
        shardWeight = rows.count == count ? 1 : Float(rows.count) / Float(count)
        let start = batch.samples.startIndex
        return Batch(index: batch.index, samples: batch.samples[(start + rows.lowerBound)..<(start + rows.upperBound)],
                     examples: rows.count)
    }

    /// Trains until `epochs` epochs are complete (continuing from `epoch` after a resume), evaluating the
    /// objective's held-out data and saving a checkpoint to `checkpoint` (atomically) after every epoch. The
    /// checkpoint's path is checked before the first epoch, so a path that cannot be written fails at once, not
    /// after an epoch. When the loss turns NaN the run stops with `NNError.nonFiniteLoss`, and when an epoch ends
    /// with parameters or a held-out loss that are not finite (a loss grown huge, but not yet infinite, can get
    /// there) with `NNError.diverged`; either way the checkpoint of the last good epoch is kept. `metadata` gives
    /// the caller's keys for the epoch's checkpoint; `epochDone` is called once that checkpoint is saved, so nothing
    /// it records can show an epoch the checkpoint lacks.
    public func fit(epochs: Int, checkpoint: String? = nil,
                    metadata: (EpochReport, Evaluation?) -> [String: String] = { _, _ in [:] },
                    progress: ((BatchProgress) -> Void)? = nil,
                    epochDone: ((EpochReport, Evaluation?) throws -> Void)? = nil) throws {
        if let checkpoint {
            try AtomicFile.checkWritable(checkpoint, fail: { NNError.checkpoint(path: checkpoint, message: $0) })
        }
        // Only a checkpoint this run resumed from is its "last good" one; a stray file at the path is not.
        var lastGood = epoch > 0 ? checkpoint : nil
        while epoch < epochs {
            let report = try trainEpoch(lastCheckpoint: lastGood, progress: progress)
            let evaluation = try evaluate()
            try checkFinite(evaluation, lastCheckpoint: lastGood)
            if let checkpoint {
                try Checkpoint.save(self, to: checkpoint, metadata: metadata(report, evaluation))
                lastGood = checkpoint
            }
            try epochDone?(report, evaluation)
        }
    }

    /// Throws `NNError.diverged` when the parameters or the held-out loss after this epoch are NaN or infinite; with
    /// a group, on every rank when on any. The trainer is left as the epoch left it (`epoch` counts it), its
    /// parameters unusable: resume from the last good checkpoint to go on.
    private func checkFinite(_ evaluation: Evaluation?, lastCheckpoint: String?) throws {
        var what: String?
        if let loss = evaluation?.loss, !loss.isFinite { what = "the held-out loss is \(loss)" }
        if try !parametersAreFinite() { what = "the parameters hold NaN or infinite values" }
        if let group {
            var votes = [what == nil ? 0.0 : 1.0]
            try group.sum(&votes)
            if votes[0] > 0, what == nil { what = "another rank's parameters or held-out loss are not finite" }
        }
        if let what { throw NNError.diverged(epoch: epoch, what: what, checkpoint: lastCheckpoint) }
    }

    /// Whether every parameter is finite: their sum on the device, and only when that is not finite (NaN or
    /// infinity, or finite values whose sum overflows) a look at each value on the host.
    private func parametersAreFinite() throws -> Bool {
        let backend = model.backend
        let sum = try parameterSum.flatMap { $0.backend === backend ? $0 : nil } ?? backend.tensor(shape: [1])
        parameterSum = sum
        try backend.sum(model.arena.values, result: sum)
        if try backend.readScalar(sum).isFinite { return true }
        return try backend.download(model.arena.values).allSatisfy(\.isFinite)
    }

    /// The objective's loss and metrics on its held-out data, in evaluation mode (dropout off). With a group, each
    /// rank evaluates its part and the means are combined, weighted by the parts' examples, on every rank.
    public func evaluate() throws -> Evaluation? {
        guard let group else { return try objective.evaluate(model: model, batchSize: batchSize) }
        guard let (local, examples) = try objective.evaluate(model: model, batchSize: batchSize, part: group.rank, of: group.size)
        else { return nil }
        let keys = local.metrics.keys.sorted()
        let weight = Double(examples)
        let weightedMetrics: [Double] = keys.map { local.metrics[$0]! * weight }
        var sums: [Double] = [weight, local.loss * weight] + weightedMetrics
        try group.sum(&sums)
        let total = max(sums[0], 1)
        return Evaluation(loss: sums[1] / total,
                          metrics: Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, sums[$0 + 2] / total) }))
    }
}
