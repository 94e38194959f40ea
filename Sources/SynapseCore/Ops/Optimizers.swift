/// Parameter updates, one launch over a whole parameter arena.
public protocol OptimizerKernels {
    func uncheckedSGDUpdate(weights: Tensor, gradients: Tensor, velocity: Tensor, parameters: SGDParameters,
                            segments: UpdateSegments) throws
    func uncheckedAdamUpdate(weights: Tensor, gradients: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                             parameters: AdamParameters, segments: UpdateSegments) throws
}

/// Consecutive runs of elements that an update treats differently: each run's learning rate and weight decay
/// are the update's, times the run's multipliers (Caffe's `lr_mult` and `decay_mult` per parameter). Made by
/// `Backend.updateSegments`, which checks them, and kept on the device.
public struct UpdateSegments {
    /// int32 `[runs]`: where each run ends (exclusive), increasing; the last is `count`.
    public let ends: Tensor
    /// float `[runs]`: each run's learning-rate multiplier.
    public let learningRateMultipliers: Tensor
    /// float `[runs]`: each run's weight-decay multiplier.
    public let weightDecayMultipliers: Tensor
    /// The elements the runs cover.
    public let count: Int
    /// The runs as given, for backends that walk them on the host.
    public let runs: [Run]

    public struct Run: Equatable, Sendable {
        public var count: Int
        public var learningRateMultiplier: Float
        public var weightDecayMultiplier: Float

        public init(count: Int, learningRateMultiplier: Float = 1, weightDecayMultiplier: Float = 1) {
            self.count = count
            self.learningRateMultiplier = learningRateMultiplier
            self.weightDecayMultiplier = weightDecayMultiplier
        }
    }
}

extension Backend {
    /// The device form of `runs`: each run needs a positive count and finite, non-negative multipliers, and
    /// the counts together at most 2^31 - 1 elements.
    public func updateSegments(_ runs: [UpdateSegments.Run]) throws -> UpdateSegments {
        let op = "updateSegments"
        guard !runs.isEmpty else { throw SynapseError.invalidArgument(op: op, message: "needs at least one run") }
        var ends: [Int32] = [], end = 0
        for (i, run) in runs.enumerated() {
            try Check.positive(op: op, ["count of run \(i)": run.count])
            for (what, value) in [("learning-rate", run.learningRateMultiplier), ("weight-decay", run.weightDecayMultiplier)]
            where !(value.isFinite && value >= 0) {
                throw SynapseError.invalidArgument(op: op, message:
                    "the \(what) multiplier of run \(i) must be finite and not negative, got \(value)")
            }
            end += run.count
            guard end <= Int(Int32.max) else {
                throw SynapseError.invalidArgument(op: op, message: "the runs cover more than 2^31 - 1 elements")
            }
            ends.append(Int32(end))
        }
        return UpdateSegments(ends: try tensor(int32: ends),
                              learningRateMultipliers: try tensor(runs.map(\.learningRateMultiplier)),
                              weightDecayMultipliers: try tensor(runs.map(\.weightDecayMultiplier)),
                              count: end, runs: runs)
    }

    /// One SGD step in PyTorch's form (see `SGDParameters`) over `weights`, updating them and `velocity` (unless
    /// the momentum is 0) in place, with each run of `segments` at its own multiples of the learning rate and
    /// weight decay.
    public func sgdMomentumUpdate(weights: Tensor, gradients: Tensor, velocity: Tensor, parameters: SGDParameters,
                                  segments: UpdateSegments) throws {
        let op = "sgdMomentumUpdate"
        let views: KeyValuePairs<String, Tensor> = ["weights": weights, "gradients": gradients, "velocity": velocity]
        try Check.elementwise(on: self, op: op, views)
        try Check.disjoint(op: op, Array(views))
        try Check.segments(segments, op: op, count: weights.count, on: self)
        try uncheckedSGDUpdate(weights: weights, gradients: gradients, velocity: velocity, parameters: parameters,
                               segments: segments)
    }

    /// One Adam step (see `AdamParameters`): updates `weights`, `firstMoment` (m) and `secondMoment` (v) in
    /// place, with each run of `segments` at its own multiples of the learning rate and weight decay; the
    /// moments start zeroed. The four views must not overlap (an aliased moment would silently corrupt the
    /// update), and the hyper-parameters must lie in Adam's domain: a Float beta below 1 and a step of at
    /// least 1 keep the bias corrections `1 - beta^t` positive, so the update never divides by zero.
    public func adamUpdate(weights: Tensor, gradients: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                           parameters p: AdamParameters, segments: UpdateSegments) throws {
        let op = "adamUpdate"
        func invalid(_ message: String) -> SynapseError { .invalidArgument(op: op, message: message) }
        guard p.step >= 1 else { throw invalid("step must be at least 1 (it is 1-based), got \(p.step)") }
        guard p.learningRate.isFinite, p.learningRate >= 0 else {
            throw invalid("learningRate must be finite and not negative, got \(p.learningRate)")
        }
        guard p.beta1 >= 0, p.beta1 < 1 else { throw invalid("beta1 must be in [0, 1), got \(p.beta1)") }
        guard p.beta2 >= 0, p.beta2 < 1 else { throw invalid("beta2 must be in [0, 1), got \(p.beta2)") }
        guard p.epsilon.isFinite, p.epsilon > 0 else {
            throw invalid("epsilon must be finite and positive, got \(p.epsilon)")
        }
        guard p.weightDecay.isFinite, p.weightDecay >= 0 else {
            throw invalid("weightDecay must be finite and not negative, got \(p.weightDecay)")
        }
        let views: KeyValuePairs<String, Tensor> = ["weights": weights, "gradients": gradients,
                                                    "firstMoment": firstMoment, "secondMoment": secondMoment]
        try Check.elementwise(on: self, op: op, views)
        try Check.disjoint(op: op, Array(views))
        try Check.segments(segments, op: op, count: weights.count, on: self)
        try uncheckedAdamUpdate(weights: weights, gradients: gradients, firstMoment: firstMoment,
                                secondMoment: secondMoment, parameters: p, segments: segments)
    }
}

extension Check {
    /// Segments made on this backend for exactly `count` elements.
    static func segments(_ s: UpdateSegments, op: String, count: Int, on backend: Backend) throws {
        try view(s.ends, "segments.ends", op: op, on: backend, count: s.runs.count, exact: true, dtype: .int32)
        try view(s.learningRateMultipliers, "segments.learningRateMultipliers", op: op, on: backend,
                 count: s.runs.count, exact: true)
        try view(s.weightDecayMultipliers, "segments.weightDecayMultipliers", op: op, on: backend,
                 count: s.runs.count, exact: true)
        guard s.count == count else {
            throw SynapseError.shapeMismatch(op: op, message: "the segments cover \(s.count) elements, the update \(count)")
        }
    }
}
