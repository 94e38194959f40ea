import Synapse
import XCTest

// One gradient checker (Caffe's GradientChecker idea) applied to every layer and both losses, on every
// backend: the analytic gradient from `backward` must match central differences (step 1e-2) of a scalar
// objective within a relative 1e-2, for the input and for every parameter.

/// How the inputs of a check are drawn.
enum InputKind {
    /// Uniform in [-1, 1].
    case uniform
    /// Uniform in [-1, 1] but at least `margin` away from 0: the kink of ReLU and leaky ReLU.
    case awayFromZero(margin: Float)
    /// Distinct values at least 0.05 apart, shuffled, so that a perturbation never changes which element
    /// of a pooling window is the largest.
    case distinct
}

/// Compares `analytic` with central differences of `objective` as elements of `view` move by ±step.
func checkAgainstDifferences(analytic: [Float], of view: Tensor, _ what: String, maxPoints: Int,
                             objective: () throws -> Double, file: StaticString, line: UInt) throws {
    let backend = view.backend
    let original = try backend.download(view)
    let stride = max(1, original.count / maxPoints)
    var failures = 0
    for i in Swift.stride(from: 0, to: original.count, by: stride) {
        let element = view.elements(i..<i + 1)
        try backend.upload([original[i] + GradientCheckTests.step], to: element)
        let plus = try objective()
        try backend.upload([original[i] - GradientCheckTests.step], to: element)
        let minus = try objective()
        try backend.upload([original[i]], to: element)
        let numeric = (plus - minus) / (2 * Double(GradientCheckTests.step))
        let a = Double(analytic[i])
        // Relative to the larger of the two, with a floor of 0.05 so that Float32 rounding in the
        // objective (about 1e-4 here) cannot fail a gradient near zero.
        let scale = max(abs(a), abs(numeric), 0.05)
        if abs(a - numeric) > GradientCheckTests.threshold * scale {
            failures += 1
            if failures <= 3 {
                XCTFail("\(what)[\(i)]: backward gives \(a), central differences \(numeric)", file: file, line: line)
            }
        }
    }
    _ = try objective()   // leave the layer's saved state consistent with the restored values
}

final class GradientCheckTests: SynapseTestCase {
    static let step: Float = 1e-2
    static let threshold: Double = 1e-2

    /// Checks `makeLayer()` built for `inputShape` (per sample) with a batch of `batch`, using the
    /// objective `sum(output * r)` for a fixed random `r`. At most `maxPoints` coordinates per tensor are
    /// perturbed (spread evenly), which keeps the check fast on large parameters.
    func checkLayer(_ makeLayer: @autoclosure () -> Layer, inputShape: [Int], batch: Int = 2,
                    inputs: InputKind = .uniform, training: Bool = true, maxPoints: Int = 60,
                    file: StaticString = #filePath, line: UInt = #line) {
        forEachBackend(file: file, line: line) { backend in
            let layer = makeLayer()
            let model = try Sequential(inputShape: inputShape, layers: [layer], backend: backend, seed: 11)
            let label = "\(backend.name) \(layer.summary)"
            var random = TestRandom(seed: 5)
            let x = try backend.tensor(Self.inputValues(inputs, count: batch * inputShape.reduce(1, *), random: &random),
                                       shape: [batch] + inputShape)
            let r = random.floats(batch * model.outputShape.reduce(1, *))
            let counters = model.randomCounters

            // The objective, with the dropout masks of the analytic pass.
            let objective: () throws -> Double = {
                model.randomCounters = counters
                model.resetCarriedState()
                let y = try backend.download(model.forward(x, training: training))
                return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            _ = try objective()
            model.zeroGradients()
            let dx = try backend.download(model.backward(backend.tensor(r, shape: [batch] + model.outputShape)))
            let parameterGradients = try model.parameters.map { try backend.download($0.gradient) }

            try checkAgainstDifferences(analytic: dx, of: x, "\(label) input", maxPoints: maxPoints,
                                        objective: objective, file: file, line: line)
            for (p, analytic) in zip(model.parameters, parameterGradients) {
                try checkAgainstDifferences(analytic: analytic, of: p.value, "\(label) \(p.name)", maxPoints: maxPoints,
                                            objective: objective, file: file, line: line)
            }
        }
    }

    static func inputValues(_ kind: InputKind, count: Int, random: inout TestRandom) -> [Float] {
        switch kind {
        case .uniform:
            return random.floats(count)
        case .awayFromZero(let margin):
            return (0..<count).map { _ in
                let v = random.float(in: margin...1)
                return random.word() & 1 == 0 ? v : -v
            }
        case .distinct:
            var values = (0..<count).map { Float($0) * 0.05 - Float(count) * 0.025 }
            for i in stride(from: count - 1, to: 0, by: -1) { values.swapAt(i, random.int(below: i + 1)) }
            return values
        }
    }

    // MARK: Layers

    func testDense() { checkLayer(Dense(5), inputShape: [7], batch: 3) }

    func testConv2D() { checkLayer(Conv2D(4, kernel: 3), inputShape: [3, 6, 6]) }

    func testConv2DPaddingStrideDilation() {
        checkLayer(Conv2D(3, kernel: (3, 2), stride: (2, 1), padding: (1, 2), dilation: (2, 1)), inputShape: [2, 7, 6])
    }

    func testConv2DGroups() { checkLayer(Conv2D(4, kernel: 3, padding: 1, groups: 2), inputShape: [4, 5, 5]) }

    func testConv2DPointwise() { checkLayer(Conv2D(5, kernel: 1), inputShape: [3, 4, 4]) }

    func testConv2DPointwiseStrided() { checkLayer(Conv2D(2, kernel: 1, stride: 2, groups: 1), inputShape: [3, 5, 5]) }

    /// A connection table (LeNet-5's C3 in small): each output map's kernels over the inputs it reads, one
    /// parameter row per connection, the gradient of each row summed from the one place it is used.
    func testConv2DConnectionTable() {
        checkLayer(Conv2D(4, kernel: 3, padding: 1, paddingValue: -0.1,
                          sharing: .connections([[0], [0, 1], [1, 2], [0, 1, 2]], inputs: 3, kernelTaps: 9)),
                   inputShape: [3, 5, 5])
    }

    /// LeNet-5's trainable subsampling: each map's 2x2 sum times one coefficient (shared by the four taps) plus a bias.
    func testTrainableSubsampling() {
        checkLayer(Conv2D(3, kernel: 2, stride: 2, groups: 3, sharing: .onePerChannel(3, taps: 4)), inputShape: [3, 4, 6])
    }

    func testEuclideanRBF() { checkLayer(EuclideanRBF(classes: 4), inputShape: [6], batch: 3) }

    func testScaledTanh() { checkLayer(ActivationLayer(.scaledTanh), inputShape: [13]) }

    func testMaxPool() { checkLayer(Pool2D.max(2), inputShape: [2, 6, 6], inputs: .distinct) }

    func testMaxPoolOverlapping() { checkLayer(Pool2D.max(3, stride: 2), inputShape: [2, 7, 7], inputs: .distinct) }

    func testAvgPool() { checkLayer(Pool2D.average(3, stride: 2, padding: 1), inputShape: [2, 6, 6]) }

    func testReLU() { checkLayer(ActivationLayer(.relu), inputShape: [3, 4], inputs: .awayFromZero(margin: 0.02)) }

    func testLeakyReLU() {
        checkLayer(ActivationLayer(.leakyReLU(slope: 0.1)), inputShape: [13], inputs: .awayFromZero(margin: 0.02))
    }

    func testSigmoid() { checkLayer(ActivationLayer(.sigmoid), inputShape: [13]) }

    func testTanh() { checkLayer(ActivationLayer(.tanh), inputShape: [13]) }

    func testDropout() { checkLayer(Dropout(0.4), inputShape: [50]) }

    /// In evaluation mode dropout passes values and gradients through unchanged (no scaling, no mask).
    func testDropoutEvaluationIsIdentity() {
        forEachBackend { backend in
            let model = try Sequential(inputShape: [9], layers: [Dropout(0.4)], backend: backend, seed: 1)
            var random = TestRandom(seed: 2)
            let x = random.floats(18), dy = random.floats(18)
            let y = try model.forward(backend.tensor(x, shape: [2, 9]), training: false)
            XCTAssertEqual(try backend.download(y).map(\.bitPattern), x.map(\.bitPattern), "\(backend.name) forward")
            let dx = try model.backward(backend.tensor(dy, shape: [2, 9]))
            XCTAssertEqual(try backend.download(dx).map(\.bitPattern), dy.map(\.bitPattern), "\(backend.name) backward")
        }
    }

    /// Training skips the first layer's input gradient; the parameter gradients must not change with it.
    func testBackwardParametersGivesTheSameParameterGradients() {
        let layers: [(String, () -> Layer, [Int])] = [
            ("Conv2D", { Conv2D(4, kernel: 3, padding: 1, groups: 2) }, [2, 5, 5]),
            ("Dense", { Dense(3) }, [7]),
        ]
        forEachBackend { backend in
            for (kind, make, shape) in layers {
                var gradients: [[[Float]]] = []
                for parametersOnly in [false, true] {
                    let model = try Sequential(inputShape: shape, layers: [make()], backend: backend, seed: 5)
                    var random = TestRandom(seed: 6)
                    let x = random.floats(3 * shape.reduce(1, *)), dy = random.floats(3 * model.outputShape.reduce(1, *))
                    _ = try model.forward(backend.tensor(x, shape: [3] + shape), training: true)
                    let gradient = try backend.tensor(dy, shape: [3] + model.outputShape)
                    model.zeroGradients()
                    if parametersOnly { try model.backwardParameters(gradient) } else { try model.backward(gradient) }
                    gradients.append(try model.parameters.map { try backend.download($0.gradient) })
                }
                XCTAssertEqual(gradients[0].map { $0.map(\.bitPattern) }, gradients[1].map { $0.map(\.bitPattern) },
                               "\(backend.name) \(kind)")
            }
        }
    }

    func testLRN() {
        // A large alpha, so that the normaliser's own gradient is visible in the check.
        checkLayer(LRN(size: 3, alpha: 0.5, beta: 0.75, k: 2), inputShape: [5, 3, 3])
    }

    func testLRNAlexNetSettings() { checkLayer(LRN(), inputShape: [7, 2, 2]) }

    func testFlatten() { checkLayer(Flatten(), inputShape: [2, 3, 4]) }

    func testDenseOverASequence() { checkLayer(Dense(4), inputShape: [3, 5], batch: 2) }

    // MARK: Recurrent layers, through several time steps

    func testRNN() { checkLayer(RNN(hidden: 4, layers: 2), inputShape: [5, 3]) }

    func testLSTM() { checkLayer(LSTM(hidden: 4), inputShape: [6, 3], batch: 3) }

    func testStackedLSTMWithDropoutBetweenLayers() {
        checkLayer(LSTM(hidden: 4, layers: 3, dropout: 0.3), inputShape: [4, 2])
    }

    /// A layer that carries its state starts the checked pass from where a first pass ended: the state is a
    /// constant of the check (its gradient is not carried), the weights and input are checked through it.
    func testRecurrentLayersFromACarriedState() {
        for make in [{ RNN(hidden: 3, layers: 2, carriesState: true) as Recurrent },
                     { LSTM(hidden: 3, layers: 2, carriesState: true) as Recurrent }] {
            forEachBackend { backend in
                let layer = make()
                let model = try Sequential(inputShape: [4, 2], layers: [layer], backend: backend, seed: 8)
                var random = TestRandom(seed: 13)
                let first = try backend.tensor(random.floats(2 * 8, in: -2...2), shape: [2, 4, 2])
                let x = try backend.tensor(random.floats(2 * 8), shape: [2, 4, 2])
                let r = random.floats(2 * 4 * 3)
                let call = LayerCall(backend: backend)
                call.prepare(inputs: [first], training: true, needsInputGradients: [true])
                _ = try layer.forward(call)
                XCTAssertEqual(call.carriedBatch, 2)
                // The carried state, by the layer's buffer names, to start every evaluation from the same one.
                let keys = (0..<2).flatMap { l in ["carriedHidden\(l)"] + (layer.cell == .lstm ? ["carriedCell\(l)"] : []) }
                let carried = try keys.map { try backend.download(call.tensor($0, shape: [2, 3])) }
                let zeroStart = try Sequential(inputShape: [4, 2], layers: [make()], backend: backend, seed: 8)
                let objective: () throws -> Double = {
                    for (key, values) in zip(keys, carried) { try backend.upload(values, to: call.tensor(key, shape: [2, 3])) }
                    call.carriedBatch = 2
                    call.prepare(inputs: [x], training: true, needsInputGradients: [true])
                    let y = try backend.download(layer.forward(call)[0])
                    return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                }
                let withState = try objective()
                let fromZero = try backend.download(zeroStart.forward(x, training: true))
                XCTAssertNotEqual(withState, zip(fromZero, r).reduce(0) { $0 + Double($1.0) * Double($1.1) },
                                  "\(backend.name) \(layer.summary): the carried state made no difference")
                model.zeroGradients()
                let dx = try layer.backward(call, outputGradients: [backend.tensor(r, shape: [2, 4, 3])])[0]!
                try model.arena.completeGradients()
                let label = "\(backend.name) \(layer.summary) from a carried state"
                try checkAgainstDifferences(analytic: backend.download(dx), of: x, "\(label) input", maxPoints: 40,
                                            objective: objective, file: #filePath, line: #line)
                for p in model.parameters {
                    try checkAgainstDifferences(analytic: backend.download(p.gradient), of: p.value, "\(label) \(p.name)",
                                                maxPoints: 40, objective: objective, file: #filePath, line: #line)
                }
            }
        }
    }

    /// The embedding's weight gradient (rows named several times, and a row never named) against central
    /// differences; its input, indices, has none.
    func testEmbedding() {
        forEachBackend { backend in
            let model = try Sequential(inputShape: [5], layers: [Embedding(6, dimension: 3, name: "embed")],
                                       backend: backend, seed: 2)
            let indices = try backend.tensor(int32: [1, 4, 1, 0, 5, 4, 4, 2, 1, 0], shape: [2, 5])
            var random = TestRandom(seed: 14)
            let r = random.floats(2 * 5 * 3)
            let objective: () throws -> Double = {
                let y = try backend.download(model.forward(indices, training: true))
                return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            _ = try objective()
            model.zeroGradients()
            try model.backwardParameters(backend.tensor(r, shape: [2, 5, 3]))
            let p = model.parameters[0]
            try checkAgainstDifferences(analytic: backend.download(p.gradient), of: p.value, "\(backend.name) embed.weight",
                                        maxPoints: 18, objective: objective, file: #filePath, line: #line)
            XCTAssertEqual(try backend.download(p.gradient)[9..<12], [0, 0, 0], "\(backend.name): row 3 is never named")
            assertNNError(contains: ["'embed'", "indices, which have no gradient"]) {
                try model.backward(backend.tensor(r, shape: [2, 5, 3]))
            }
        }
    }

    /// An LSTM that looks its token ids up itself, both ways: with a vocabulary smaller than the batch's tokens
    /// (the gates looked up per id) and larger (every token's vector through the GEMMs). Against a separate
    /// `Embedding` layer before the LSTM: the outputs of two passes and the gradients they add up to, plain and with
    /// dropout between layers and carried state; and, plain, the gradients against central differences.
    func testRecurrentLayerReadingTokenIds() {
        let ids: [Int32] = [1, 0, 2, 2, 1, 0, 0, 2, 1, 1]
        for vocabulary in [3, 12] {
            for (dropout, carries) in [(Float(0), false), (0.3, true)] {
                forEachBackend { backend in
                    func make(_ separate: Bool) throws -> Sequential {
                        let embedding = Embedding(vocabulary, dimension: 2, name: "embed")
                        let layers: [Layer] = separate
                            ? [embedding, LSTM(hidden: 3, layers: 2, dropout: dropout, carriesState: carries, name: "lstm")]
                            : [LSTM(hidden: 3, layers: 2, dropout: dropout, carriesState: carries, embedding: embedding,
                                    name: "lstm")]
                        return try Sequential(inputShape: [5], layers: layers, backend: backend, seed: 6)
                    }
                    let (model, reference) = (try make(false), try make(true))
                    let tokens = try backend.tensor(int32: ids, shape: [2, 5])
                    var random = TestRandom(seed: 15)
                    let r = random.floats(2 * 5 * 3)
                    let label = "\(backend.name) vocabulary \(vocabulary)" + (carries ? " with dropout and carried state" : "")
                    XCTAssertEqual(model.parameters.map(\.name), reference.parameters.map(\.name), label)
                    for (p, q) in zip(model.parameters, reference.parameters) {
                        XCTAssertEqual(try backend.download(p.value), try backend.download(q.value), "\(label) \(p.name)")
                    }
                    // Two passes, their gradients added up (the second from where the first ended, when carried).
                    var results: [[[Float]]] = []
                    for m in [model, reference] {
                        m.zeroGradients()
                        var outputs: [[Float]] = []
                        for _ in 0..<2 {
                            outputs.append(try backend.download(m.forward(tokens, training: true)))
                            try m.backwardParameters(backend.tensor(r, shape: [2, 5, 3]))
                        }
                        results.append(try outputs + m.parameters.map { try backend.download($0.gradient) })
                    }
                    let names = ["first outputs", "second outputs"] + model.parameters.map(\.name)
                    for (name, (a, b)) in zip(names, zip(results[0], results[1])) {
                        assertClose(a, b.map(Double.init), OpCall(backend, "LSTM reading token ids", label), name)
                    }
                    assertNNError(contains: ["'lstm'", "token ids, which have no gradient"]) {
                        try model.backward(backend.tensor(r, shape: [2, 5, 3]))
                    }
                    guard !carries else { return }
                    // The plain passes are alike: half the sum is one pass's gradient.
                    let objective: () throws -> Double = {
                        let y = try backend.download(model.forward(tokens, training: true))
                        return zip(y, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                    }
                    for (p, sum) in zip(model.parameters, results[0].dropFirst(2)) {
                        try checkAgainstDifferences(analytic: sum.map { $0 / 2 }, of: p.value, "\(label) \(p.name)",
                                                    maxPoints: 30, objective: objective, file: #filePath, line: #line)
                    }
                }
            }
        }
    }

    /// An embedding given to a recurrent layer without a name is named after the layer, as PyTorch names a
    /// submodule, so that two such layers in one model do not both make a parameter `.weight`.
    func testUnnamedEmbeddingOfARecurrentLayerIsNamedAfterIt() throws {
        let graph = try Graph(inputs: [("ids", [4])], nodes: [
            Node(LSTM(hidden: 3, embedding: Embedding(5, dimension: 2)), inputs: ["ids"], outputs: ["a"]),
            Node(RNN(hidden: 3, embedding: Embedding(5, dimension: 2)), inputs: ["ids"], outputs: ["b"]),
        ], outputs: ["a", "b"], backend: CPUBackend(threads: 1), seed: 1)
        XCTAssertEqual(graph.parameters.map(\.name).filter { $0.hasSuffix("embedding.weight") },
                       ["lstm1.embedding.weight", "rnn1.embedding.weight"])
    }

    func testSoftmax() { checkLayer(Softmax(), inputShape: [6], batch: 3) }

    /// A conv -> tanh -> pool -> dense stack with the fused loss, checked as a whole through its parameters.
    func testSmallNetwork() {
        forEachBackend { backend in
            let model = try Sequential(inputShape: [2, 6, 6], layers: [
                Conv2D(3, kernel: 3, padding: 1), ActivationLayer(.tanh), Pool2D.average(2),
                Flatten(), Dense(4), ActivationLayer(.sigmoid), Dense(3),
            ], backend: backend, seed: 3)
            var random = TestRandom(seed: 9)
            let input = try backend.tensor(random.floats(2 * 72), shape: [2, 2, 6, 6])
            let labels = try backend.tensor(int32: [2, 0])
            let loss = SoftmaxCrossEntropy(backend: backend)
            let objective: () throws -> Double = {
                Double(try backend.readScalar(loss.forward(model.forward(input, training: true), targets: labels)))
            }
            _ = try objective()
            model.zeroGradients()
            try model.backward(loss.backward())
            for p in model.parameters {
                try checkAgainstDifferences(analytic: backend.download(p.gradient), of: p.value, "\(backend.name) \(p.name)",
                                            maxPoints: 20, objective: objective, file: #filePath, line: #line)
            }
        }
    }

    // MARK: Losses

    func testSoftmaxCrossEntropy() {
        forEachBackend { backend in
            var random = TestRandom(seed: 21)
            let logits = try backend.tensor(random.floats(4 * 7, in: -3...3), shape: [4, 7])
            let labels = try backend.tensor(int32: [0, 6, 3, 3])
            let loss = SoftmaxCrossEntropy(backend: backend)
            let objective = { Double(try backend.readScalar(loss.forward(logits, targets: labels))) }
            _ = try objective()
            let analytic = try backend.download(loss.backward())
            try checkAgainstDifferences(analytic: analytic, of: logits, "\(backend.name) SoftmaxCrossEntropy", maxPoints: 100,
                                        objective: objective, file: #filePath, line: #line)
        }
    }

    func testSquaredError() {
        forEachBackend { backend in
            var random = TestRandom(seed: 22)
            let output = try backend.tensor(random.floats(3 * 5), shape: [3, 5])
            let targets = try backend.tensor(random.floats(3 * 5), shape: [3, 5])
            let loss = SquaredError(backend: backend)
            let input = output
            let objective = { Double(try backend.readScalar(loss.forward(input, targets: targets))) }
            _ = try objective()
            let analytic = try backend.download(loss.backward())
            try checkAgainstDifferences(analytic: analytic, of: output, "\(backend.name) SquaredError", maxPoints: 100,
                                        objective: objective, file: #filePath, line: #line)
            // The value itself: 1/2 sum of squares over the batch mean.
            let a = try backend.download(output), y = try backend.download(targets)
            let expected = zip(a, y).reduce(0.0) { $0 + 0.5 * Double($1.0 - $1.1) * Double($1.0 - $1.1) } / 3
            XCTAssertEqual(Double(try backend.readScalar(loss.forward(input, targets: targets))), expected, accuracy: 1e-5)
        }
    }
}
