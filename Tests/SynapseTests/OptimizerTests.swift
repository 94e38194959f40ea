import Foundation
import Synapse
import XCTest

/// SynapseNN's optimizers on every backend against Float64 references of PyTorch's update rules, their
/// checkpoint state, and the learning-rate schedules.
final class OptimizerTests: SynapseTestCase {
    // MARK: - Fixtures

    /// Three parameters of odd sizes; the bias trains at twice the rate without decay (AlexNet's
    /// multipliers) and the conv weight at half the rate with 1.5x decay, so both multipliers are exercised.
    struct Spec {
        let name: String
        let count: Int
        let lrMultiplier: Float
        let wdMultiplier: Float
    }

    let specs = [
        Spec(name: "fc1.weight", count: 37, lrMultiplier: 1, wdMultiplier: 1),
        Spec(name: "fc1.bias", count: 7, lrMultiplier: 2, wdMultiplier: 0),
        Spec(name: "conv1.weight", count: 257, lrMultiplier: 0.5, wdMultiplier: 1.5),
    ]

    /// Learning rates of successive steps, as a schedule would give them.
    let rates: [Float] = [0.1, 0.05, 0.02, 0.01, 0.005]

    /// Initial values and per-step gradients for every parameter.
    struct Inputs {
        var values: [[Float]]
        var gradients: [[[Float]]]  // [step][parameter][element]
    }

    func inputs(seed: UInt64, steps: Int) -> Inputs {
        var random = TestRandom(seed: seed)
        let values = specs.map { random.floats($0.count) }
        let gradients = (0..<steps).map { _ in specs.map { random.floats($0.count) } }
        return Inputs(values: values, gradients: gradients)
    }

    /// The specs' parameters in an arena of their own, holding `values`.
    func parameters(on backend: Backend, values: [[Float]]) throws -> ParameterArena {
        let arena = try ParameterArena(specs.map { ($0.name, [$0.count]) }, backend: backend)
        for ((spec, value), p) in zip(zip(specs, values), arena.parameters) {
            p.learningRateMultiplier = spec.lrMultiplier
            p.weightDecayMultiplier = spec.wdMultiplier
            try backend.upload(value, to: p.value)
        }
        return arena
    }

    /// Uploads step `s`'s gradients and runs one update.
    func step(_ optimizer: Optimizer, _ arena: ParameterArena, _ inputs: Inputs, _ s: Int) throws {
        for (p, g) in zip(arena.parameters, inputs.gradients[s]) {
            try p.value.backend.upload(g, to: p.gradient)
        }
        try optimizer.step(arena, learningRate: rates[s])
    }

    // MARK: - SGD

    /// PyTorch's SGD per parameter: g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v).
    func testSGDAgainstFloat64Reference() throws {
        let steps = 4
        let data = inputs(seed: 110, steps: steps)
        let settings: [(momentum: Float, weightDecay: Float, nesterov: Bool)] = [
            (0, 0, false), (0, 1e-2, false), (0.9, 0, false), (0.9, 5e-4, true), (0.8, 1e-2, false), (0.5, 0, true),
        ]
        for setting in settings {
            var w = data.values.map { $0.map(Double.init) }
            var v = specs.map { [Double](repeating: 0, count: $0.count) }
            var expected = [[[Double]]]()
            let (mu, wd) = (Double(setting.momentum), Double(setting.weightDecay))
            for s in 0..<steps {
                for (j, spec) in specs.enumerated() {
                    let lr = Double(rates[s]) * Double(spec.lrMultiplier)
                    let decay = wd * Double(spec.wdMultiplier)
                    for i in 0..<spec.count {
                        let grad = Double(data.gradients[s][j][i]) + decay * w[j][i]
                        v[j][i] = mu * v[j][i] + grad
                        w[j][i] -= lr * (setting.nesterov ? grad + mu * v[j][i] : v[j][i])
                    }
                }
                expected.append(w)
            }
            forEachBackend { backend in
                let optimizer = try SGD(momentum: setting.momentum, weightDecay: setting.weightDecay,
                                        nesterov: setting.nesterov)
                let params = try parameters(on: backend, values: data.values)
                for s in 0..<steps {
                    try step(optimizer, params, data, s)
                    for (j, p) in params.parameters.enumerated() {
                        assertClose(try backend.download(p.value), expected[s][j],
                                    OpCall(backend, optimizer.summary, "\(p.name) step \(s)"), "weights")
                    }
                }
            }
        }
    }

    // MARK: - Adam

    /// PyTorch's Adam per parameter, t = 1, 2, ...: g' = g + wd*w; m = b1*m + (1-b1)*g';
    /// v = b2*v + (1-b2)*g'^2; w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
    func testAdamAgainstFloat64Reference() throws {
        let steps = 5
        let data = inputs(seed: 111, steps: steps)
        let settings: [(b1: Float, b2: Float, eps: Float, wd: Float)] = [
            (0.9, 0.999, 1e-8, 0), (0.9, 0.999, 1e-8, 1e-2), (0.5, 0.9, 1e-4, 5e-4),
        ]
        for setting in settings {
            let (b1, b2) = (Double(setting.b1), Double(setting.b2))
            let (eps, wd) = (Double(setting.eps), Double(setting.wd))
            var w = data.values.map { $0.map(Double.init) }
            var m = specs.map { [Double](repeating: 0, count: $0.count) }, v = m
            var expected = [[[Double]]]()
            for s in 0..<steps {
                let t = Double(s + 1)
                let bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t)
                for (j, spec) in specs.enumerated() {
                    let lr = Double(rates[s]) * Double(spec.lrMultiplier)
                    let decay = wd * Double(spec.wdMultiplier)
                    for i in 0..<spec.count {
                        let grad = Double(data.gradients[s][j][i]) + decay * w[j][i]
                        m[j][i] = b1 * m[j][i] + (1 - b1) * grad
                        v[j][i] = b2 * v[j][i] + (1 - b2) * grad * grad
                        w[j][i] -= lr / bc1 * m[j][i] / (v[j][i].squareRoot() / bc2.squareRoot() + eps)
                    }
                }
                expected.append(w)
            }
            forEachBackend { backend in
                let optimizer = try Adam(beta1: setting.b1, beta2: setting.b2, epsilon: setting.eps,
                                         weightDecay: setting.wd)
                let params = try parameters(on: backend, values: data.values)
                for s in 0..<steps {
                    try step(optimizer, params, data, s)
                    XCTAssertEqual(optimizer.stepCount, s + 1)
                    for (j, p) in params.parameters.enumerated() {
                        assertClose(try backend.download(p.value), expected[s][j],
                                    OpCall(backend, optimizer.summary, "\(p.name) step \(s + 1)"), "weights")
                    }
                }
            }
        }
    }

    // MARK: - Checkpoint state

    func testStateBufferKeys() throws {
        forEachBackend { backend in
            let params = try parameters(on: backend, values: specs.map { [Float](repeating: 0, count: $0.count) })
            let names = specs.map(\.name)
            let sgd = try SGD(momentum: 0.9)
            let sgdState = try sgd.state(for: params)
            XCTAssertEqual(Set(sgdState.keys), Set(names.map { $0 + ".momentum" }))
            let adamState = try Adam().state(for: params)
            XCTAssertEqual(Set(adamState.keys), Set(names.flatMap { [$0 + ".adam_m", $0 + ".adam_v"] }))
            for (key, view) in sgdState.merging(adamState, uniquingKeysWith: { a, _ in a }) {
                let p = params.parameters.first { key.hasPrefix($0.name + ".") }!
                XCTAssertEqual(view.shape, p.shape, key)
                XCTAssertTrue(view.backend === backend, key)
                XCTAssertEqual(try backend.download(view), [Float](repeating: 0, count: p.count), "\(key) starts zeroed")
            }
            // Asking again returns the same memory, not fresh: a loader's upload must reach the optimizer.
            let again = try sgd.state(for: params)
            for (key, view) in again {
                XCTAssertTrue(view.buffer === sgdState[key]!.buffer && view.offset == sgdState[key]!.offset, key)
            }
            // Without momentum nothing carries over between steps, so there is nothing to save.
            XCTAssertTrue(try SGD().state(for: params).isEmpty)
            XCTAssertEqual(try SGD(momentum: 0.9).scalarState, [:])
        }
    }

    /// Save after two steps, restore into a fresh optimizer and fresh parameters, and both continue
    /// bit-identically; without the restored step count Adam's bias correction (and so its result) differs.
    func testRestoredStateContinuesBitIdentically() throws {
        let steps = 5, saved = 2
        let data = inputs(seed: 112, steps: steps)
        let makers: [(String, () throws -> Optimizer)] = [
            ("SGD", { try SGD(momentum: 0.9, weightDecay: 1e-3, nesterov: true) }),
            ("Adam", { try Adam(weightDecay: 1e-3) }),
        ]
        for (label, make) in makers {
            forEachBackend { backend in
                let original = try make()
                let originalParams = try parameters(on: backend, values: data.values)
                for s in 0..<saved { try step(original, originalParams, data, s) }

                // The checkpoint: weights, state buffers and scalar state, as plain values.
                let weights = try originalParams.parameters.map { try backend.download($0.value) }
                let state = try original.state(for: originalParams).mapValues { try backend.download($0) }
                let scalars = original.scalarState
                if label == "Adam" { XCTAssertEqual(scalars, [Adam.stepKey: "2"]) }

                func restored(withScalars: Bool) throws -> (Optimizer, ParameterArena) {
                    let optimizer = try make()
                    let params = try parameters(on: backend, values: weights)
                    let buffers = try optimizer.state(for: params)
                    XCTAssertEqual(Set(buffers.keys), Set(state.keys), label)
                    for (key, values) in state { try backend.upload(values, to: buffers[key]!) }
                    if withScalars { try optimizer.restore(scalarState: scalars) }
                    return (optimizer, params)
                }
                let (resumed, resumedParams) = try restored(withScalars: true)
                let (forgetful, forgetfulParams) = try restored(withScalars: false)
                for s in saved..<steps {
                    try step(original, originalParams, data, s)
                    try step(resumed, resumedParams, data, s)
                    try step(forgetful, forgetfulParams, data, s)
                }
                let originalState = try original.state(for: originalParams)
                let resumedState = try resumed.state(for: resumedParams)
                for (a, b) in zip(originalParams.parameters, resumedParams.parameters) {
                    assertBitwiseEqual(try backend.download(b.value), try backend.download(a.value),
                                       OpCall(backend, "\(label) resumed", a.name), "weights")
                }
                for (key, buffer) in originalState {
                    assertBitwiseEqual(try backend.download(resumedState[key]!), try backend.download(buffer),
                                       OpCall(backend, "\(label) resumed", key), "state")
                }
                XCTAssertEqual(resumed.scalarState, original.scalarState, label)
                if label == "Adam" {
                    let differs = try zip(originalParams.parameters, forgetfulParams.parameters).contains {
                        try backend.download($0.value) != backend.download($1.value)
                    }
                    XCTAssertTrue(differs, "\(backend.name): Adam without its step count should not match")
                }
            }
        }
    }

    func testAdamScalarStateRestore() throws {
        let adam = try Adam()
        try adam.restore(scalarState: [Adam.stepKey: "41"])
        XCTAssertEqual(adam.stepCount, 41)
        try adam.restore(scalarState: [:])
        XCTAssertEqual(adam.stepCount, 0, "a missing key means a fresh optimizer")
        // Unreadable or out of range (a count near Int.max would overflow at the next step): refused, and
        // the optimizer keeps what it had.
        try adam.restore(scalarState: [Adam.stepKey: "7"])
        for bad in ["-3", "x", "\(Int.max)", "\(Int.max - 1)", "\(Adam.maxStepCount + 1)"] {
            assertNNError(name: Adam.stepKey, mentioning: bad) { try adam.restore(scalarState: [Adam.stepKey: bad]) }
            XCTAssertEqual(adam.stepCount, 7)
        }
        forEachBackend { backend in
            let adam = try Adam()
            try adam.restore(scalarState: [Adam.stepKey: "\(Adam.maxStepCount)"])
            let params = try parameters(on: backend, values: specs.map { [Float](repeating: 1, count: $0.count) })
            try adam.step(params, learningRate: 0.1)
            XCTAssertEqual(adam.stepCount, Adam.maxStepCount + 1)
        }
    }

    // MARK: - Validation and summaries

    func testBadSettingsAreRefused() throws {
        assertNNError(name: "SGD momentum", mentioning: "[0, 1)") { _ = try SGD(momentum: -0.1) }
        assertNNError(name: "SGD momentum", mentioning: "[0, 1)") { _ = try SGD(momentum: 1) }
        assertNNError(name: "SGD weight decay", mentioning: "negative") { _ = try SGD(weightDecay: -1) }
        assertNNError(name: "SGD nesterov", mentioning: "momentum > 0") { _ = try SGD(nesterov: true) }
        assertNNError(name: "Adam beta1", mentioning: "[0, 1)") { _ = try Adam(beta1: 1) }
        assertNNError(name: "Adam beta2", mentioning: "[0, 1)") { _ = try Adam(beta2: .nan) }
        assertNNError(name: "Adam epsilon", mentioning: "positive") { _ = try Adam(epsilon: 0) }
        assertNNError(name: "Adam weight decay", mentioning: "got inf") { _ = try Adam(weightDecay: .infinity) }

        forEachBackend { backend in
            let ones = specs.map { [Float](repeating: 1, count: $0.count) }
            for optimizer in [try SGD(momentum: 0.9) as Optimizer, try Adam()] {
                let params = try parameters(on: backend, values: ones)
                assertNNError(name: "learning rate", mentioning: "-0.1") {
                    try optimizer.step(params, learningRate: -0.1)
                }
                assertNNError(name: "learning rate", mentioning: "nan") {
                    try optimizer.step(params, learningRate: .nan)
                }
                params.parameters[1].learningRateMultiplier = -1
                assertNNError(name: "fc1.bias", mentioning: "learning-rate multiplier") {
                    try optimizer.step(params, learningRate: 0.1)
                }
                params.parameters[1].learningRateMultiplier = 1
                // Nothing above touched a parameter: every check runs before the first update.
                for (p, value) in zip(params.parameters, ones) { XCTAssertEqual(try backend.download(p.value), value, p.name) }
                // State belongs to one arena: another model's parameters are refused, not mixed up.
                try optimizer.step(params, learningRate: 0.1)
                let other = try parameters(on: backend, values: ones)
                assertNNError(name: "optimizer", mentioning: "another model's parameters") {
                    try optimizer.step(other, learningRate: 0.1)
                }
            }
            // Optimizer state and checkpoints are kept by name: two parameters of one name are refused.
            SynapseTests.assertNNError(contains: ["two parameters are named 'fc1.weight'"]) {
                _ = try ParameterArena([("fc1.weight", [3]), ("fc1.weight", [4])], backend: backend)
            }
        }
    }

    func testSummaries() throws {
        XCTAssertEqual(try SGD(momentum: 0.9, weightDecay: 5e-4, nesterov: true).summary,
                       "SGD(momentum 0.9, nesterov, weight decay 0.0005)")
        XCTAssertEqual(try SGD().summary, "SGD(momentum 0.0)")
        XCTAssertEqual(try Adam().summary, "Adam(beta1 0.9, beta2 0.999, epsilon 1e-08)")
        XCTAssertEqual(try Adam(weightDecay: 0.01).summary, "Adam(beta1 0.9, beta2 0.999, epsilon 1e-08, weight decay 0.01)")
    }

    // MARK: - Schedules

    func testSchedulesMatchTheirFormulas() {
        let base: Float = 0.1
        let b = Double(base)
        let cases: [(LearningRateSchedule, (Double) -> Double)] = [
            (.fixed, { _ in b }),
            (.step(size: 30, gamma: 0.1), { b * pow(Double(Float(0.1)), floor($0 / 30)) }),
            (.multistep(milestones: [10, 25, 60], gamma: 0.5), { it in
                b * pow(0.5, Double([10, 25, 60].filter { Double($0) <= it }.count))
            }),
            (.exponential(gamma: 0.99), { b * pow(Double(Float(0.99)), $0) }),
            (.inverse(gamma: 1e-3, power: 0.75), { b * pow(1 + Double(Float(1e-3)) * $0, -0.75) }),
            (.poly(power: 2, maxIterations: 80), { $0 >= 80 ? 0 : b * pow(1 - $0 / 80, 2) }),
            (.poly(power: 0.5, maxIterations: 80), { $0 >= 80 ? 0 : b * pow(1 - $0 / 80, 0.5) }),
            (.cosine(maxIterations: 80), { $0 >= 80 ? 0 : b * (1 + cos(Double.pi * $0 / 80)) / 2 }),
            (.cosine(maxIterations: 80, minimum: 0.001), { it in
                let minimum = Double(Float(0.001))
                return it >= 80 ? minimum : minimum + (b - minimum) * (1 + cos(Double.pi * it / 80)) / 2
            }),
        ]
        for (schedule, formula) in cases {
            for it in [0, 1, 9, 10, 24, 25, 29, 30, 40, 59, 60, 61, 79, 80, 81, 1000] {
                let expected = Float(formula(Double(it)))
                let got = schedule.rate(base: base, iteration: it)
                XCTAssertEqual(got, expected, accuracy: expected.ulp * 2, "\(schedule) at iteration \(it)")
            }
        }
        // Landmarks worth stating outright.
        XCTAssertEqual(LearningRateSchedule.step(size: 10, gamma: 0.5).rate(base: 1, iteration: 9), 1)
        XCTAssertEqual(LearningRateSchedule.step(size: 10, gamma: 0.5).rate(base: 1, iteration: 10), 0.5)
        XCTAssertEqual(LearningRateSchedule.step(size: 10, gamma: 0.5).rate(base: 1, iteration: 25), 0.25)
        XCTAssertEqual(LearningRateSchedule.multistep(milestones: [5, 8], gamma: 0.1).rate(base: 1, iteration: 4), 1)
        XCTAssertEqual(LearningRateSchedule.multistep(milestones: [5, 8], gamma: 0.1).rate(base: 1, iteration: 5), 0.1)
        XCTAssertEqual(LearningRateSchedule.cosine(maxIterations: 100).rate(base: 1, iteration: 50), 0.5, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.cosine(maxIterations: 100, minimum: 0.2).rate(base: 1, iteration: 100), 0.2)
        XCTAssertEqual(LearningRateSchedule.poly(power: 1, maxIterations: 100).rate(base: 1, iteration: 100), 0)
    }

    func testParsingSchedules() throws {
        let cases: [(String, LearningRateSchedule)] = [
            ("fixed", .fixed),
            ("step:3", .step(size: 300, gamma: 0.1)),
            ("step:2:0.5", .step(size: 200, gamma: 0.5)),
            ("step:0.5", .step(size: 50, gamma: 0.1)),
            ("multistep:2,5", .multistep(milestones: [200, 500], gamma: 0.1)),
            ("multistep:2,5:0.2", .multistep(milestones: [200, 500], gamma: 0.2)),
            ("exp:0.999", .exponential(gamma: 0.999)),
            ("inv:1e-4:0.75", .inverse(gamma: 1e-4, power: 0.75)),
            ("poly:2", .poly(power: 2, maxIterations: 1000)),
            ("cosine", .cosine(maxIterations: 1000)),
            ("cosine:1e-4", .cosine(maxIterations: 1000, minimum: 1e-4)),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try LearningRateSchedule(parsing: text, iterationsPerEpoch: 100, totalIterations: 1000),
                           expected, text)
        }
        XCTAssertEqual(try LearningRateSchedule(parsing: "step:1", iterationsPerEpoch: 1, totalIterations: 0),
                       .step(size: 1, gamma: 0.1), "step needs no total")

        let bad: [(String, String)] = [
            ("", "unknown schedule"), ("linear", "unknown schedule 'linear'"), ("fixed:1", "argument"),
            ("step", "argument"), ("step:0", "positive"), ("step:-1", "positive"), ("step:x", "'x' is not a number"),
            ("step:1:0.5:3", "argument"), ("step:1:nan", "not a number"), ("step:1:0", "gamma"),
            ("multistep:", "not a number"), ("multistep:5,2", "strictly increasing"),
            ("multistep:2,2", "strictly increasing"), ("exp", "argument"), ("exp:0", "gamma"),
            ("inv:0.1", "argument"), ("inv:0.1:-1", "power"), ("poly:-1", "power"), ("cosine:1:2", "argument"),
            ("cosine:-0.1", "minimum"),
        ]
        for (text, needle) in bad {
            assertNNError(name: "--schedule", mentioning: needle, LearningRateSchedule.acceptedForms) {
                _ = try LearningRateSchedule(parsing: text, iterationsPerEpoch: 100, totalIterations: 1000)
            }
        }
        assertNNError(name: "--schedule", mentioning: "total iterations") {
            _ = try LearningRateSchedule(parsing: "poly:2", iterationsPerEpoch: 100, totalIterations: 0)
        }
        assertNNError(name: "--schedule", mentioning: "iterations per epoch") {
            _ = try LearningRateSchedule(parsing: "fixed", iterationsPerEpoch: 0, totalIterations: 10)
        }
    }

    func testScheduleDescriptions() {
        XCTAssertEqual(LearningRateSchedule.fixed.description, "fixed")
        XCTAssertEqual(LearningRateSchedule.step(size: 300, gamma: 0.1).description, "step(every 300 iterations, gamma 0.1)")
        XCTAssertEqual(LearningRateSchedule.multistep(milestones: [200, 500], gamma: 0.1).description,
                       "multistep(at iterations 200, 500, gamma 0.1)")
        XCTAssertEqual(LearningRateSchedule.cosine(maxIterations: 1000).description,
                       "cosine(over 1000 iterations, minimum 0.0)")
    }

    // MARK: - Helpers

    /// `body` throws `NNError.invalidSetting` named `name` whose message contains every needle.
    func assertNNError(name: String, mentioning needles: String..., file: StaticString = #filePath,
                       line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected NNError.invalidSetting(\(name)) but nothing was thrown", file: file, line: line)
        } catch let NNError.invalidSetting(got, message) {
            XCTAssertEqual(got, name, message, file: file, line: line)
            for needle in needles where !message.contains(needle) {
                XCTFail("'\(message)' does not mention '\(needle)'", file: file, line: line)
            }
        } catch {
            XCTFail("expected NNError.invalidSetting(\(name)), got \(error)", file: file, line: line)
        }
    }
}
