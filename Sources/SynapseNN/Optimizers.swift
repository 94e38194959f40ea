import SynapseCore

/// Updates parameters from their gradients. Implementations keep per-parameter state (momentum, Adam's
/// moments) on each parameter's own backend, keyed by parameter name, so an optimizer never moves data
/// between devices and a checkpoint can name every state buffer.
public protocol Optimizer: AnyObject {
    /// One update of every parameter from its `gradient`, at `learningRate` (the schedule's value for this step).
    func step(_ parameters: [Parameter], learningRate: Float) throws
    /// The optimizer's per-parameter state for checkpoints, keyed "<parameter name>.<slot>" (e.g. "fc1.weight.momentum",
    /// "fc1.weight.adam_m", "fc1.weight.adam_v"), allocating zeroed buffers when absent so a loader can upload into them.
    func stateBuffers(for parameters: [Parameter]) throws -> [String: Buffer]
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
    public let momentum: Float
    public let weightDecay: Float
    public let nesterov: Bool

    /// Velocity buffers by parameter name. With momentum 0 they are still needed, as scratch space the
    /// update kernel writes, but they carry nothing from one step to the next.
    private var velocity = StateSlots()

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

    public func step(_ parameters: [Parameter], learningRate: Float) throws {
        // Everything that can be refused is checked before the first parameter changes, so a bad call
        // leaves the model as it was.
        try checkStep(parameters, learningRate: learningRate)
        let velocities = try parameters.map { try velocity.buffer(for: $0) }
        for (p, v) in zip(parameters, velocities) {
            let settings = SGDParameters(learningRate: learningRate * p.learningRateMultiplier, momentum: momentum,
                                         weightDecay: weightDecay * p.weightDecayMultiplier, nesterov: nesterov)
            try p.value.backend.sgdMomentumUpdate(weights: p.value, gradients: p.gradient, velocity: v,
                                                  count: p.count, parameters: settings)
        }
    }

    /// "<name>.momentum" per parameter; empty without momentum, whose velocity is rewritten every step.
    public func stateBuffers(for parameters: [Parameter]) throws -> [String: Buffer] {
        guard momentum > 0 else { return [:] }
        try checkNames(parameters)
        var buffers = [String: Buffer]()
        for p in parameters { buffers[p.name + ".momentum"] = try velocity.buffer(for: p) }
        return buffers
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
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    /// Completed steps; the next update is step `stepCount + 1` (Adam's 1-based `t`).
    public private(set) var stepCount = 0

    private var firstMoment = StateSlots(), secondMoment = StateSlots()

    /// The scalar-state key of the step count.
    public static let stepKey = "adam.step"
    /// The most steps a restored count may hold: every count up to it is exact as a Double (the bias
    /// correction's exponent), and counting on from it cannot overflow.
    public static let maxStepCount = 1 << 53

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

    public func step(_ parameters: [Parameter], learningRate: Float) throws {
        try checkStep(parameters, learningRate: learningRate)
        let ms = try parameters.map { try firstMoment.buffer(for: $0) }
        let vs = try parameters.map { try secondMoment.buffer(for: $0) }
        let t = stepCount + 1
        for (i, p) in parameters.enumerated() {
            let settings = AdamParameters(learningRate: learningRate * p.learningRateMultiplier, beta1: beta1,
                                          beta2: beta2, epsilon: epsilon,
                                          weightDecay: weightDecay * p.weightDecayMultiplier, step: t)
            try p.value.backend.adamUpdate(weights: p.value, gradients: p.gradient, firstMoment: ms[i],
                                           secondMoment: vs[i], count: p.count, parameters: settings)
        }
        stepCount = t
    }

    /// "<name>.adam_m" and "<name>.adam_v" per parameter.
    public func stateBuffers(for parameters: [Parameter]) throws -> [String: Buffer] {
        try checkNames(parameters)
        var buffers = [String: Buffer]()
        for p in parameters {
            buffers[p.name + ".adam_m"] = try firstMoment.buffer(for: p)
            buffers[p.name + ".adam_v"] = try secondMoment.buffer(for: p)
        }
        return buffers
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

/// One kind of per-parameter state (a velocity, a moment): a zeroed buffer per parameter name, on the
/// parameter's own backend, allocated on first use.
private struct StateSlots {
    private var buffers = [String: Buffer]()

    mutating func buffer(for p: Parameter) throws -> Buffer {
        if let existing = buffers[p.name] {
            // A different size or device under the same name is a different parameter: carrying the
            // state over would be wrong, and silently resetting it would hide the mix-up.
            guard existing.count == p.count, existing.backend === p.value.backend else {
                throw NNError.invalidSetting(name: p.name, message:
                    "the optimizer holds state for a parameter of this name with \(existing.count) elements on "
                    + "\(existing.backend.name), but this one has \(p.count) on \(p.value.backend.name)")
            }
            return existing
        }
        let fresh = try p.value.backend.allocate(p.count, .float32)  // a fresh buffer holds zeros
        buffers[p.name] = fresh
        return fresh
    }
}

private func checkWeightDecay(_ weightDecay: Float, optimizer: String) throws {
    guard weightDecay.isFinite, weightDecay >= 0 else {
        throw NNError.invalidSetting(name: "\(optimizer) weight decay",
                                     message: "must be finite and not negative, got \(weightDecay)")
    }
}

/// State is keyed by name, so two parameters of one name would share (and corrupt) one state buffer.
private func checkNames(_ parameters: [Parameter]) throws {
    var seen = Set<String>()
    for p in parameters where !seen.insert(p.name).inserted {
        throw NNError.invalidSetting(name: p.name, message: "two parameters share this name; optimizer state is kept by name")
    }
}

/// The checks every update makes before touching any parameter: unique names, and a learning rate and
/// weight-decay multiplier that give each parameter a finite, non-negative step.
private func checkStep(_ parameters: [Parameter], learningRate: Float) throws {
    guard learningRate.isFinite, learningRate >= 0 else {
        throw NNError.invalidSetting(name: "learning rate", message: "must be finite and not negative, got \(learningRate)")
    }
    try checkNames(parameters)
    for p in parameters {
        for (what, value) in [("learning-rate", p.learningRateMultiplier), ("weight-decay", p.weightDecayMultiplier)]
        where !(value.isFinite && value >= 0) {
            throw NNError.invalidSetting(name: p.name, message: "the \(what) multiplier must be finite and not negative, got \(value)")
        }
    }
}
