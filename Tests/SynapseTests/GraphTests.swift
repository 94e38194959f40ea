import Foundation
import Synapse
import XCTest

/// The model core: graphs whose tensors feed several nodes and whose layers run several times per step,
/// accumulated gradients, the parameter arena, errors that keep their type, objectives and the trainer's hooks.
final class GraphTests: SynapseTestCase {
    /// x feeds two nodes; the layer `shared` runs twice (on x, then on tanh of its own output); the two
    /// branches are added. Parameters: shared.weight/bias (used twice), side.weight/bias.
    static func branchyGraph(_ backend: Backend, seed: UInt64 = 4) throws -> Graph {
        let shared = Dense(4, name: "shared")
        return try Graph(inputs: [("x", [4])], nodes: [
            Node(shared, inputs: ["x"], outputs: ["a"]),
            Node(ActivationLayer(.tanh, name: "squash"), inputs: ["a"], outputs: ["b"]),
            Node(shared, inputs: ["b"], outputs: ["c"]),
            Node(Dense(4, name: "side"), inputs: ["x"], outputs: ["d"]),
            Node(Add(name: "merge"), inputs: ["c", "d", "b"], outputs: ["out"]),
        ], outputs: ["out"], backend: backend, seed: seed)
    }

    /// The analytic gradients of the input and of every parameter (sums over the two uses of `shared` and the
    /// three readers of their tensors) match central differences of `sum(out * r)`.
    func testGradientsOfSharedLayersAndFanOutAreSums() {
        forEachBackend { backend in
            let graph = try Self.branchyGraph(backend)
            XCTAssertEqual(graph.parameters.map(\.name), ["shared.weight", "shared.bias", "side.weight", "side.bias"])
            var random = TestRandom(seed: 12)
            let x = try backend.tensor(random.floats(3 * 4), shape: [3, 4])
            let r = random.floats(3 * 4)
            let objective: () throws -> Double = {
                let y = try backend.download(graph.forward(["x": x], training: true)["out"]!)
                return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            _ = try objective()
            graph.zeroGradients()
            let dx = try graph.backward(["out": backend.tensor(r, shape: [3, 4])], inputGradients: ["x"])["x"]!
            let analytic = try graph.parameters.map { try backend.download($0.gradient) }
            try checkAgainstDifferences(analytic: backend.download(dx), of: x, "\(backend.name) x", maxPoints: 20,
                                        objective: objective, file: #filePath, line: #line)
            for (p, gradient) in zip(graph.parameters, analytic) {
                try checkAgainstDifferences(analytic: gradient, of: p.value, "\(backend.name) \(p.name)", maxPoints: 20,
                                            objective: objective, file: #filePath, line: #line)
            }
        }
    }

    /// Gradients add up until the model starts a new sum: two backward passes give twice one.
    func testGradientsAccumulateUntilZeroed() {
        forEachBackend { backend in
            let graph = try Self.branchyGraph(backend)
            let x = try backend.tensor((0..<8).map { Float($0) / 8 - 0.4 }, shape: [2, 4])
            let dy = try backend.tensor((0..<8).map { Float($0 % 3) - 1 }, shape: [2, 4])
            _ = try graph.forward(["x": x], training: true)
            graph.zeroGradients()
            try graph.backward(["out": dy])
            let once = try backend.download(graph.arena.gradients)
            try graph.backward(["out": dy])
            let twice = try backend.download(graph.arena.gradients)
            assertClose(twice, once.map { 2 * Double($0) }, OpCall(backend, "two backward passes", "arena"))
            // A new sum: the next backward pass gives one pass's gradients again.
            graph.zeroGradients()
            try graph.backward(["out": dy])
            XCTAssertEqual(try backend.download(graph.arena.gradients), once, "\(backend.name) after zeroGradients")
        }
    }

    /// Every parameter is a view into one allocation of values and one of gradients, in model order.
    func testParametersLiveInOneArena() throws {
        let model = try ModelKind.lenet.build(inputShape: [1, 28, 28], classes: 10, backend: try CPUBackend(), seed: 1)
        let arena = model.arena
        var end = 0
        for p in model.parameters {
            XCTAssertTrue(p.value.buffer === arena.values.buffer && p.gradient.buffer === arena.gradients.buffer, p.name)
            XCTAssertEqual(p.value.offset, p.gradient.offset, p.name)
            XCTAssertEqual(p.value.offset % ParameterArena.alignment, 0, p.name)
            XCTAssertGreaterThanOrEqual(p.value.offset, end, "\(p.name) overlaps the parameter before it")
            end = p.value.offset + p.count
        }
        XCTAssertLessThanOrEqual(end, arena.values.count)
    }

    func testGraphErrorsNameWhatIsWrong() throws {
        let backend = try CPUBackend()
        assertNNError(contains: ["'fc'", "reads 'h'", "neither a model input nor an earlier layer"]) {
            _ = try Graph(inputs: [("x", [3])], nodes: [Node(Dense(2, name: "fc"), inputs: ["h"], outputs: ["y"])],
                          outputs: ["y"], backend: backend, seed: 1)
        }
        assertNNError(contains: ["two tensors are named 'y'"]) {
            _ = try Graph(inputs: [("x", [3])], nodes: [Node(Dense(2, name: "a"), inputs: ["x"], outputs: ["y"]),
                                                        Node(Dense(2, name: "b"), inputs: ["x"], outputs: ["y"])],
                          outputs: ["y"], backend: backend, seed: 1)
        }
        let shared = Dense(2, name: "shared")
        assertNNError(contains: ["'shared'", "[3] (as where it is first used)", "[2]"]) {
            _ = try Graph(inputs: [("x", [3])], nodes: [Node(shared, inputs: ["x"], outputs: ["a"]),
                                                        Node(shared, inputs: ["a"], outputs: ["b"])],
                          outputs: ["b"], backend: backend, seed: 1)
        }
        assertNNError(contains: ["'merge'", "two or more inputs of one shape"]) {
            _ = try Graph(inputs: [("x", [3]), ("z", [4])], nodes: [Node(Add(name: "merge"), inputs: ["x", "z"], outputs: ["y"])],
                          outputs: ["y"], backend: backend, seed: 1)
        }
        let graph = try Self.branchyGraph(backend)
        assertNNError(contains: ["forward needs the model input 'x'"]) { _ = try graph.forward([:], training: false) }
        assertNNError(contains: ["'b' is not a model output"]) {
            _ = try graph.forward(["x": try backend.tensor(shape: [1, 4])], training: false)
            try graph.backward(["b": try backend.tensor(shape: [1, 4])])
        }
    }

    /// A layer that asks for more memory than there is.
    final class Greedy: UnaryLayer {
        var name = "greedy"
        var summary: String { "Greedy" }
        func build(inputShape: [Int], context: BuildContext) throws -> [Int] { inputShape }
        func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
            _ = try call.tensor("everything", shape: [Int.max / 16])
            return x
        }
        func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? { dy }
    }

    /// A device error inside a layer keeps its type: the caller can catch out-of-memory, and the layer's name
    /// is added.
    func testErrorsKeepTheirTypeThroughLayers() throws {
        let model = try Sequential(inputShape: [3], layers: [Dense(3, name: "fc1"), Greedy()], backend: try CPUBackend(),
                                   seed: 1)
        do {
            _ = try model.forward(model.backend.tensor(shape: [2, 3]), training: true)
            XCTFail("the allocation succeeded")
        } catch NNError.layerFailed(let layer, let phase, cause: .outOfMemory(let device, _, _)) {
            XCTAssertEqual(layer, "greedy")
            XCTAssertEqual(phase, "forward")
            XCTAssertEqual(device, "cpu")
        }
    }

    /// After its first step, a training step allocates no device memory: every buffer is kept by its call,
    /// the optimizer, the objective or the backend's scratch (the last batch of an epoch, smaller, reuses them).
    func testTrainingStepsAllocateNothingAfterTheFirst() {
        forEachBackend { backend in
            let model = try ModelKind.lenet.build(inputShape: [1, 28, 28], classes: 10, backend: backend, seed: 1)
            let data = try TrainingTests.noise(count: 20, shape: [1, 28, 28], seed: 3)
            for optimizer in [try SGD(momentum: 0.9) as Optimizer, try Adam()] {
                let trainer = try Trainer(model: model, objective: Classification(train: data), optimizer: optimizer,
                                          learningRate: 0.01, batchSize: 8)
                trainer.gradientHooks = [try GradientClipping(maxNorm: 1)]
                _ = try trainer.trainEpoch()
                let before = Buffer.allocationCount
                _ = try trainer.trainEpoch()
                XCTAssertEqual(Buffer.allocationCount - before, 0, "\(backend.name) \(optimizer.summary): buffers allocated in epoch 2")
            }
        }
    }

    /// Gradient clipping in the trainer's hook: the step's summed gradients scaled to the maximum norm, as
    /// PyTorch's `clip_grad_norm_` does.
    func testGradientClippingScalesToTheMaximumNorm() {
        forEachBackend { backend in
            let graph = try Self.branchyGraph(backend)
            let x = try backend.tensor((0..<12).map { Float($0) / 4 - 1 }, shape: [3, 4])
            let dy = try backend.tensor((0..<12).map { Float($0 % 5) - 2 }, shape: [3, 4])
            _ = try graph.forward(["x": x], training: true)
            graph.zeroGradients()
            try graph.backward(["out": dy])
            let raw = try backend.download(graph.arena.gradients).map(Double.init)
            let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
            try GradientClipping(maxNorm: Float(norm / 3)).apply(to: graph.arena)
            assertClose(try backend.download(graph.arena.gradients), raw.map { $0 * (norm / 3) / (norm + 1e-6) },
                        OpCall(backend, "GradientClipping", "norm \(norm) to \(norm / 3)"))
            try GradientClipping(maxNorm: Float(norm * 10)).apply(to: graph.arena)
            assertClose(try backend.download(graph.arena.gradients), raw.map { $0 * (norm / 3) / (norm + 1e-6) },
                        OpCall(backend, "GradientClipping", "within the maximum: unchanged"))
        }
    }

    /// With the loss read every few steps, a NaN loss is still named by its own step, and training stops there.
    func testNaNIsNamedByItsStepWhenTheLossIsReadEveryFewSteps() throws {
        let backend = try CPUBackend()
        let data = try TrainingTests.noise(count: 100, shape: [1, 8, 8], seed: 12)
        let trainer = try Trainer(model: CheckpointTests.smallNet(backend), objective: Classification(train: data),
                                  optimizer: SGD(momentum: 0.9), learningRate: 0.05, batchSize: 16)
        trainer.lossInterval = 4
        _ = try trainer.trainEpoch()
        try backend.upload([.nan], to: trainer.model.parameters.last!.value.elements(0..<1))
        do {
            _ = try trainer.trainEpoch()
            XCTFail("training went on with a NaN loss")
        } catch NNError.nonFiniteLoss(let epoch, let step, let loss, _) {
            XCTAssertEqual(epoch, 2)
            XCTAssertEqual(step, 1)
            XCTAssertTrue(loss.isNaN)
        }
    }

    /// Regression with the squared error: a linear model fits a linear map.
    func testRegressionFitsALinearMap() throws {
        var random = TestRandom(seed: 40)
        let inputs = random.floats(64 * 3)
        let targets = (0..<64).flatMap { i -> [Float] in
            let x = inputs[3 * i..<3 * i + 3].map(Double.init)
            return [Float(2 * x[0] - x[1] + 0.5), Float(x[2] - 0.25)]
        }
        let data = try TensorDataset(name: "linear", inputs: inputs, inputShape: [3], targets: targets, targetShape: [2])
        forEachBackend { backend in
            let model = try Sequential(inputShape: [3], layers: [Dense(2, name: "fc")], backend: backend, seed: 1)
            let trainer = try Trainer(model: model, objective: Regression(train: data, test: data),
                                      optimizer: Adam(), learningRate: 0.05, batchSize: 16)
            try trainer.fit(epochs: 150)
            let evaluation = try XCTUnwrap(try trainer.evaluate())
            XCTAssertLessThan(evaluation.loss, 1e-4, "\(backend.name)")
            for (got, want) in zip(try backend.download(model.parameters[0].value), [Float(2), -1, 0, 0, 0, 1]) {
                XCTAssertEqual(got, want, accuracy: 0.02, "\(backend.name) fitted weight")
            }
        }
        assertNNError(contains: ["data set 'bad'", "not the same positive number of examples"]) {
            _ = try TensorDataset(name: "bad", inputs: [1, 2, 3], inputShape: [3], targets: [1], targetShape: [2])
        }
    }
}
