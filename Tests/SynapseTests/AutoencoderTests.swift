import Foundation
import Synapse
import XCTest

// Autoencoders: gradient checks of tied weights and of the sparsity penalty (through the loss it adds), the
// masking noise, learning to reconstruct, and whole-run parity of a denoising autoencoder between devices.

final class AutoencoderTests: SynapseTestCase {
    /// Checks the gradients of `layers` for the objective `sum(output * r) + penalties` (the penalties the model's
    /// `PenaltyLayer`s add), against central differences, for the input and every parameter.
    func checkModel(_ makeLayers: @escaping () -> [Layer], inputs: Int, batch: Int = 3, file: StaticString = #filePath,
                    line: UInt = #line) {
        forEachBackend(file: file, line: line) { backend in
            let model = try Sequential(inputShape: [inputs], layers: makeLayers(), backend: backend, seed: 11)
            var random = TestRandom(seed: 6)
            let x = try backend.tensor(random.floats(batch * inputs), shape: [batch, inputs])
            let r = random.floats(batch * model.outputShape.reduce(1, *))
            let penalty = try backend.tensor(shape: [1])
            let objective: () throws -> Double = {
                let y = try backend.download(model.forward(x, training: true))
                try backend.fill(penalty, value: 0)
                try model.addPenalties(to: penalty)
                return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) } + Double(try backend.readScalar(penalty))
            }
            _ = try objective()
            model.zeroGradients()
            let dx = try backend.download(model.backward(backend.tensor(r, shape: [batch] + model.outputShape)))
            let gradients = try model.parameters.map { try backend.download($0.gradient) }
            let label = "\(backend.name) \(model.layers.map(\.summary).joined(separator: " "))"
            try checkAgainstDifferences(analytic: dx, of: x, "\(label) input", maxPoints: 40, objective: objective,
                                        file: file, line: line)
            for (p, analytic) in zip(model.parameters, gradients) {
                try checkAgainstDifferences(analytic: analytic, of: p.value, "\(label) \(p.name)", maxPoints: 40,
                                            objective: objective, file: file, line: line)
            }
        }
    }

    /// The tied weight is one parameter that receives the encoder's and the decoder's gradients summed.
    func testTiedWeightsGradient() {
        checkModel({ Models.autoencoder(inputs: 6, hidden: 4, tied: true) }, inputs: 6)
    }

    func testTiedWeightsAreOneParameter() throws {
        let model = try Sequential(inputShape: [6], layers: Models.autoencoder(inputs: 6, hidden: 4, tied: true),
                                   backend: try CPUBackend(), seed: 1)
        XCTAssertEqual(model.parameters.map(\.name), ["encoder.weight", "encoder.bias", "decoder.bias"])
        XCTAssertEqual(model.parameterCount, 6 * 4 + 4 + 6)
    }

    /// The KL penalty's gradient, with a large weight so that it dominates the check.
    func testSparsityPenaltyGradient() {
        checkModel({ Models.autoencoder(inputs: 5, hidden: 4, sparsity: (0.1, 3)) }, inputs: 5, batch: 4)
    }

    /// The penalty's value is `beta * sum_j KL(rho || mean activation of j)`, computed here by hand.
    func testSparsityPenaltyValue() throws {
        let rho: Float = 0.2, beta: Float = 1.5
        let codes: [Float] = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2]   // batch 2, units 3
        forEachBackend { backend in
            let model = try Sequential(inputShape: [3], layers: [SparsityPenalty(target: rho, weight: beta)],
                                       backend: backend, seed: 1)
            _ = try model.forward(backend.tensor(codes, shape: [2, 3]), training: true)
            let penalty = try backend.tensor([0])
            try model.addPenalties(to: penalty)
            let means = (0..<3).map { (Double(codes[$0]) + Double(codes[3 + $0])) / 2 }
            let p = Double(rho)
            let expected = Double(beta) * means.reduce(0) { $0 + p * log(p / $1) + (1 - p) * log((1 - p) / (1 - $1)) }
            XCTAssertEqual(Double(try backend.readScalar(penalty)), expected, accuracy: 1e-5 * expected, backend.name)
            _ = try model.forward(backend.tensor(codes, shape: [2, 3]), training: false)
            try backend.fill(penalty, value: 0)
            try model.addPenalties(to: penalty)
            XCTAssertEqual(try backend.readScalar(penalty), 0, "\(backend.name): no penalty in evaluation")
        }
    }

    /// Masking zeroes about the given fraction, leaves the rest untouched, is identical on every device, and is
    /// the identity in evaluation.
    func testCorruptionMasks() throws {
        let count = 10_000, fraction: Float = 0.3
        let x = (0..<count).map { Float($0 % 97) + 1 }
        var masks: [(String, [Float])] = []
        forEachBackend { backend in
            let model = try Sequential(inputShape: [count], layers: [Corruption(masking: fraction)], backend: backend, seed: 3)
            let input = try backend.tensor(x, shape: [1, count])
            let y = try backend.download(model.forward(input, training: true))
            let zeros = y.filter { $0 == 0 }.count
            XCTAssertEqual(Double(zeros) / Double(count), Double(fraction), accuracy: 0.02, backend.name)
            XCTAssertTrue(zip(y, x).allSatisfy { $0 == 0 || $0 == $1 }, "\(backend.name): survivors are not rescaled")
            XCTAssertEqual(try backend.download(model.forward(input, training: false)), x, backend.name)
            masks.append((backend.name, y))
        }
        for (name, y) in masks.dropFirst() { XCTAssertEqual(y, masks[0].1, "\(name) mask differs from \(masks[0].0)") }
    }

    /// Reconstruction data: smooth random patterns of 16 values (sums of two ramps), so that 6 codes suffice.
    static func patterns(count: Int, seed: UInt64) throws -> TensorDataset {
        var random = TestRandom(seed: seed)
        var values: [Float] = []
        for _ in 0..<count {
            let a = random.float(), b = random.float()
            values += (0..<16).map { i in a * Float(i) / 8 - a + b * sin(Float(i) / 3) }
        }
        return try TensorDataset(name: "patterns", reconstructing: values, shape: [16])
    }

    /// A denoising autoencoder trained for 20 steps gives the same losses on every device (the masks are
    /// identical, so only summation order differs), within 1e-4 relative; and the loss falls.
    func testWholeRunParityOfDenoisingAutoencoder() throws {
        let data = try Self.patterns(count: 160, seed: 9)
        var runs: [(String, [Float])] = []
        forEachBackend { backend in
            let model = try Sequential(inputShape: [16], layers: Models.autoencoder(inputs: 16, hidden: 8, corruption: 0.2),
                                       backend: backend, seed: 2)
            let trainer = try Trainer(model: model, objective: Regression(train: data), optimizer: SGD(momentum: 0.9),
                                      learningRate: 0.05, batchSize: 8)
            trainer.lossInterval = 1
            var losses: [Float] = []
            _ = try trainer.trainEpoch { losses.append($0.loss) }
            XCTAssertEqual(losses.count, 20)
            XCTAssertLessThan(losses.suffix(5).reduce(0, +), losses.prefix(5).reduce(0, +), "\(backend.name) \(losses)")
            runs.append((backend.name, losses))
        }
        XCTAssertGreaterThan(runs.count, 1, "parity needs an OpenCL backend next to the CPU")
        for (name, losses) in runs.dropFirst() {
            for (step, (a, b)) in zip(losses, runs[0].1).enumerated() {
                XCTAssertLessThanOrEqual(abs(a - b), 1e-4 * abs(b), "\(name) step \(step + 1): loss \(a), cpu \(b)")
            }
        }
    }

    /// A sparse autoencoder with tied weights learns to reconstruct: its held-out squared error falls well below
    /// that of a fresh model, and the mean code activation moves towards the target.
    func testSparseTiedAutoencoderLearns() throws {
        let train = try Self.patterns(count: 400, seed: 10), test = try Self.patterns(count: 100, seed: 11)
        let backend = try CPUBackend()
        let model = try Sequential(inputShape: [16], layers: Models.autoencoder(inputs: 16, hidden: 12, tied: true,
                                                                                 sparsity: (0.1, 0.5)),
                                   backend: backend, seed: 4)
        let objective = Regression(train: train, test: test)
        let trainer = try Trainer(model: model, objective: objective, optimizer: Adam(), learningRate: 0.01, batchSize: 20)
        let before = try trainer.evaluate()!.loss
        try trainer.fit(epochs: 30)
        let after = try trainer.evaluate()!.loss
        XCTAssertLessThan(after, 0.2 * before, "reconstruction loss \(before) -> \(after)")
        let weight = try backend.download(model.parameters[0].value), bias = try backend.download(model.parameters[1].value)
        var total = 0.0
        for sample in 0..<test.count {
            for unit in 0..<12 {
                let z = (0..<16).reduce(Double(bias[unit])) { $0 + Double(weight[unit * 16 + $1] * test.inputs[sample * 16 + $1]) }
                total += 1 / (1 + exp(-z))
            }
        }
        let mean = total / Double(test.count * 12)
        XCTAssertLessThan(mean, 0.3, "mean code activation \(mean) with target 0.1")
    }
}
