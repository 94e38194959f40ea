import Foundation
import Synapse
import XCTest

// Restricted Boltzmann machines: an RBM small enough to enumerate (6 visible, 4 hidden) gives the exact
// log-likelihood gradient, which CD with many Gibbs steps must follow; the free energy and the pseudo-likelihood
// match their definitions computed by hand; CD-1 runs the same on every device; PCD resumes exactly.

final class RBMTests: SynapseTestCase {
    static let visible = 6, hidden = 4

    /// Eight binary patterns of six units: two prototypes and their one-bit variations.
    static let patterns: [[Float]] = [[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0],
                                      [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]]

    /// An RBM `[Flatten-free] 6 -> 4` with weights from N(0, 1)-ish and small biases, on `backend`.
    static func smallRBM(_ backend: Backend) throws -> (Sequential, RBM) {
        let rbm = RBM(hidden: hidden, name: "rbm")
        let model = try Sequential(inputShape: [visible], layers: [rbm], backend: backend, seed: 5)
        var random = TestRandom(seed: 40)
        try backend.upload(random.floats(hidden * visible, in: -1.5...1.5), to: rbm.weight.value)
        try backend.upload(random.floats(hidden, in: -0.5...0.5), to: rbm.bias.value)
        try backend.upload(random.floats(visible, in: -0.5...0.5), to: rbm.visibleBias.value)
        return (model, rbm)
    }

    struct Exact {
        let w: [Double], b: [Double], c: [Double]
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        func z(_ v: [Double], _ j: Int) -> Double { b[j] + (0..<RBMTests.visible).reduce(0) { $0 + w[j * RBMTests.visible + $1] * v[$1] } }
        /// F(v) by enumerating the 16 hidden states: -log sum_h exp(-E(v, h)).
        func freeEnergy(_ v: [Double]) -> Double {
            var total = 0.0
            for code in 0..<(1 << RBMTests.hidden) {
                let h = (0..<RBMTests.hidden).map { Double((code >> $0) & 1) }
                var minusEnergy = zip(c, v).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0..<RBMTests.hidden { minusEnergy += h[j] * z(v, j) }
                total += exp(minusEnergy)
            }
            return -log(total)
        }
        /// `<v h>` and the bias statistics under `P(h | v)` for the given weights of the visible vectors.
        func statistics(_ vs: [([Double], Double)]) -> (w: [Double], b: [Double], c: [Double]) {
            var sw = [Double](repeating: 0, count: w.count), sb = [Double](repeating: 0, count: b.count)
            var sc = [Double](repeating: 0, count: c.count)
            for (v, p) in vs {
                for j in 0..<RBMTests.hidden {
                    let hj = sigmoid(z(v, j))
                    sb[j] += p * hj
                    for i in 0..<RBMTests.visible { sw[j * RBMTests.visible + i] += p * hj * v[i] }
                }
                for i in 0..<RBMTests.visible { sc[i] += p * v[i] }
            }
            return (sw, sb, sc)
        }
        /// The gradient of the mean negative log-likelihood of `data`: `-(<v h>_data - <v h>_model)`, the model's
        /// expectation by enumerating all 64 visible vectors.
        func negativeLogLikelihoodGradient(_ data: [[Double]]) -> [Double] {
            let all = (0..<(1 << RBMTests.visible)).map { code in (0..<RBMTests.visible).map { Double((code >> $0) & 1) } }
            let weights = all.map { exp(-freeEnergy($0)) }, z = weights.reduce(0, +)
            let model = statistics(zip(all, weights.map { $0 / z }).map { ($0, $1) })
            let observed = statistics(data.map { ($0, 1 / Double(data.count)) })
            return zip(model.w + model.b + model.c, observed.w + observed.b + observed.c).map { $0 - $1 }
        }
    }

    static func exact(_ rbm: RBM, _ backend: Backend) throws -> Exact {
        Exact(w: try backend.download(rbm.weight.value).map(Double.init), b: try backend.download(rbm.bias.value).map(Double.init),
              c: try backend.download(rbm.visibleBias.value).map(Double.init))
    }

    static func data(copies: Int) throws -> TensorDataset {
        let inputs = (0..<copies).flatMap { _ in patterns.joined() }
        return try TensorDataset(name: "patterns", reconstructing: inputs, shape: [visible])
    }

    /// CD-150 over 2,048 chains estimates the exact gradient of the log-likelihood: within 10% of its norm (5.2%
    /// when measured, the sampling noise). CD-1 is biased; it is not held to this.
    func testLongChainsFollowTheExactLikelihoodGradient() throws {
        let backend = try CPUBackend()
        let (model, rbm) = try Self.smallRBM(backend)
        let data = try Self.data(copies: 256)
        let expected = try Self.exact(rbm, backend).negativeLogLikelihoodGradient(Self.patterns.map { $0.map(Double.init) })
        let objective = try ContrastiveDivergence(train: data, rbm: rbm, gibbsSteps: 150, shuffle: false)
        try objective.check(model: model)
        let batch = try objective.batches(epoch: 1, seed: model.seed, batchSize: data.count)[0]
        _ = try objective.forward(batch, model: model)
        model.zeroGradients()
        try objective.backward(model: model)
        let got = try [rbm.weight, rbm.bias, rbm.visibleBias].flatMap { try backend.download($0.gradient) }.map(Double.init)
        let norm = expected.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let error = zip(got, expected).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        XCTAssertGreaterThan(norm, 0.1, "the test needs a sizeable gradient")
        XCTAssertLessThan(error, 0.1 * norm, "CD-150 gradient \(got) vs exact \(expected)")
        // And following it raises the exact log-likelihood.
        let before = try Self.logLikelihood(rbm, backend)
        let trainer = try Trainer(model: model, objective: objective, optimizer: SGD(), learningRate: 0.5, batchSize: data.count)
        for _ in 0..<5 { _ = try trainer.trainEpoch() }
        XCTAssertGreaterThan(try Self.logLikelihood(rbm, backend), before + 0.05)
    }

    static func logLikelihood(_ rbm: RBM, _ backend: Backend) throws -> Double {
        let exact = try exact(rbm, backend)
        let all = (0..<(1 << visible)).map { code in (0..<visible).map { Double((code >> $0) & 1) } }
        let logZ = log(all.map { exp(-exact.freeEnergy($0)) }.reduce(0, +))
        return patterns.map { -exact.freeEnergy($0.map(Double.init)) - logZ }.reduce(0, +) / Double(patterns.count)
    }

    /// The device's free energy and the pseudo-likelihood estimate against their definitions: F by enumerating
    /// the hidden states, and `visible * log sigmoid(F(v flipped at i) - F(v))` with the evaluator's Philox flips.
    func testFreeEnergyAndPseudoLikelihoodMatchTheirDefinitions() {
        forEachBackend { backend in
            let (model, rbm) = try Self.smallRBM(backend)
            let exact = try Self.exact(rbm, backend)
            let data = try Self.data(copies: 1)
            let result = try ContrastiveDivergence.evaluate(model: model, rbm: rbm, on: data, batchSize: 3)
            let flips = Philox.words(PhiloxAddress(seed: model.seed, stream: RandomStream.pseudoLikelihood), count: data.count)
            var energy = 0.0, pseudoLikelihood = 0.0
            for (n, pattern) in Self.patterns.enumerated() {
                let v = pattern.map(Double.init)
                var flipped = v
                let i = Int((UInt64(flips[n]) * UInt64(Self.visible)) >> 32)
                flipped[i] = 1 - flipped[i]
                let f = exact.freeEnergy(v)
                energy += f
                pseudoLikelihood += Double(Self.visible) * log(1 / (1 + exp(-(exact.freeEnergy(flipped) - f))))
            }
            let n = Double(Self.patterns.count)
            XCTAssertEqual(result.metrics[ContrastiveDivergence.freeEnergy]!, energy / n, accuracy: 1e-4 * abs(energy / n) + 1e-5, backend.name)
            XCTAssertEqual(result.metrics[ContrastiveDivergence.pseudoLikelihood]!, pseudoLikelihood / n,
                           accuracy: 1e-4 * abs(pseudoLikelihood / n) + 1e-5, backend.name)
        }
    }

    /// CD-1 for 20 steps gives the same losses on every device: the draws are bit-identical, so only rounding in
    /// the sums differs (a probability within rounding of its uniform could flip a sample; none did here).
    func testWholeRunParityOfCD1() throws {
        var random = TestRandom(seed: 41)
        let inputs = (0..<160 * 20).map { _ in random.float(in: 0...1) < 0.3 ? Float(1) : 0 }
        let data = try TensorDataset(name: "bits", reconstructing: inputs, shape: [20])
        var runs: [(String, [Float])] = []
        forEachBackend { backend in
            let rbm = RBM(hidden: 12, name: "rbm")
            let model = try Sequential(inputShape: [20], layers: [rbm], backend: backend, seed: 3)
            let trainer = try Trainer(model: model, objective: ContrastiveDivergence(train: data, rbm: rbm), optimizer: SGD(momentum: 0.5),
                                      learningRate: 0.1, batchSize: 8)
            trainer.lossInterval = 1
            var losses: [Float] = []
            _ = try trainer.trainEpoch { losses.append($0.loss) }
            XCTAssertEqual(losses.count, 20)
            runs.append((backend.name, losses))
        }
        XCTAssertGreaterThan(runs.count, 1, "parity needs an OpenCL backend next to the CPU")
        for (name, losses) in runs.dropFirst() {
            for (step, (a, b)) in zip(losses, runs[0].1).enumerated() {
                XCTAssertLessThanOrEqual(abs(a - b), 1e-4 * abs(b), "\(name) step \(step + 1): loss \(a), cpu \(b)")
            }
        }
    }

    /// PCD's chains are part of the checkpoint: two epochs straight and one, a save, a resume and one more give
    /// the same weights bit for bit. Training also lowers the reconstruction error.
    func testPersistentChainsResumeExactly() throws {
        let data = try Self.data(copies: 40)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-rbm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func trainer() throws -> (Trainer, RBM) {
            let rbm = RBM(hidden: 5, name: "rbm")
            let model = try Sequential(inputShape: [Self.visible], layers: [rbm], backend: try CPUBackend(), seed: 9)
            let objective = try ContrastiveDivergence(train: data, test: data, rbm: rbm, persistentChains: 16)
            return (try Trainer(model: model, objective: objective, optimizer: SGD(momentum: 0.5), learningRate: 0.1,
                                batchSize: 16), rbm)
        }
        let (straight, _) = try trainer()
        let before = try straight.evaluate()!.loss
        _ = try straight.trainEpoch()
        _ = try straight.trainEpoch()
        XCTAssertLessThan(try straight.evaluate()!.loss, before)
        let path = directory.appendingPathComponent("rbm.safetensors").path
        let (first, _) = try trainer()
        _ = try first.trainEpoch()
        try Checkpoint.save(first, to: path)
        let (resumed, _) = try trainer()
        try Checkpoint.resume(resumed, from: path)
        _ = try resumed.trainEpoch()
        for (a, b) in zip(straight.model.parameters, resumed.model.parameters) {
            XCTAssertEqual(try a.value.backend.download(a.value), try b.value.backend.download(b.value), a.name)
        }
    }
}

final class RBMSamplingTests: SynapseTestCase {
    /// Gibbs sampling from the same Philox address draws the same samples on every device (the probabilities
    /// differ only by rounding, and no draw lands within rounding of its threshold here), and a two-layer stack
    /// passes its samples down to the bottom layer's width.
    func testSamplesAgreeAcrossDevices() throws {
        var runs: [(String, [Float])] = []
        forEachBackend { backend in
            let stack = try LayerwiseStack(widths: [12, 6], unit: .rbm(gibbsSteps: 1, persistent: false))
            let model = try stack.pretrainingModel(layer: 2, inputShape: [20], backend: backend, seed: 8)
            var random = TestRandom(seed: 42)
            for p in model.parameters { try backend.upload(random.floats(p.count, in: -2...2), to: p.value) }
            let rbms = model.layers.compactMap { $0 as? RBM }
            XCTAssertEqual(rbms.map(\.name), ["fc1", "fc2"])
            let samples = try RBM.sample(rbms, count: 16, steps: 50, address: PhiloxAddress(seed: 3, stream: 9), backend: backend)
            XCTAssertEqual(samples.count, 16 * 20)
            XCTAssertTrue(samples.allSatisfy { $0 > 0 && $0 < 1 }, "\(backend.name): probabilities")
            runs.append((backend.name, samples))
        }
        for (name, samples) in runs.dropFirst() {
            let worst = zip(samples, runs[0].1).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "\(name) samples differ from \(runs[0].0)")
        }
    }
}
