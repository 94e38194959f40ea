import SynapseCore

/// Updates a model's parameters from their gradients: one launch over its whole `ParameterArena` per step.
/// Per-parameter state (momentum, Adam's moments) lives in arenas of the same layout on the same device,
/// so an optimizer never moves data between devices and a checkpoint can name every state tensor.
public protocol Optimizer: AnyObject {
    /// One update of every parameter from its gradient, at `learningRate` (the schedule's value for this step)
    /// times each parameter's multiplier. An optimizer keeps state for one arena: another one is refused.
    func step(_ arena: ParameterArena, learningRate: Float) throws
    /// The optimizer's per-parameter state for checkpoints, keyed "<parameter name>.<slot>" (e.g.
    /// "fc1.weight.momentum", "fc1.weight.adam_m", "fc1.weight.adam_v"): views into its state arenas, which are
    /// allocated (zeroed) when absent so that a loader can upload into them.
    func state(for arena: ParameterArena) throws -> [String: Tensor]
    /// Scalar state (Adam's step count) as strings, for a checkpoint's metadata.
    var scalarState: [String: String] { get }
    /// Replaces the scalar state with one read back from a checkpoint; a value that is unreadable or out of
    /// range throws and leaves the optimizer as it was.
    func restore(scalarState: [String: String]) throws
    /// A one-line description, e.g. "SGD(momentum 0.9, nesterov, weight decay 0.0005)".
    var summary: String { get }
}

// MARK: - SGD

/// Stochastic gradient descent with momentum in PyTorch's form (DESIGN.md):
/// `g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v)`, with `lr` and `wd` scaled by each
/// parameter's multipliers (Caffe's `lr_mult` / `decay_mult`).
public final class SGD: Optimizer {
    /// The share of the previous velocity kept at each step, in [0, 1); 0 is plain SGD.
    public let momentum: Float
    /// The L2 penalty, added to the gradient as `weightDecay * w` and scaled per parameter; 0 for none.
    public let weightDecay: Float
    /// Whether the update takes Nesterov's look-ahead step.
    public let nesterov: Bool

    /// The velocity of every parameter, laid out as the arena. With momentum 0 the update neither reads nor
    /// writes it (the op takes one all the same).
    private var velocity = StateArenas(slots: 1)

    /// Throws `NNError.invalidSetting` for a momentum outside [0, 1), a weight decay that is negative or not
    /// finite, or Nesterov's step without momentum.
    public init(momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) throws {
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw NNError.invalidSetting(name: "SGD momentum", message: "must be in [0, 1), got \(momentum)")
        }
        try checkWeightDecay(weightDecay, optimizer: "SGD")
        // As in PyTorch: Nesterov's look-ahead is momentum applied twice; with no momentum it is plain SGD,
        // so asking for it is a mistake worth reporting.
        guard !nesterov || momentum > 0 else {
            throw NNError.invalidSetting(name: "SGD nesterov", message: "Nesterov momentum requires momentum > 0")
        }
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func step(_ arena: ParameterArena, learningRate: Float) throws {
        // Everything that can be refused is checked before any parameter changes, so a bad call leaves the
        // model as it was.
        try checkLearningRate(learningRate)
        let v = try velocity.slot(0, for: arena)
        guard let (segments, span) = try velocity.segments(for: arena) else { return }
        let settings = SGDParameters(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
                                     nesterov: nesterov)
        try arena.backend.sgdMomentumUpdate(weights: arena.values.elements(span), gradients: arena.gradients.elements(span),
                                            velocity: v.elements(span), parameters: settings, segments: segments)
    }

    /// "<name>.momentum" per parameter; empty without momentum, whose velocity is rewritten every step.
    public func state(for arena: ParameterArena) throws -> [String: Tensor] {
        guard momentum > 0 else { return [:] }
        return try velocity.views(for: arena, suffixes: ["momentum"])
    }

    /// SGD has no scalar state; restoring ignores what it is given.
    public var scalarState: [String: String] { [:] }

    public func restore(scalarState: [String: String]) throws {}

    public var summary: String {
        var parts = ["momentum \(momentum)"]
        if nesterov { parts.append("nesterov") }
        if weightDecay > 0 { parts.append("weight decay \(weightDecay)") }
        return "SGD(" + parts.joined(separator: ", ") + ")"
    }
}

// MARK: - Adam

/// Adam (Kingma & Ba) in PyTorch's form, L2 weight decay folded into the gradient (see `AdamParameters`).
/// The step count `t` advances once per `step` call and is shared by all parameters, as in a training
/// loop where every parameter is updated every step.
public final class Adam: Optimizer {
    /// How much of the first moment (the running mean of the gradient) each step keeps, in [0, 1).
    public let beta1: Float
    /// How much of the second moment (the running mean of the squared gradient) each step keeps, in [0, 1).
    public let beta2: Float
    /// Added to the denominator, so that an element whose second moment is near zero takes a bounded step.
    public let epsilon: Float
    /// The L2 penalty, folded into the gradient as `weightDecay * w` and scaled per parameter; 0 for none.
    public let weightDecay: Float
    /// Completed steps; the next update is step `stepCount + 1` (Adam's 1-based `t`).
    public private(set) var stepCount = 0

    /// The first (m) and second (v) moments of every parameter, laid out as the arena.
    private var moments = StateArenas(slots: 2)

    /// The scalar-state key of the step count.
    public static let stepKey = "adam.step"
    /// The most steps a restored count may hold: every count up to it is exact as a Double (the bias
    /// correction's exponent), and counting on from it cannot overflow.
    public static let maxStepCount = 1 << 53

    /// PyTorch's defaults. Throws `NNError.invalidSetting` for a beta outside [0, 1), an epsilon that is not
    /// finite and positive, or a weight decay that is negative or not finite.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) throws {
        for (name, beta) in [("beta1", beta1), ("beta2", beta2)] where !(beta >= 0 && beta < 1) {
            throw NNError.invalidSetting(name: "Adam \(name)", message: "must be in [0, 1), got \(beta)")
        }
        guard epsilon.isFinite, epsilon > 0 else {
            throw NNError.invalidSetting(name: "Adam epsilon", message: "must be finite and positive, got \(epsilon)")
        }
        try checkWeightDecay(weightDecay, optimizer: "Adam")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func step(_ arena: ParameterArena, learningRate: Float) throws {
        try checkLearningRate(learningRate)
        let m = try moments.slot(0, for: arena), v = try moments.slot(1, for: arena)
        let t = stepCount + 1
        let settings = AdamParameters(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                      weightDecay: weightDecay, step: t)
        if let (segments, span) = try moments.segments(for: arena) {
            try arena.backend.adamUpdate(weights: arena.values.elements(span), gradients: arena.gradients.elements(span),
                                         firstMoment: m.elements(span), secondMoment: v.elements(span), parameters: settings,
                                         segments: segments)
        }
        stepCount = t
    }

    /// "<name>.adam_m" and "<name>.adam_v" per parameter.
    public func state(for arena: ParameterArena) throws -> [String: Tensor] {
        try moments.views(for: arena, suffixes: ["adam_m", "adam_v"])
    }

    /// `["adam.step": "<completed steps>"]`.
    public var scalarState: [String: String] { [Self.stepKey: String(stepCount)] }

    /// A missing key means a fresh optimizer (step 0).
    public func restore(scalarState: [String: String]) throws {
        guard let text = scalarState[Self.stepKey] else {
            stepCount = 0
            return
        }
        guard let count = Int(text), (0...Self.maxStepCount).contains(count) else {
            throw NNError.invalidSetting(name: Self.stepKey, message:
                "the restored step count must be an integer in 0...\(Self.maxStepCount), got '\(text)'")
        }
        stepCount = count
    }

    public var summary: String {
        var parts = ["beta1 \(beta1)", "beta2 \(beta2)", "epsilon \(epsilon)"]
        if weightDecay > 0 { parts.append("weight decay \(weightDecay)") }
        return "Adam(" + parts.joined(separator: ", ") + ")"
    }
}

// MARK: - Shared pieces

/// An optimizer's per-parameter state: `slots` tensors laid out as the arena they belong to (zeroed when
/// first needed), and the arena's update segments, remade when a parameter's multipliers change. Bound to the
/// first arena it serves.
private struct StateArenas {
    let slots: Int
    private weak var arena: ParameterArena?
    private var tensors: [Tensor] = []
    private var segments: (runs: [UpdateSegments.Run], span: Range<Int>, device: UpdateSegments)?

    init(slots: Int) { self.slots = slots }

    private mutating func bind(_ arena: ParameterArena) throws {
        if let bound = self.arena {
            guard bound === arena else {
                throw NNError.invalidSetting(name: "optimizer", message:
                    "it holds state for another model's parameters (\(bound.parameters.count) of them); use one optimizer per model")
            }
            return
        }
        tensors = try (0..<slots).map { _ in try arena.backend.tensor(shape: arena.values.shape) }
        self.arena = arena
    }

    mutating func slot(_ index: Int, for arena: ParameterArena) throws -> Tensor {
        try bind(arena)
        return tensors[index]
    }

    /// The span of the arena that training moves, from the first parameter not frozen to the end of the last
    /// (frozen pretrained layers come first, and their update is skipped), and each parameter's extent in it at
    /// its multipliers (0 for a frozen one inside the span); consecutive alike parameters share a run.
    /// Nil when every parameter is frozen: there is nothing to update.
    mutating func segments(for arena: ParameterArena) throws -> (segments: UpdateSegments, span: Range<Int>)? {
        try bind(arena)
        var runs: [UpdateSegments.Run] = []
        let parameters = arena.parameters
        guard let first = parameters.firstIndex(where: { !$0.isFrozen }),
              let last = parameters.lastIndex(where: { !$0.isFrozen }) else { return nil }
        let start = parameters[first].value.offset
        let end = last + 1 < parameters.count ? parameters[last + 1].value.offset : arena.values.count
        for (i, p) in parameters.enumerated() where (first...last).contains(i) {
            for (what, value) in [("learning-rate", p.learningRateMultiplier), ("weight-decay", p.weightDecayMultiplier)]
            where !(value.isFinite && value >= 0) {
                throw NNError.invalidSetting(name: p.name, message: "the \(what) multiplier must be finite and not negative, got \(value)")
            }
            let runEnd = i + 1 < parameters.count ? parameters[i + 1].value.offset : arena.values.count
            let run = UpdateSegments.Run(count: runEnd - p.value.offset, learningRateMultiplier: p.isFrozen ? 0 : p.learningRateMultiplier,
                                         weightDecayMultiplier: p.isFrozen ? 0 : p.weightDecayMultiplier)
            if let last = runs.last, last.learningRateMultiplier == run.learningRateMultiplier,
               last.weightDecayMultiplier == run.weightDecayMultiplier {
                runs[runs.count - 1].count += run.count
            } else {
                runs.append(run)
            }
        }
        if let cached = segments, cached.runs == runs, cached.span == start..<end { return (cached.device, start..<end) }
        let device = try arena.backend.updateSegments(runs)
        segments = (runs, start..<end, device)
        return (device, start..<end)
    }

    /// The views of each parameter in each slot, keyed "<name>.<suffix>".
    mutating func views(for arena: ParameterArena, suffixes: [String]) throws -> [String: Tensor] {
        try bind(arena)
        var views: [String: Tensor] = [:]
        for p in arena.parameters {
            for (slot, suffix) in suffixes.enumerated() {
                views["\(p.name).\(suffix)"] = Tensor(tensors[slot].buffer, offset: p.value.offset, shape: p.shape)
            }
        }
        return views
    }
}

private func checkWeightDecay(_ weightDecay: Float, optimizer: String) throws {
    guard weightDecay.isFinite, weightDecay >= 0 else {
        throw NNError.invalidSetting(name: "\(optimizer) weight decay",
                                     message: "must be finite and not negative, got \(weightDecay)")
    }
}

private func checkLearningRate(_ learningRate: Float) throws {
    guard learningRate.isFinite, learningRate >= 0 else {
        throw NNError.invalidSetting(name: "learning rate", message: "must be finite and not negative, got \(learningRate)")
    }
}
