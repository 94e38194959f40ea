import Foundation
import Synapse
import XCTest

// Rosenblatt's perceptron: it converges on linearly separable data within a bounded number of epochs, and it
// cannot learn XOR (TrainingTests.testMLPLearnsXOR shows that a hidden layer can).

final class PerceptronTests: SynapseTestCase {
    static let corners: [Float] = [0, 0, 0, 1, 1, 0, 1, 1]

    static func truthTable(_ name: String, _ outputs: [Float]) throws -> TensorDataset {
        try TensorDataset(name: name, inputs: corners, inputShape: [2], targets: outputs, targetShape: [1])
    }

    /// Two Gaussian blobs, around (-2, -1) labelled 0 and (2, 1) labelled 1, with unit spread (Box-Muller).
    static func blobs(count: Int, seed: UInt64) throws -> TensorDataset {
        var random = TestRandom(seed: seed)
        var inputs: [Float] = [], targets: [Float] = []
        for i in 0..<count {
            let label: Float = i % 2 == 0 ? 0 : 1, sign: Float = label == 0 ? -1 : 1
            let u1 = max(random.float(in: 0...1), 1e-7), u2 = random.float(in: 0...1)
            let r = (-2 * log(u1)).squareRoot()
            inputs += [sign * 2 + r * cos(2 * .pi * u2) * 0.5, sign * 1 + r * sin(2 * .pi * u2) * 0.5]
            targets.append(label)
        }
        return try TensorDataset(name: "blobs", inputs: inputs, inputShape: [2], targets: targets, targetShape: [1])
    }

    func testConvergesOnSeparableData() {
        forEachBackend { backend in
            for (data, epochBound) in [(try Self.truthTable("AND", [0, 0, 0, 1]), 10),
                                       (try Self.truthTable("OR", [0, 1, 1, 1]), 10),
                                       (try Self.blobs(count: 200, seed: 3), 20)] {
                let perceptron = try Perceptron(inputs: 2, backend: backend)
                let fit = try perceptron.train(on: data, rate: 1, maxEpochs: 100)
                XCTAssertEqual(fit.stop, .noErrors, "\(backend.name) \(data.name): \(fit)")
                XCTAssertLessThanOrEqual(fit.epochs, epochBound, "\(backend.name) \(data.name): \(fit)")
                XCTAssertEqual(try perceptron.predict(data.inputs), data.targets, "\(backend.name) \(data.name)")
            }
        }
    }

    func testCannotLearnXOR() {
        forEachBackend { backend in
            let xor = try Self.truthTable("XOR", [0, 1, 1, 0])
            let perceptron = try Perceptron(inputs: 2, backend: backend)
            let fit = try perceptron.train(on: xor, rate: 1, maxEpochs: 200)
            XCTAssertEqual(fit.stop, .epochLimit, "\(backend.name): \(fit)")
            XCTAssertTrue(fit.errorsPerEpoch.allSatisfy { $0 > 0 }, "\(backend.name): an epoch without errors on XOR")
            let predicted = try perceptron.predict(xor.inputs)
            XCTAssertNotEqual(predicted, xor.targets, "\(backend.name): XOR is not linearly separable")
        }
    }

    /// The rule itself: from zero weights, the first misclassified example moves the weights by `rate * x`
    /// (bias by `rate`), and a correctly classified one moves nothing.
    func testUpdateIsTheRosenblattRule() {
        forEachBackend { backend in
            let data = try TensorDataset(name: "two", inputs: [1, 2, -3, 0.5], inputShape: [2], targets: [0, 1],
                                         targetShape: [1])
            let perceptron = try Perceptron(inputs: 2, backend: backend)
            // step(0) = 1: the first example (target 0) is wrong, w = -0.5 * (1, 2), b = -0.5; then the second
            // scores 0.5 * 3 - 0.5 * 1 - 0.5 = 0.5 >= 0, right.
            let fit = try perceptron.train(on: data, rate: 0.5, maxEpochs: 1, shuffle: false)
            XCTAssertEqual(fit.errorsPerEpoch, [1])
            let values = try backend.download(perceptron.model.arena.values)
            let weight = perceptron.model.parameters.first { $0.name == "units.weight" }!
            let bias = perceptron.model.parameters.first { $0.name == "units.bias" }!
            XCTAssertEqual(try backend.download(weight.value), [-0.5, -1], "\(backend.name) \(values)")
            XCTAssertEqual(try backend.download(bias.value), [-0.5], "\(backend.name)")
        }
    }

    func testRefusesTargetsOtherThanZeroAndOne() throws {
        let data = try TensorDataset(name: "bad", inputs: [0, 1], inputShape: [1], targets: [0, -1], targetShape: [1])
        assertNNError(contains: ["bad", "0 or 1", "-1"]) { _ = try PerceptronRule(train: data) }
        let perceptron = try Perceptron(inputs: 1, backend: try CPUBackend())
        let fine = try TensorDataset(name: "fine", inputs: [0, 1], inputShape: [1], targets: [0, 1], targetShape: [1])
        assertNNError(contains: ["rate", "(0, 1]"]) { _ = try perceptron.train(on: fine, rate: 2) }
    }
}
