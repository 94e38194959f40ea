import SynapseCore

/// What a `Trainer` optimises. An objective owns its data: it cuts an epoch into batches, turns a batch into a
/// loss on the device and the gradients of the model's outputs, and evaluates held-out data with its own
/// metrics. The trainer knows nothing of labels, targets or accuracy.
public protocol Objective: AnyObject {
    /// The training data, for reports: `fashion-mnist/train 60000 images`.
    var dataDescription: String { get }
    /// What one example is called in throughput figures: "images", "characters".
    var exampleName: String { get }
    /// Throws a clear error when `model` does not fit the data (input shape, outputs).
    func check(model: Graph) throws
    /// The batches of epoch `epoch` (1-based) in order; the order comes from Philox under `seed`.
    func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch]
    /// Uploads `batch`, runs the model forward in training mode and returns the batch-mean loss, left on the
    /// device in element 0.
    func forward(_ batch: Batch, model: Graph) throws -> Tensor
    /// Backpropagates the last `forward`'s loss into the model's parameter gradients.
    func backward(model: Graph) throws
    /// Loss and metrics on the held-out data, in evaluation mode; nil when there is none.
    func evaluate(model: Graph, batchSize: Int) throws -> Evaluation?
    /// The same on part `part` of `parts` of the held-out data (a data-parallel rank's share), with the examples it
    /// holds; nil when there is no held-out data. An objective that cannot split its data evaluates all of it on
    /// part 0 and nothing elsewhere.
    func evaluate(model: Graph, batchSize: Int, part: Int, of parts: Int) throws -> (Evaluation, examples: Int)?
}

extension Objective {
    public func evaluate(model: Graph, batchSize: Int, part: Int, of parts: Int) throws -> (Evaluation, examples: Int)? {
        try evaluate(model: model, batchSize: batchSize).map { ($0, part == 0 ? 1 : 0) }
    }
}

/// One batch of an epoch: its position, the examples it holds (sample indices, or stream positions) and how
/// many examples they count for.
public struct Batch: Sendable {
    /// The batch's position in its epoch, from 0.
    public let index: Int
    /// What the batch holds: sample indices into a data set, or, for a text read as streams, the batch's index.
    public let samples: ArraySlice<Int>
    /// How many examples the batch counts for in mean losses and throughput: its samples, or streams times steps.
    public let examples: Int

    /// A batch at `index` holding `samples`, counting for `examples` examples.
    public init(index: Int, samples: ArraySlice<Int>, examples: Int) {
        self.index = index
        self.samples = samples
        self.examples = examples
    }
}

/// An objective's verdict on held-out data.
public struct Evaluation: Equatable, Sendable {
    /// The mean loss per example.
    public var loss: Double
    /// The objective's metrics by name: `accuracy` (a fraction) for a classifier, `bits per character` for a
    /// language model.
    public var metrics: [String: Double]

    /// A verdict of mean `loss` per example and, optionally, named metrics.
    public init(loss: Double, metrics: [String: Double] = [:]) {
        self.loss = loss
        self.metrics = metrics
    }

    /// The fraction classified correctly, for classifiers.
    public var accuracy: Double? { metrics["accuracy"] }
}

extension Graph {
    /// The name of the model's only input and only output, or an error naming what the objective needs.
    func singleInputAndOutput(for objective: String) throws -> (input: String, output: String) {
        guard inputNames.count == 1, outputNames.count == 1 else {
            throw NNError.invalidModel("\(objective) needs a model with one input and one output; this one has "
                + "inputs \(inputNames) and outputs \(outputNames)")
        }
        return (inputNames[0], outputNames[0])
    }
}

// MARK: - Classification

/// Classification with the fused softmax cross-entropy loss on the model's logits, on a labelled `Dataset`.
/// Its metric is accuracy; `report` adds the confusion matrix.
public final class Classification: Objective {
    /// The labelled data trained on.
    public let train: Dataset
    /// The held-out data `evaluate` reports on; nil for none.
    public let test: Dataset?
    /// Whether each epoch visits the training samples in a new order drawn from Philox rather than in file order.
    public let shuffle: Bool
    private var loss: SoftmaxCrossEntropy?
    private var uploads: LayerCall?
    private var outputName = ""
    /// A data-parallel rank's part of the test set, kept between evaluations.
    private var testParts: (part: Int, parts: Int, data: Dataset)?

    /// Classification of `train`, evaluated on `test` when given; each epoch is shuffled unless `shuffle` is false.
    public init(train: Dataset, test: Dataset? = nil, shuffle: Bool = true) {
        self.train = train
        self.test = test
        self.shuffle = shuffle
    }

    public var dataDescription: String {
        "\(train.name) \(train.count) images" + (test.map { ", \($0.name) \($0.count) images" } ?? "")
    }
    public var exampleName: String { "images" }

    public func check(model: Graph) throws {
        try Self.checkCompatible(train, model)
        if let test { try Self.checkCompatible(test, model) }
    }

    public func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        try train.batches(epoch: epoch, seed: seed, batchSize: batchSize, shuffle: shuffle).enumerated().map {
            Batch(index: $0.offset, samples: $0.element, examples: $0.element.count)
        }
    }

    public func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        let call = uploadCall(model)
        let (x, y) = try Self.upload(train, batch.samples, call: call)
        return try loss(input: x, labels: y, model: model)
    }

    /// The training forward pass on a batch already on the device: `input` `[batch] + sample shape`, int32
    /// `labels` `[batch]`. Returns the batch-mean loss on the device.
    public func loss(input: Tensor, labels: Tensor, model: Graph) throws -> Tensor {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "classification")
        let logits = try model.forward([inputName: input], training: true)[outputName]!
        let loss = self.loss ?? SoftmaxCrossEntropy(backend: model.backend)
        self.loss = loss
        self.outputName = outputName
        let total = try loss.forward(logits, targets: labels)
        try model.addPenalties(to: total)
        return total
    }

    public func backward(model: Graph) throws {
        guard let loss else { throw NNError.invalidModel("classification: backward called before forward") }
        try model.backward([outputName: try loss.backward()])
    }

    public func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        try test.map { try Self.report(model: model, on: $0, batchSize: batchSize).evaluation }
    }

    public func evaluate(model: Graph, batchSize: Int, part: Int, of parts: Int) throws -> (Evaluation, examples: Int)? {
        guard let test else { return nil }
        let rows = (test.count * part / parts)..<(test.count * (part + 1) / parts)
        guard !rows.isEmpty else { return (Evaluation(loss: 0, metrics: ["accuracy": 0]), 0) }
        if testParts?.part != part || testParts?.parts != parts { testParts = (part, parts, try test.subset(rows)) }
        return (try Self.report(model: model, on: testParts!.data, batchSize: batchSize).evaluation, rows.count)
    }

    private func uploadCall(_ model: Graph) -> LayerCall {
        if let uploads, uploads.backend === model.backend { return uploads }
        let call = LayerCall(backend: model.backend)
        uploads = call
        return call
    }

    /// Loss, accuracy and confusion matrix of `model` on `data`, in evaluation mode (dropout off).
    public static func report(model: Graph, on data: Dataset, batchSize: Int) throws -> ClassificationReport {
        guard batchSize > 0 else { throw NNError.invalidSetting(name: "--batch-size", message: "must be positive, got \(batchSize)") }
        try checkCompatible(data, model)
        let (inputName, outputName) = try model.singleInputAndOutput(for: "classification")
        let classes = model.shapes[outputName]!.reduce(1, *)
        let backend = model.backend
        let loss = SoftmaxCrossEntropy(backend: backend), call = LayerCall(backend: backend)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var lossSum = 0.0, correct = 0
        for indices in try data.batches(epoch: 0, seed: 0, batchSize: batchSize, shuffle: false) {
            let (x, y) = try upload(data, indices, call: call)
            let logits = try model.forward([inputName: x], training: false)[outputName]!
            lossSum += Double(try backend.readScalar(loss.forward(logits, targets: y))) * Double(indices.count)
            let scores = try backend.download(logits)
            for (row, index) in indices.enumerated() {
                let rowScores = scores[(row * classes)..<((row + 1) * classes)]
                let predicted = rowScores.indices.max { rowScores[$0] < rowScores[$1] }! - row * classes
                let truth = Int(data.labels[index])
                confusion[truth][predicted] += 1
                if predicted == truth { correct += 1 }
            }
        }
        let count = Double(max(data.count, 1))
        return ClassificationReport(loss: lossSum / count, accuracy: Double(correct) / count, confusion: confusion)
    }

    /// Uploads the samples at `indices` into the call's buffers (reused from batch to batch).
    private static func upload(_ data: Dataset, _ indices: ArraySlice<Int>, call: LayerCall) throws -> (Tensor, Tensor) {
        let batch = data.batch(indices: indices)
        let x = try call.tensor("input", shape: [indices.count] + data.sampleShape)
        try call.backend.upload(batch.images, to: x)
        let y = try call.tensor("labels", shape: [indices.count], dtype: .int32)
        try call.backend.upload(int32: batch.labels, to: y)
        return (x, y)
    }

    static func checkCompatible(_ data: Dataset, _ model: Graph) throws {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "classification")
        let inputShape = model.shapes[inputName]!, classes = model.shapes[outputName]!.reduce(1, *)
        guard data.sampleShape == inputShape, classes >= data.classCount, data.count > 0 else {
            throw NNError.invalidSetting(name: "data", message:
                "\(data.name) has \(data.count) samples \(describe(data.sampleShape)) in \(data.classCount) classes; the model takes \(describe(inputShape)) and has \(classes) outputs")
        }
    }
}

/// Loss, accuracy and confusion matrix of a classifier on a data set.
public struct ClassificationReport: Equatable, Sendable {
    /// The mean softmax cross-entropy per sample, in nats.
    public var loss: Double
    /// The fraction of samples classified correctly, in [0, 1].
    public var accuracy: Double
    /// `confusion[truth][prediction]` counts.
    public var confusion: [[Int]]

    /// The report as an `Evaluation`, with accuracy its only metric.
    public var evaluation: Evaluation { Evaluation(loss: loss, metrics: ["accuracy": accuracy]) }
}

// MARK: - Regression

/// Regression or reconstruction with the squared error `1/2 ||output - target||^2` (batch mean) on float
/// inputs and targets: an autoencoder's targets are its inputs.
public final class Regression: Objective {
    /// The examples trained on.
    public let train: TensorDataset
    /// The held-out examples `evaluate` reports on; nil for none.
    public let test: TensorDataset?
    /// Whether each epoch visits the training examples in a new order drawn from Philox rather than in order.
    public let shuffle: Bool
    private var loss: SquaredError?
    private var uploads: LayerCall?
    private var outputName = ""

    /// Regression on `train`, evaluated on `test` when given; each epoch is shuffled unless `shuffle` is false.
    public init(train: TensorDataset, test: TensorDataset? = nil, shuffle: Bool = true) {
        self.train = train
        self.test = test
        self.shuffle = shuffle
    }

    public var dataDescription: String { "\(train.name) \(train.count) examples" }
    public var exampleName: String { "examples" }

    public func check(model: Graph) throws {
        for data in [train] + (test.map { [$0] } ?? []) { try data.checkMapped(by: model, for: "regression") }
    }

    public func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        try train.batches(epoch: epoch, seed: seed, batchSize: batchSize, shuffle: shuffle)
    }

    public func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "regression")
        let call = uploads ?? LayerCall(backend: model.backend)
        uploads = call
        let (x, y) = try train.upload(batch.samples, call: call)
        let output = try model.forward([inputName: x], training: true)[outputName]!
        let loss = self.loss ?? SquaredError(backend: model.backend)
        self.loss = loss
        self.outputName = outputName
        let total = try loss.forward(output, targets: y)
        try model.addPenalties(to: total)
        return total
    }

    public func backward(model: Graph) throws {
        guard let loss else { throw NNError.invalidModel("regression: backward called before forward") }
        try model.backward([outputName: try loss.backward()])
    }

    public func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        guard let test else { return nil }
        let (inputName, outputName) = try model.singleInputAndOutput(for: "regression")
        let loss = SquaredError(backend: model.backend), call = LayerCall(backend: model.backend)
        var total = 0.0
        for batch in try test.batches(epoch: 0, seed: 0, batchSize: batchSize, shuffle: false) {
            let (x, y) = try test.upload(batch.samples, call: call)
            let output = try model.forward([inputName: x], training: false)[outputName]!
            total += Double(try model.backend.readScalar(loss.forward(output, targets: y))) * Double(batch.examples)
        }
        let mean = total / Double(test.count)
        return Evaluation(loss: mean, metrics: ["mean squared error": 2 * mean / Double(test.targetShape.reduce(1, *))])
    }
}

/// Float examples and their float targets, held on the host.
public struct TensorDataset: Sendable {
    /// Where the examples came from, for reports and errors.
    public let name: String
    /// `count` inputs of `inputShape`, each row-major, one after another.
    public let inputs: [Float]
    /// `count` targets of `targetShape`, in the order of the inputs.
    public let targets: [Float]
    /// The shape of one input, which the model must take.
    public let inputShape: [Int]
    /// The shape of one target, which the model's output must have.
    public let targetShape: [Int]
    /// The number of examples.
    public let count: Int

    /// `inputs` holds `count` examples of `inputShape`, `targets` as many of `targetShape`, all finite.
    public init(name: String, inputs: [Float], inputShape: [Int], targets: [Float], targetShape: [Int]) throws {
        func fail(_ message: String) -> NNError { .invalidSetting(name: "data set '\(name)'", message: message) }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }), !targetShape.isEmpty, targetShape.allSatisfy({ $0 > 0 }) else {
            throw fail("shapes \(describe(inputShape)) and \(describe(targetShape)) must have positive dimensions")
        }
        let inputSize = inputShape.reduce(1, *), targetSize = targetShape.reduce(1, *)
        guard inputs.count % inputSize == 0, targets.count == inputs.count / inputSize * targetSize, !inputs.isEmpty else {
            throw fail("\(inputs.count) inputs of \(describe(inputShape)) and \(targets.count) targets of \(describe(targetShape)) are not the same positive number of examples")
        }
        if let index = (inputs + targets).firstIndex(where: { !$0.isFinite }) {
            throw fail("value \(index) is not finite")
        }
        self.name = name
        self.inputs = inputs
        self.targets = targets
        self.inputShape = inputShape
        self.targetShape = targetShape
        count = inputs.count / inputSize
    }

    /// Reconstruction: each example is its own target.
    public init(name: String, reconstructing inputs: [Float], shape: [Int]) throws {
        try self.init(name: name, inputs: inputs, inputShape: shape, targets: inputs, targetShape: shape)
    }

    /// Throws unless `model` (one input, one output) maps this data's inputs to outputs of its targets' shape.
    func checkMapped(by model: Graph, for objective: String) throws {
        let (inputName, outputName) = try model.singleInputAndOutput(for: objective)
        guard inputShape == model.shapes[inputName]!, targetShape == model.shapes[outputName]! else {
            throw NNError.invalidSetting(name: "data", message:
                "\(name) maps \(describe(inputShape)) to \(describe(targetShape)); the model maps \(describe(model.shapes[inputName]!)) to \(describe(model.shapes[outputName]!))")
        }
    }

    func batches(epoch: Int, seed: UInt64, batchSize: Int, shuffle: Bool) throws -> [Batch] {
        guard batchSize > 0 else {
            throw NNError.invalidSetting(name: "batch size", message: "\(batchSize) must be at least 1")
        }
        var order = Array(0..<count)
        if shuffle { order = permutation(count, seed: seed, stream: RandomStream.shuffle(epoch: epoch)) }
        return stride(from: 0, to: count, by: batchSize).enumerated().map { index, start in
            let samples = order[start..<min(start + batchSize, count)]
            return Batch(index: index, samples: samples, examples: samples.count)
        }
    }

    func upload(_ samples: ArraySlice<Int>, call: LayerCall) throws -> (Tensor, Tensor) {
        let y = try call.tensor("target", shape: [samples.count] + targetShape)
        try call.backend.upload(gatherRows(targets, rowSize: targetShape.reduce(1, *), indices: samples, name: name), to: y)
        return (try uploadInputs(samples, call: call), y)
    }

    /// The inputs alone, for objectives that have no use for the targets (reconstruction, contrastive divergence).
    func uploadInputs(_ samples: ArraySlice<Int>, call: LayerCall) throws -> Tensor {
        let x = try call.tensor("input", shape: [samples.count] + inputShape)
        try call.backend.upload(gatherRows(inputs, rowSize: inputShape.reduce(1, *), indices: samples, name: name), to: x)
        return x
    }
}

/// A permutation of `0..<count` from Philox stream `stream` under `seed` (Fisher-Yates, as `Dataset.batchOrder`).
func permutation(_ count: Int, seed: UInt64, stream: UInt64) -> [Int] {
    var order = Array(0..<count)
    guard count > 1 else { return order }
    let words = Philox.words(PhiloxAddress(seed: seed, stream: stream), count: count - 1)
    for (k, i) in (1..<count).reversed().enumerated() {
        order.swapAt(i, Int((UInt64(words[k]) * UInt64(i + 1)) >> 32))
    }
    return order
}
