import SynapseCore

/// Rosenblatt's learning rule as an objective, for a model whose outputs are threshold units: each output
/// `y = step(z)` (1 where `z >= 0`) is compared with its 0/1 target `d`, and the gradient handed to the model is
/// `(y - d) / m`, so plain SGD at rate `eta` performs `w += eta (d - y) x` (summed over a batch of `m`; a batch of
/// one is the classic online rule, and the bias is the weight of an input fixed at +1). The loss is the number of
/// output units in error per example. With one output the targets are the classes 0 and 1; with several, one
/// unit per class (one-hot targets), and the predicted class is the unit with the largest `z`.
public final class PerceptronRule: Objective {
    /// The examples trained on; every target is 0 or 1.
    public let train: TensorDataset
    /// The held-out examples `evaluate` reports on; nil for none.
    public let test: TensorDataset?
    /// Whether each epoch visits the examples in a new order drawn from Philox rather than in order.
    public let shuffle: Bool
    private var uploads: LayerCall?
    private var outputName = ""
    private var lastShape: [Int] = []

    /// The rule on `train` (0/1 targets, else `NNError.invalidSetting` naming the data and the value), evaluated
    /// on `test` when given.
    public init(train: TensorDataset, test: TensorDataset? = nil, shuffle: Bool = true) throws {
        for data in [train] + (test.map { [$0] } ?? []) {
            if let index = data.targets.firstIndex(where: { $0 != 0 && $0 != 1 }) {
                throw NNError.invalidSetting(name: "data set '\(data.name)'", message:
                    "the perceptron's targets must be 0 or 1; target value \(index) is \(data.targets[index])")
            }
        }
        self.train = train
        self.test = test
        self.shuffle = shuffle
    }

    public var dataDescription: String { "\(train.name) \(train.count) examples" }
    public var exampleName: String { "examples" }

    public func check(model: Graph) throws {
        for data in [train] + (test.map { [$0] } ?? []) { try data.checkMapped(by: model, for: "the perceptron rule") }
    }

    public func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        try train.batches(epoch: epoch, seed: seed, batchSize: batchSize, shuffle: shuffle)
    }

    public func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "the perceptron rule")
        let call = uploads.flatMap { $0.backend === model.backend ? $0 : nil } ?? LayerCall(backend: model.backend)
        uploads = call
        let (x, d) = try train.upload(batch.samples, call: call)
        let z = try model.forward([inputName: x], training: true)[outputName]!
        self.outputName = outputName
        lastShape = z.shape
        return try Self.errors(scores: z, targets: d, call: call)
    }

    /// `step(scores) - targets` into the call's `error` buffer, and the units in error per example (the sum of
    /// its squares over the batch) into element 0 of the returned tensor.
    private static func errors(scores: Tensor, targets: Tensor, call: LayerCall) throws -> Tensor {
        let backend = call.backend
        let error = try call.tensor("error", shape: scores.shape), total = try call.tensor("total", shape: [1])
        try backend.activationForward(.step, input: scores, output: error)
        try backend.axpy(alpha: -1, x: targets.reshaped(scores.shape), y: error)
        try backend.sumOfSquares(error, result: total)
        try backend.scale(total, by: 1 / Float(scores.batch))
        return total
    }

    public func backward(model: Graph) throws {
        guard let call = uploads, !lastShape.isEmpty else {
            throw NNError.invalidModel("perceptron rule: backward called before forward")
        }
        let error = try call.tensor("error", shape: lastShape)
        try call.backend.scale(error, by: 1 / Float(lastShape[0]))
        lastShape = []
        try model.backward([outputName: error])
    }

    /// Units in error per example as the loss, and the accuracy: the threshold unit's verdict with one output,
    /// the unit with the largest score with several.
    public func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        guard let test else { return nil }
        return try Self.evaluate(model: model, on: test, batchSize: batchSize)
    }

    /// `evaluate` on any data set with 0/1 targets of the model's output shape.
    public static func evaluate(model: Graph, on data: TensorDataset, batchSize: Int) throws -> Evaluation {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "the perceptron rule")
        let call = LayerCall(backend: model.backend), outputs = data.targetShape.reduce(1, *)
        var wrongUnits = 0.0, correct = 0
        for batch in try data.batches(epoch: 0, seed: 0, batchSize: batchSize, shuffle: false) {
            let (x, d) = try data.upload(batch.samples, call: call)
            let z = try model.forward([inputName: x], training: false)[outputName]!
            let scores = try model.backend.download(z)
            wrongUnits += Double(try model.backend.readScalar(errors(scores: z, targets: d, call: call))) * Double(batch.examples)
            for (row, sample) in batch.samples.enumerated() {
                let s = scores[row * outputs..<(row + 1) * outputs], t = data.targets[sample * outputs..<(sample + 1) * outputs]
                if outputs == 1 {
                    if (s.first! >= 0 ? 1 : 0) == t.first! { correct += 1 }
                } else if s.indices.max(by: { s[$0] < s[$1] })! - s.startIndex == t.indices.max(by: { t[$0] < t[$1] })! - t.startIndex {
                    correct += 1
                }
            }
        }
        return Evaluation(loss: wrongUnits / Double(data.count), metrics: ["accuracy": Double(correct) / Double(data.count)])
    }
}

/// A single-layer perceptron (Rosenblatt 1958): threshold units `y = step(w . x + b)` trained by the perceptron
/// rule with the three classic stopping rules: an epoch with no example misclassified, a weight change over an
/// epoch below a tolerance, or an epoch limit. It separates linearly separable classes and cannot learn XOR.
public final class Perceptron {
    /// Why training stopped.
    public enum Stop: Equatable, Sendable {
        /// An epoch went by with every example classified correctly (so no weight changed).
        case noErrors
        /// The weights moved less than the tolerance (Euclidean norm) over an epoch.
        case changeBelowTolerance
        /// The epoch limit was reached first.
        case epochLimit
    }

    /// How a training run went.
    public struct Fit: Equatable, Sendable {
        /// Epochs trained.
        public var epochs: Int
        /// Why training stopped.
        public var stop: Stop
        /// Output units in error, summed over each epoch's examples (for one output: examples misclassified).
        public var errorsPerEpoch: [Int]
    }

    /// The units as a one-layer model: `Dense` from the inputs to the outputs, starting from zero weights.
    public let model: Sequential

    /// `outputs` threshold units over `inputs` features on `backend`.
    public init(inputs: Int, outputs: Int = 1, backend: Backend, seed: UInt64 = 1) throws {
        model = try Sequential(inputShape: [inputs],
                               layers: [Dense(outputs, name: "units", weightInit: .constant(0))],
                               backend: backend, seed: seed)
    }

    /// Trains on `data` (0/1 targets, one per output) one example at a time with `w += rate (d - y) x` until an
    /// epoch makes no error, the weights move less than `tolerance` over an epoch, or `maxEpochs` epochs.
    public func train(on data: TensorDataset, rate: Float = 1, maxEpochs: Int = 100, tolerance: Float = 0,
                      shuffle: Bool = true) throws -> Fit {
        guard rate > 0, rate <= 1 else {
            throw NNError.invalidSetting(name: "perceptron rate", message: "must lie in (0, 1], got \(rate)")
        }
        guard maxEpochs > 0 else {
            throw NNError.invalidSetting(name: "perceptron epochs", message: "must be positive, got \(maxEpochs)")
        }
        guard tolerance >= 0, tolerance.isFinite else {
            throw NNError.invalidSetting(name: "perceptron tolerance", message: "must be finite and not negative, got \(tolerance)")
        }
        let rule = try PerceptronRule(train: data, shuffle: shuffle)
        let trainer = try Trainer(model: model, objective: rule, optimizer: try SGD(momentum: 0, weightDecay: 0),
                                  learningRate: rate, batchSize: 1)
        var errors: [Int] = []
        while true {
            let before = try model.backend.download(model.arena.values)
            let report = try trainer.trainEpoch()
            errors.append(Int((report.trainLoss * Double(data.count)).rounded()))
            if errors.last == 0 { return Fit(epochs: trainer.epoch, stop: .noErrors, errorsPerEpoch: errors) }
            let after = try model.backend.download(model.arena.values)
            let change = zip(before, after).reduce(0) { $0 + Double(($1.1 - $1.0) * ($1.1 - $1.0)) }.squareRoot()
            if change < Double(tolerance) {
                return Fit(epochs: trainer.epoch, stop: .changeBelowTolerance, errorsPerEpoch: errors)
            }
            if trainer.epoch >= maxEpochs { return Fit(epochs: trainer.epoch, stop: .epochLimit, errorsPerEpoch: errors) }
        }
    }

    /// The units' 0/1 outputs for `count` examples of `inputs` features each, row after row.
    public func predict(_ inputs: [Float]) throws -> [Float] {
        let backend = model.backend, features = model.inputShape[0]
        guard !inputs.isEmpty, inputs.count % features == 0 else {
            throw NNError.invalidSetting(name: "perceptron input", message: "\(inputs.count) values are not whole examples of \(features) features")
        }
        let x = try backend.tensor(shape: [inputs.count / features, features])
        try backend.upload(inputs, to: x)
        let z = try model.forward(x, training: false), y = try backend.tensor(shape: z.shape)
        try backend.activationForward(.step, input: z, output: y)
        return try backend.download(y)
    }
}

extension TensorDataset {
    /// The images of `data` with 0/1 targets, one per class (1 for the image's class): the perceptron's targets.
    public init(oneHot data: Dataset) throws {
        var targets = [Float](repeating: 0, count: data.count * data.classCount)
        for (i, label) in data.labels.enumerated() { targets[i * data.classCount + Int(label)] = 1 }
        try self.init(name: data.name, inputs: data.images, inputShape: data.sampleShape, targets: targets,
                      targetShape: [data.classCount])
    }
}
