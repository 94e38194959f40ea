import Foundation
import Synapse
import XCTest

// Checkpoints: round trip, bit-exact resume on every backend, Python and PyTorch-layout interop, and the
// errors of loading the wrong thing or of a run whose loss turns NaN.

final class CheckpointTests: SynapseTestCase {
    /// A net with every kind of training state: conv and dense weights, LRN, and a dropout stream.
    static func smallNet(_ backend: Backend, seed: UInt64 = 3) throws -> Sequential {
        try Sequential(inputShape: [1, 8, 8], layers: [
            Conv2D(4, kernel: 3, name: "conv1"), ActivationLayer(.relu), LRN(size: 3), Pool2D.max(2), Flatten(),
            Dense(16, name: "fc1"), ActivationLayer(.relu), Dropout(0.5, name: "drop1"), Dense(10, name: "fc2"),
        ], backend: backend, seed: seed)
    }

    static let data = try! TrainingTests.noise(count: 100, shape: [1, 8, 8], seed: 12)

    func weights(_ model: Graph) throws -> [[Float]] {
        try model.parameters.map { try model.backend.download($0.value) }
    }

    func assertBitwiseEqual(_ a: [[Float]], _ b: [[Float]], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map { $0.map(\.bitPattern) }, b.map { $0.map(\.bitPattern) }, what, file: file, line: line)
    }

    func testRoundTripRestoresWeights() throws {
        let dir = try TrainingTests.temporaryDirectory()
        let path = dir.appendingPathComponent("net.safetensors").path
        let backend = try CPUBackend()
        let trainer = try Trainer(model: Self.smallNet(backend), objective: Classification(train: Self.data),
                                  optimizer: SGD(momentum: 0.9), learningRate: 0.05, batchSize: 16)
        try trainer.fit(epochs: 1, checkpoint: path)
        let restored = try Self.smallNet(backend, seed: 99)
        try Checkpoint.loadWeights(into: restored, from: path)
        assertBitwiseEqual(try weights(restored), try weights(trainer.model), "weights after a save and load")
    }

    /// Three epochs in one go, and one epoch, a checkpoint, a fresh process-like restart and two more epochs,
    /// give bit-identical weights: the sample order, dropout masks, momentum and Adam state all resume.
    func testResumeIsBitExact() {
        forEachBackend { backend in
            for makeOptimizer in [{ try SGD(momentum: 0.9, weightDecay: 1e-3, nesterov: true) as Optimizer },
                                  { try Adam(weightDecay: 1e-4) as Optimizer }] {
                let schedule = LearningRateSchedule.step(size: 9, gamma: 0.5)
                let straight = try Trainer(model: Self.smallNet(backend), objective: Classification(train: Self.data),
                                           optimizer: makeOptimizer(), learningRate: 0.01, schedule: schedule, batchSize: 16)
                try straight.fit(epochs: 3)

                let path = try TrainingTests.temporaryDirectory().appendingPathComponent("run.safetensors").path
                let first = try Trainer(model: Self.smallNet(backend), objective: Classification(train: Self.data),
                                        optimizer: makeOptimizer(), learningRate: 0.01, schedule: schedule, batchSize: 16)
                try first.fit(epochs: 1, checkpoint: path)
                let resumed = try Trainer(model: Self.smallNet(backend), objective: Classification(train: Self.data),
                                          optimizer: makeOptimizer(), learningRate: 0.01, schedule: schedule, batchSize: 16)
                try Checkpoint.resume(resumed, from: path)
                XCTAssertEqual(resumed.epoch, 1)
                XCTAssertEqual(resumed.iteration, 7)
                try resumed.fit(epochs: 3)
                assertBitwiseEqual(try weights(resumed.model), try weights(straight.model),
                                   "\(backend.name) \(straight.optimizer.summary): resumed vs uninterrupted")
            }
        }
    }

    func testCheckpointOfAnotherArchitectureIsRefused() throws {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("lenet.safetensors").path
        let backend = try CPUBackend()
        let images = Classification(train: try TrainingTests.noise(count: 8, shape: [1, 28, 28], seed: 1))
        let lenet = try Trainer(model: ModelKind.lenet.build(inputShape: [1, 28, 28], classes: 10, backend: backend, seed: 1),
                                objective: images, optimizer: SGD(), learningRate: 0.01, batchSize: 8)
        try Checkpoint.save(lenet, to: path)
        let mlp = try Trainer(model: ModelKind.mlp.build(inputShape: [1, 28, 28], classes: 10, backend: backend, seed: 1),
                              objective: images, optimizer: SGD(), learningRate: 0.01, batchSize: 8)
        assertNNError(contains: [path, "different architecture", "conv1"]) { try Checkpoint.resume(mlp, from: path) }
        assertNNError(contains: [path, "different architecture"]) { try Checkpoint.loadWeights(into: mlp.model, from: path) }
        // Same architecture, other seed: the sample order and masks would differ, so resuming is refused.
        let reseeded = try Trainer(model: ModelKind.lenet.build(inputShape: [1, 28, 28], classes: 10, backend: backend, seed: 2),
                                   objective: images, optimizer: SGD(), learningRate: 0.01, batchSize: 8)
        assertNNError(contains: ["seed 1", "seed 2"]) { try Checkpoint.resume(reseeded, from: path) }
        // A tensor no parameter of the model takes is refused, as a missing one is.
        var file = try SafeTensors.read(from: path)
        file.tensors["conv9.weight"] = .init(shape: [1], values: [0])
        try file.write(to: path)
        assertNNError(contains: [path, "tensors the model does not have: conv9.weight"]) { try Checkpoint.resume(lenet, from: path) }
        assertNNError(contains: [path, "conv9.weight"]) { try Checkpoint.loadWeights(into: lenet.model, from: path) }
    }

    /// When the loss turns NaN, training stops with an error naming the epoch and step, and the checkpoint of
    /// the last good epoch is left as it was.
    func testNaNLossStopsTrainingAndKeepsTheLastCheckpoint() throws {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("nan.safetensors").path
        let backend = try CPUBackend()
        let trainer = try Trainer(model: Self.smallNet(backend), objective: Classification(train: Self.data),
                                  optimizer: SGD(momentum: 0.9), learningRate: 0.05, batchSize: 16)
        try trainer.fit(epochs: 1, checkpoint: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        let bias = trainer.model.parameters.last!   // a diverged output bias: ReLU would swallow a NaN earlier on
        try backend.upload([.nan], to: bias.value.elements(0..<1))
        do {
            try trainer.fit(epochs: 3, checkpoint: path)
            XCTFail("training went on with a NaN loss")
        } catch let error as NNError {
            guard case let .nonFiniteLoss(epoch, step, loss, checkpoint) = error else { return XCTFail("wrong error \(error)") }
            XCTAssertEqual(epoch, 2)
            XCTAssertEqual(step, 1)
            XCTAssertTrue(loss.isNaN)
            XCTAssertEqual(checkpoint, path)
            XCTAssertTrue(error.description.contains(path), error.description)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), good, "the last good checkpoint changed")
    }

    /// A run can diverge without a NaN training loss (a loss grown huge, then weights sent to infinity by the epoch's
    /// last update, or a held-out loss that is NaN): the epoch's checkpoint is not written, the last good one is kept.
    func testDivergenceAtAnEpochsEndKeepsTheLastCheckpoint() throws {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("diverged.safetensors").path
        for sabotage in [Sabotaged.Kind.infiniteWeight, .nanHeldOutLoss] {
            let objective = Sabotaged(Classification(train: Self.data, test: Self.data), kind: sabotage)
            let trainer = try Trainer(model: Self.smallNet(try CPUBackend()), objective: objective,
                                      optimizer: SGD(momentum: 0.9), learningRate: 0.05, batchSize: 16)
            objective.active = false
            try trainer.fit(epochs: 1, checkpoint: path)
            let good = try Data(contentsOf: URL(fileURLWithPath: path))
            objective.active = true
            do {
                try trainer.fit(epochs: 2, checkpoint: path)
                XCTFail("\(sabotage): the diverged epoch was saved")
            } catch let error as NNError {
                guard case let .diverged(epoch, what, checkpoint) = error else { return XCTFail("wrong error \(error)") }
                XCTAssertEqual(epoch, 2)
                XCTAssertEqual(checkpoint, path)
                XCTAssertTrue(what.contains(sabotage == .infiniteWeight ? "parameters" : "held-out loss is nan"), what)
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), good, "\(sabotage): the last good checkpoint changed")
        }
    }

    /// A model built to load a checkpoint is checked against the file's shapes before its parameters are allocated:
    /// settings edited to a model of 17 GB fail by the shape, not after (or in) the allocation.
    func testAModelBuiltForACheckpointFitsItBeforeItsParametersAreAllocated() throws {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("planned.safetensors").path
        let backend = try CPUBackend()
        let trainer = try Trainer(model: Self.smallNet(backend), objective: Classification(train: Self.data),
                                  optimizer: SGD(), learningRate: 0.01, batchSize: 16)
        try Checkpoint.save(trainer, to: path)
        let same = try Checkpoint.building(for: path) { try Self.smallNet(backend) }
        try Checkpoint.loadWeights(into: same, from: path)
        assertNNError(contains: [path, "tensor 'conv1.weight' has shape [4, 1, 3, 3], the model needs [65536, 65536]"]) {
            _ = try Checkpoint.building(for: path) {
                try Sequential(inputShape: [1 << 16], layers: [Dense(1 << 16, name: "conv1")], backend: backend, seed: 3)
            }
        }
    }

    func testImportRefusesMissingMisshapenAndUnknownTensors() throws {
        let dir = try TrainingTests.temporaryDirectory()
        let model = try Sequential(inputShape: [4], layers: Models.mlp(hidden: [8], classes: 3), backend: try CPUBackend(), seed: 1)
        let good: [String: SafeTensors.Entry] = [
            "fc1.weight": .init(shape: [8, 4], values: .init(repeating: 0.5, count: 32)),
            "fc1.bias": .init(shape: [8], values: .init(repeating: 0, count: 8)),
            "fc2.weight": .init(shape: [3, 8], values: .init(repeating: 0.25, count: 24)),
            "fc2.bias": .init(shape: [3], values: [1, 2, 3]),
        ]
        func file(_ name: String, _ tensors: [String: SafeTensors.Entry]) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try SafeTensors(tensors: tensors).write(to: path)
            return path
        }
        var missing = good
        missing["fc2.bias"] = nil
        let missingPath = try file("missing.safetensors", missing)
        assertNNError(contains: [missingPath, "fc2.bias"]) { try Checkpoint.importWeights(into: model, from: missingPath) }
        var transposed = good
        transposed["fc1.weight"] = .init(shape: [4, 8], values: .init(repeating: 0.5, count: 32))
        let transposedPath = try file("transposed.safetensors", transposed)
        assertNNError(contains: ["fc1.weight", "[4, 8]", "[8, 4]"]) { try Checkpoint.importWeights(into: model, from: transposedPath) }
        var extra = good
        extra["bn1.running_mean"] = .init(shape: [8], values: .init(repeating: 0, count: 8))
        let extraPath = try file("extra.safetensors", extra)
        assertNNError(contains: ["bn1.running_mean"]) { try Checkpoint.importWeights(into: model, from: extraPath) }
        let goodPath = try file("good.safetensors", good)
        try Checkpoint.importWeights(into: model, from: goodPath)
        XCTAssertEqual(try model.backend.download(model.parameters[3].value), [1, 2, 3])
    }

    // MARK: Python interop (skipped without python3 + safetensors + numpy)

    /// Python's `safetensors` reads a Synapse checkpoint: every parameter with its shape and values.
    func testPythonSafetensorsReadsACheckpoint() throws {
        try Python.requireSafetensors()
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("py.safetensors").path
        let trainer = try Trainer(model: Self.smallNet(try CPUBackend()), objective: Classification(train: Self.data),
                                  optimizer: SGD(momentum: 0.9), learningRate: 0.05, batchSize: 16)
        try trainer.fit(epochs: 1, checkpoint: path)
        let output = try Python.output("""
            import sys
            from safetensors.numpy import load_file
            from safetensors import safe_open
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f:
                meta = f.metadata()
            print(meta["format"], meta["epoch"])
            for name in sorted(tensors):
                t = tensors[name]
                print(name, t.dtype, list(t.shape), repr(float(t.astype("float64").sum())))
            """, [path])
        var expected = ["\(Checkpoint.format) 1"]
        let optimizerState = try trainer.optimizer.state(for: trainer.model.arena)
        var rows: [(String, [Int], [Float])] = try trainer.model.parameters.map { ($0.name, $0.shape, try $0.value.backend.download($0.value)) }
        rows += try trainer.model.parameters.map { p in ("optimizer.\(p.name).momentum", p.shape, try p.value.backend.download(optimizerState["\(p.name).momentum"]!)) }
        for (name, shape, values) in rows.sorted(by: { $0.0 < $1.0 }) {
            expected.append("\(name) float32 \(describe(shape)) \(values.reduce(0.0) { $0 + Double($1) })")
        }
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, expected.count, output)
        for (got, want) in zip(lines, expected) {
            let g = got.split(separator: " "), w = want.split(separator: " ")
            XCTAssertEqual(g.dropLast(), w.dropLast(), "python sees \(got), expected \(want)")
            guard let a = Double(g.last!), let b = Double(w.last!) else { return XCTFail("unreadable sums: \(got) / \(want)") }
            XCTAssertEqual(a, b, accuracy: 1e-9 * max(1, abs(b)), got)
        }
    }

    /// Weights saved in PyTorch's `nn.Linear` layout (`[out, in]`) give, after import, the logits NumPy computes
    /// for `relu(x W1^T + b1) W2^T + b2`.
    func testImportedPyTorchLayoutWeightsGiveTheReferenceLogits() throws {
        try Python.requireSafetensors()
        let dir = try TrainingTests.temporaryDirectory()
        let weightsPath = dir.appendingPathComponent("torch.safetensors").path
        let expectedPath = dir.appendingPathComponent("expected.safetensors").path
        _ = try Python.output("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(0)
            w = {"fc1.weight": rng.standard_normal((8, 4)), "fc1.bias": rng.standard_normal(8),
                 "fc2.weight": rng.standard_normal((3, 8)), "fc2.bias": rng.standard_normal(3)}
            w = {k: v.astype(np.float32) for k, v in w.items()}
            x = rng.standard_normal((5, 4)).astype(np.float32)
            h = np.maximum(x.astype(np.float64) @ w["fc1.weight"].T + w["fc1.bias"], 0)
            logits = h @ w["fc2.weight"].T + w["fc2.bias"]
            save_file(w, sys.argv[1])
            save_file({"x": x, "logits": logits.astype(np.float32)}, sys.argv[2])
            """, [weightsPath, expectedPath])
        let reference = try SafeTensors.read(from: expectedPath)
        forEachBackend { backend in
            let model = try Sequential(inputShape: [4], layers: Models.mlp(hidden: [8], classes: 3), backend: backend, seed: 1)
            try Checkpoint.importWeights(into: model, from: weightsPath)
            let x = try backend.tensor(reference.tensors["x"]!.values)
            let logits = try backend.download(model.forward(x.reshaped([5, 4]), training: false))
            XCTAssertEqual(logits.count, 15)
            for (a, b) in zip(logits, reference.tensors["logits"]!.values) {
                XCTAssertEqual(a, b, accuracy: 1e-5 + 1e-4 * abs(b), "\(backend.name) logits")
            }
        }
    }
}

/// A classification whose epochs, once `active`, end diverged in a way no training loss shows: the last update sends
/// a weight to infinity, or the held-out loss is NaN.
private final class Sabotaged: Objective {
    enum Kind { case infiniteWeight, nanHeldOutLoss }
    let inner: Classification
    let kind: Kind
    var active = false
    private var stepsLeft = 0

    init(_ inner: Classification, kind: Kind) {
        self.inner = inner
        self.kind = kind
    }

    var dataDescription: String { inner.dataDescription }
    var exampleName: String { inner.exampleName }
    func check(model: Graph) throws { try inner.check(model: model) }

    func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        let batches = try inner.batches(epoch: epoch, seed: seed, batchSize: batchSize)
        stepsLeft = batches.count
        return batches
    }

    func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        stepsLeft -= 1
        return try inner.forward(batch, model: model)
    }

    func backward(model: Graph) throws {
        try inner.backward(model: model)
        if active, kind == .infiniteWeight, stepsLeft == 0 {
            try model.backend.upload([.infinity], to: model.parameters[0].gradient.elements(0..<1))
        }
    }

    func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        let evaluation = try inner.evaluate(model: model, batchSize: batchSize)
        return active && kind == .nanHeldOutLoss ? Evaluation(loss: .nan) : evaluation
    }
}
