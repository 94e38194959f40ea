import Foundation

/// Caffe's learning-rate policies, evaluated per iteration (`iteration` is 0-based: the first update uses
/// `rate(base:iteration: 0)`). Sizes, milestones and maxima are in iterations; the command-line form
/// (`init(parsing:...)`) takes them in epochs and converts.
public enum LearningRateSchedule: Equatable, CustomStringConvertible {
    /// `base`
    case fixed
    /// `base * gamma^floor(it / size)`
    case step(size: Int, gamma: Float)
    /// `base * gamma^(number of milestones <= it)`
    case multistep(milestones: [Int], gamma: Float)
    /// `base * gamma^it`
    case exponential(gamma: Float)
    /// `base * (1 + gamma * it)^(-power)`
    case inverse(gamma: Float, power: Float)
    /// `base * (1 - it / maxIterations)^power`, and 0 from `maxIterations` on.
    case poly(power: Float, maxIterations: Int)
    /// `minimum + (base - minimum) * (1 + cos(pi * it / maxIterations)) / 2`, and `minimum` from
    /// `maxIterations` on.
    case cosine(maxIterations: Int, minimum: Float = 0)

    /// The learning rate at `iteration`, computed in Double so that long runs (gamma^it, 1 - it/max) do not
    /// accumulate Float32 rounding, then rounded once.
    /// A schedule that fails `validate()` still returns a number (sizes below 1 count as 1) rather than trap.
    public func rate(base: Float, iteration: Int) -> Float {
        let base = Double(base), it = Double(max(iteration, 0))
        switch self {
        case .fixed:
            return Float(base)
        case let .step(size, gamma):
            return Float(base * pow(Double(gamma), (it / Double(max(size, 1))).rounded(.down)))
        case let .multistep(milestones, gamma):
            let passed = milestones.filter { $0 <= max(iteration, 0) }.count
            return Float(base * pow(Double(gamma), Double(passed)))
        case let .exponential(gamma):
            return Float(base * pow(Double(gamma), it))
        case let .inverse(gamma, power):
            return Float(base * pow(1 + Double(gamma) * it, -Double(power)))
        case let .poly(power, maxIterations):
            guard iteration < maxIterations else { return 0 }
            return Float(base * pow(1 - it / Double(maxIterations), Double(power)))
        case let .cosine(maxIterations, minimum):
            let minimum = Double(minimum)
            guard iteration < maxIterations else { return Float(minimum) }
            return Float(minimum + (base - minimum) * (1 + cos(Double.pi * it / Double(maxIterations))) / 2)
        }
    }

    /// Throws `NNError.invalidSetting(name: "--schedule", ...)` for values outside each policy's domain.
    public func validate() throws {
        func fail(_ message: String) -> NNError { Self.error(message) }
        func checkGamma(_ gamma: Float) throws {
            guard gamma.isFinite, gamma > 0 else { throw fail("gamma must be finite and positive, got \(gamma)") }
        }
        switch self {
        case .fixed:
            break
        case let .step(size, gamma):
            guard size >= 1 else { throw fail("the step size must be at least 1 iteration, got \(size)") }
            try checkGamma(gamma)
        case let .multistep(milestones, gamma):
            guard !milestones.isEmpty else { throw fail("multistep needs at least one milestone") }
            guard milestones[0] >= 1, zip(milestones, milestones.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw fail("milestones must be positive and strictly increasing, got \(milestones)")
            }
            try checkGamma(gamma)
        case let .exponential(gamma):
            try checkGamma(gamma)
        case let .inverse(gamma, power):
            guard gamma.isFinite, gamma >= 0 else { throw fail("gamma must be finite and not negative, got \(gamma)") }
            guard power.isFinite, power >= 0 else { throw fail("power must be finite and not negative, got \(power)") }
        case let .poly(power, maxIterations):
            guard power.isFinite, power >= 0 else { throw fail("power must be finite and not negative, got \(power)") }
            guard maxIterations >= 1 else { throw fail("poly needs at least 1 iteration, got \(maxIterations)") }
        case let .cosine(maxIterations, minimum):
            guard maxIterations >= 1 else { throw fail("cosine needs at least 1 iteration, got \(maxIterations)") }
            guard minimum.isFinite, minimum >= 0 else {
                throw fail("the minimum rate must be finite and not negative, got \(minimum)")
            }
        }
    }

    /// The command-line forms, shown in every parse error.
    public static let acceptedForms = "fixed, step:EPOCHS[:GAMMA], multistep:E1,E2,...[:GAMMA], exp:GAMMA, "
        + "inv:GAMMA:POWER, poly:POWER, cosine[:MINIMUM]"

    /// Parses the command-line form. Step sizes and milestones are given in epochs (fractions allowed)
    /// and converted to iterations with `iterationsPerEpoch`, rounding to the nearest iteration; `poly` and
    /// `cosine` end at `totalIterations` (the whole run). `exp` and `inv` stay per iteration, as in Caffe.
    /// Step and multistep's gamma defaults to 0.1; cosine's minimum rate to 0.
    public init(parsing text: String, iterationsPerEpoch: Int, totalIterations: Int) throws {
        guard iterationsPerEpoch >= 1 else {
            throw Self.error("iterations per epoch must be at least 1, got \(iterationsPerEpoch)")
        }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let arguments = Array(fields.dropFirst())
        func number(_ field: String, _ what: String) throws -> Float {
            guard let value = Float(field), value.isFinite else {
                throw Self.error("'\(text)': \(what) '\(field)' is not a number")
            }
            return value
        }
        /// Epochs to iterations; a positive number of epochs must give at least one iteration.
        func iterations(_ field: String, _ what: String) throws -> Int {
            let epochs = try number(field, what)
            guard epochs > 0 else { throw Self.error("'\(text)': \(what) must be positive, got \(field)") }
            let exact = (Double(epochs) * Double(iterationsPerEpoch)).rounded()
            guard exact < Double(Int32.max) else { throw Self.error("'\(text)': \(what) \(field) is too large") }
            return max(1, Int(exact))
        }
        /// The optional argument at `index`, or `fallback` when it is absent.
        func optional(_ index: Int, _ what: String, default fallback: Float) throws -> Float {
            guard index < arguments.count else { return fallback }
            return try number(arguments[index], what)
        }
        func expect(_ counts: ClosedRange<Int>) throws {
            guard counts.contains(arguments.count) else {
                throw Self.error("'\(text)' has \(arguments.count) argument(s) after '\(fields[0])'")
            }
        }
        func needsTotal() throws {
            guard totalIterations >= 1 else {
                throw Self.error("'\(fields[0])' needs the run's total iterations, got \(totalIterations)")
            }
        }
        switch fields[0].lowercased() {
        case "fixed":
            try expect(0...0)
            self = .fixed
        case "step":
            try expect(1...2)
            self = .step(size: try iterations(arguments[0], "the step size in epochs"),
                         gamma: try optional(1, "gamma", default: 0.1))
        case "multistep":
            try expect(1...2)
            let milestones = try arguments[0].split(separator: ",", omittingEmptySubsequences: false).map {
                try iterations($0.trimmingCharacters(in: .whitespaces), "milestone")
            }
            self = .multistep(milestones: milestones, gamma: try optional(1, "gamma", default: 0.1))
        case "exp":
            try expect(1...1)
            self = .exponential(gamma: try number(arguments[0], "gamma"))
        case "inv":
            try expect(2...2)
            self = .inverse(gamma: try number(arguments[0], "gamma"), power: try number(arguments[1], "power"))
        case "poly":
            try expect(1...1)
            try needsTotal()
            self = .poly(power: try number(arguments[0], "power"), maxIterations: totalIterations)
        case "cosine":
            try expect(0...1)
            try needsTotal()
            self = .cosine(maxIterations: totalIterations, minimum: try optional(0, "the minimum rate", default: 0))
        default:
            throw Self.error("unknown schedule '\(text)'")
        }
        try validate()
    }

    /// The schedule in words, its sizes in iterations, for logs.
    public var description: String {
        switch self {
        case .fixed:
            return "fixed"
        case let .step(size, gamma):
            return "step(every \(size) iterations, gamma \(gamma))"
        case let .multistep(milestones, gamma):
            return "multistep(at iterations \(milestones.map(String.init).joined(separator: ", ")), gamma \(gamma))"
        case let .exponential(gamma):
            return "exp(gamma \(gamma) per iteration)"
        case let .inverse(gamma, power):
            return "inv(gamma \(gamma), power \(power))"
        case let .poly(power, maxIterations):
            return "poly(power \(power), over \(maxIterations) iterations)"
        case let .cosine(maxIterations, minimum):
            return "cosine(over \(maxIterations) iterations, minimum \(minimum))"
        }
    }

    private static func error(_ message: String) -> NNError {
        .invalidSetting(name: "--schedule", message: message + "; accepted forms: " + acceptedForms)
    }
}
