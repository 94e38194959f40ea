import Foundation
import Synapse
import XCTest

// LeNet-5 as LeCun et al. (1998) built it: the paper's shapes and per-layer parameter counts, the connection table,
// the fixed +-1 prototypes, and whole-run agreement of CPU and OpenCL.

final class LeNet5Tests: SynapseTestCase {
    func testShapesAndTheParametersOfThePaper() throws {
        let model = try ModelKind.lenet5.build(inputShape: [1, 28, 28], classes: 10, backend: try CPUBackend(), seed: 1)
        let shapes = Dictionary(uniqueKeysWithValues: zip(model.layers.map(\.name), model.layerShapes))
        XCTAssertEqual(shapes["c1"], [6, 28, 28])
        XCTAssertEqual(shapes["s2"], [6, 14, 14])
        XCTAssertEqual(shapes["c3"], [16, 10, 10])
        XCTAssertEqual(shapes["s4"], [16, 5, 5])
        XCTAssertEqual(shapes["c5"], [120, 1, 1])
        XCTAssertEqual(shapes["f6"], [84])
        XCTAssertEqual(model.outputShape, [10])
        let counts = Dictionary(uniqueKeysWithValues: model.layers.map { ($0.name, $0.parameters.reduce(0) { $0 + $1.count }) })
        XCTAssertEqual(["c1", "s2", "c3", "s4", "c5", "f6"].map { counts[$0]! }, [156, 12, 1516, 32, 48120, 10164])
        XCTAssertEqual(counts["rbf"], 0, "the prototypes are fixed, not parameters")
        XCTAssertEqual(Models.lenet5Connections.reduce(0) { $0 + $1.count }, 60, "C3's 60 connections")
        let rates = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.learningRateMultiplier) })
        XCTAssertEqual(rates.count, 12)
        for (name, rate) in rates {
            let feature = ["c1", "s2", "c3", "s4"].contains(String(name.prefix(2)))
            XCTAssertEqual(rate, feature ? Models.lenet5FeatureRate : 1, "\(name)'s learning-rate multiplier")
        }
    }

    /// C3's output map 0 reads S2's maps 0-2 only: changing map 3 leaves it as it was, and changes map 1 (which
    /// reads maps 1-4).
    func testC3FollowsTheConnectionTable() throws {
        let backend = try CPUBackend()
        let c3 = Conv2D(16, kernel: 5, sharing: .connections(Models.lenet5Connections, inputs: 6, kernelTaps: 25), name: "c3",
                        weightInit: .lecunUniform)
        let model = try Sequential(inputShape: [6, 14, 14], layers: [c3], backend: backend, seed: 2)
        var random = TestRandom(seed: 3)
        var input = random.floats(6 * 14 * 14)
        let before = try backend.download(model.forward(backend.tensor(input, shape: [1, 6, 14, 14]), training: false))
        for i in 3 * 196..<4 * 196 { input[i] += 1 }
        let after = try backend.download(model.forward(backend.tensor(input, shape: [1, 6, 14, 14]), training: false))
        XCTAssertEqual(Array(after[0..<100]), Array(before[0..<100]), "map 0 does not read map 3")
        XCTAssertNotEqual(Array(after[100..<200]), Array(before[100..<200]), "map 1 reads map 3")
    }

    /// The prototypes are +-1 and the same in every run; the scores are minus the squared distances to them.
    func testRBFScoresAreNegatedSquaredDistances() throws {
        let backend = try CPUBackend()
        let rbf = EuclideanRBF(classes: 3)
        let model = try Sequential(inputShape: [5], layers: [rbf], backend: backend, seed: 1)
        XCTAssertTrue(rbf.prototypes.allSatisfy { $0 == 1 || $0 == -1 })
        let again = EuclideanRBF(classes: 3)
        _ = try Sequential(inputShape: [5], layers: [again], backend: backend, seed: 99)
        XCTAssertEqual(again.prototypes, rbf.prototypes, "fixed codes, whatever the seed")
        let x: [Float] = [0.5, -1, 2, 0, 0.25, 1, 1, 1, 1, 1]
        let scores = try backend.download(model.forward(backend.tensor(x, shape: [2, 5]), training: false))
        for row in 0..<2 {
            for i in 0..<3 {
                let distance = (0..<5).reduce(0) { $0 + pow(x[row * 5 + $1] - rbf.prototypes[i * 5 + $1], 2) }
                XCTAssertEqual(scores[row * 3 + i], -distance, accuracy: 1e-5)
            }
        }
    }

    /// Ten training steps of LeNet-5 on noise give the same losses on every device, within 1e-4 relative.
    func testWholeRunParity() throws {
        let data = try TrainingTests.noise(count: 80, shape: [1, 28, 28], seed: 12)
        var runs: [(String, [Float])] = []
        forEachBackend { backend in
            let model = try ModelKind.lenet5.build(inputShape: [1, 28, 28], classes: 10, backend: backend, seed: 4)
            let trainer = try Trainer(model: model, objective: Classification(train: data), optimizer: SGD(momentum: 0.9),
                                      learningRate: 0.01, batchSize: 8)
            trainer.lossInterval = 1
            var losses: [Float] = []
            _ = try trainer.trainEpoch { losses.append($0.loss) }
            runs.append((backend.name, losses))
        }
        XCTAssertGreaterThan(runs.count, 1, "parity needs an OpenCL backend next to the CPU")
        for (name, losses) in runs.dropFirst() {
            for (step, (a, b)) in zip(losses, runs[0].1).enumerated() {
                XCTAssertLessThanOrEqual(abs(a - b), 1e-4 * abs(b), "\(name) step \(step + 1): loss \(a), cpu \(b)")
            }
        }
    }
}
