import Foundation
import Synapse
import XCTest

// Greedy layer-wise pretraining: lower layers stay frozen while the next one trains, pretrained weights move into
// the classifier by name, and stacked denoising autoencoders and deep belief nets fine-tune into classifiers.

final class PretrainingTests: SynapseTestCase {
    /// Three classes of binary 16-pixel images: each class lights its own block of pixels, with 10% of the pixels
    /// flipped at random.
    static func blocks(count: Int, seed: UInt64) throws -> Dataset {
        var random = TestRandom(seed: seed)
        var images: [Float] = [], labels: [Int32] = []
        for i in 0..<count {
            let label = i % 3
            images += (0..<16).map { p in
                let on = p / 5 == label
                return (random.float(in: 0...1) < 0.1) != on ? 1 : 0
            }
            labels.append(Int32(label))
        }
        return try Dataset(name: "blocks", images: images, labels: labels, sampleShape: [16], classNames: ["a", "b", "c"])
    }

    static func unlabelled(_ data: Dataset) throws -> TensorDataset {
        try TensorDataset(name: data.name, reconstructing: data.images, shape: data.sampleShape)
    }

    /// Pretraining layer 2 moves neither layer 1's weights nor its biases, and does move layer 2's.
    func testLowerLayersStayFrozen() throws {
        for unit in [LayerwiseStack.Unit.autoencoder(tied: false, sparsityTarget: 0.05, sparsityWeight: 0.1, corruption: 0.2),
                     .rbm(gibbsSteps: 1, persistent: false)] {
            let stack = try LayerwiseStack(widths: [10, 6], unit: unit)
            let data = try Self.unlabelled(Self.blocks(count: 60, seed: 1))
            let backend = try CPUBackend()
            let model = try stack.pretrainingModel(layer: 2, inputShape: [16], backend: backend, seed: 3)
            let before = try model.parameters.map { try backend.download($0.value) }
            let objective = try stack.pretrainingObjective(layer: 2, model: model, train: data, test: nil, batchSize: 10)
            let trainer = try Trainer(model: model, objective: objective, optimizer: SGD(momentum: 0.9, weightDecay: 1e-3),
                                      learningRate: 0.1, batchSize: 10)
            _ = try trainer.trainEpoch()
            for (p, values) in zip(model.parameters, before) {
                let moved = try backend.download(p.value) != values
                XCTAssertEqual(moved, p.name.hasPrefix("fc2") || p.name.hasPrefix("decoder2"), "\(unit): \(p.name)")
            }
        }
    }

    /// Stacked denoising autoencoders and a deep belief net, pretrained and fine-tuned, classify held-out blocks.
    func testStacksFineTuneIntoClassifiers() throws {
        let train = try Self.blocks(count: 300, seed: 2), test = try Self.blocks(count: 90, seed: 3)
        for unit in [LayerwiseStack.Unit.autoencoder(tied: true, sparsityTarget: 0, sparsityWeight: 0, corruption: 0.2),
                     .rbm(gibbsSteps: 1, persistent: true)] {
            forEachBackend { backend in
                let stack = try LayerwiseStack(widths: [12, 8], unit: unit)
                var lower: Graph?
                for k in 1...2 {
                    let model = try stack.pretrainingModel(layer: k, inputShape: [16], backend: backend, seed: 4)
                    if let lower { try LayerwiseStack.transfer(from: lower, to: model) }
                    let objective = try stack.pretrainingObjective(layer: k, model: model, train: Self.unlabelled(train),
                                                                   test: Self.unlabelled(test), batchSize: 10)
                    let trainer = try Trainer(model: model, objective: objective, optimizer: SGD(momentum: 0.5),
                                              learningRate: 0.1, batchSize: 10)
                    let before = try trainer.evaluate()!.loss
                    try trainer.fit(epochs: 5)
                    XCTAssertLessThan(try trainer.evaluate()!.loss, before, "\(backend.name) \(unit) layer \(k)")
                    lower = model
                }
                let classifier = try Sequential(inputShape: [16], layers: stack.classifier(classes: 3), backend: backend, seed: 4)
                XCTAssertEqual(try LayerwiseStack.transfer(from: lower!, to: classifier),
                               ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
                let trainer = try Trainer(model: classifier, objective: Classification(train: train, test: test),
                                          optimizer: SGD(momentum: 0.9), learningRate: 0.1, batchSize: 10)
                try trainer.fit(epochs: 5)
                XCTAssertGreaterThan(try trainer.evaluate()!.accuracy!, 0.95, "\(backend.name) \(unit)")
            }
        }
    }
}
