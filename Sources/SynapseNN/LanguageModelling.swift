import Foundation
import SynapseCore

/// Character-level language modelling (char-rnn): predict every next character of a text. The text's tail is
/// held out for validation. An epoch cuts the training text into `batchSize` streams read side by side, `steps`
/// characters per batch, so each batch continues where the last left off and a model that carries its state
/// (`LSTM(carriesState: true)`) trains by truncated backpropagation through time; the state is reset at the
/// start of every epoch and evaluation. The loss is the softmax cross-entropy per character in nats; the metric
/// is bits per character on the validation text.
public final class LanguageModelling: Objective {
    /// The corpus's name, for reports and errors.
    public let name: String
    /// The characters the model reads and predicts; its size is the width of the model's output.
    public let vocabulary: CharacterVocabulary
    /// The tokens of the training text: the corpus without its held-out tail.
    public let train: [Int32]
    /// The tokens of the held-out tail, on which `evaluate` reports bits per character.
    public let validation: [Int32]
    /// Characters per sequence: the model's input is `[steps]` tokens, its output `[steps, vocabulary]` logits.
    public let steps: Int
    private var loss: SoftmaxCrossEntropy?
    private var uploads: LayerCall?
    private var outputName = ""

    /// The held-out tail's share of the text, as char-rnn's default.
    public static let defaultValidationFraction = 0.05

    /// Splits `corpus` into training text and a validation tail; both must hold more than one sequence.
    public init(corpus: TextCorpus, steps: Int, validationFraction: Double = defaultValidationFraction) throws {
        guard steps > 0 else { throw NNError.invalidSetting(name: "--sequence-length", message: "must be positive, got \(steps)") }
        guard validationFraction > 0, validationFraction < 1 else {
            throw NNError.invalidSetting(name: "validation fraction", message: "must be in (0, 1), got \(validationFraction)")
        }
        let held = Int(Double(corpus.tokens.count) * validationFraction)
        guard held > steps, corpus.tokens.count - held > steps else {
            throw NNError.dataFile(path: corpus.name, message: "holds \(corpus.tokens.count) characters: too short to train on "
                + "sequences of \(steps) and keep a validation tail of more than one sequence (it needs at least "
                + "\(Int((Double(steps + 1) / min(validationFraction, 1 - validationFraction)).rounded(.up))))")
        }
        name = corpus.name
        vocabulary = corpus.vocabulary
        train = Array(corpus.tokens[..<(corpus.tokens.count - held)])
        validation = Array(corpus.tokens[(corpus.tokens.count - held)...])
        self.steps = steps
    }

    public var dataDescription: String {
        "\(name) \(train.count) training and \(validation.count) validation characters, \(vocabulary.count) distinct"
    }
    public var exampleName: String { "characters" }

    public func check(model: Graph) throws {
        let (input, output) = try model.singleInputAndOutput(for: "language modelling")
        guard model.shapes[input]! == [steps], model.shapes[output]! == [steps, vocabulary.count] else {
            throw NNError.invalidSetting(name: "data", message: "\(name) is read \(steps) characters at a time with "
                + "\(vocabulary.count) distinct characters: the model must map [\(steps)] to [\(steps), \(vocabulary.count)], "
                + "not \(describe(model.shapes[input]!)) to \(describe(model.shapes[output]!))")
        }
    }

    /// `batchSize` streams of `(count - 1) / batchSize` characters; batch i holds characters
    /// `i * steps ..< (i + 1) * steps` of every stream (and the next character of each as targets).
    public func batches(epoch: Int, seed: UInt64, batchSize: Int) throws -> [Batch] {
        let count = try Self.batchCount(train.count, batchSize: batchSize, steps: steps, text: "the training text of \(name)")
        return (0..<count).map { Batch(index: $0, samples: [$0], examples: batchSize * steps) }
    }

    private static func batchCount(_ characters: Int, batchSize: Int, steps: Int, text: String) throws -> Int {
        let count = (characters - 1) / batchSize / steps
        guard count > 0 else {
            throw NNError.invalidSetting(name: "--batch-size", message: "\(text) has \(characters) characters, too few "
                + "for one batch of \(batchSize) streams of \(steps) + 1")
        }
        return count
    }

    public func forward(_ batch: Batch, model: Graph) throws -> Tensor {
        if batch.index == 0 { model.resetCarriedState() }
        let call = uploads ?? LayerCall(backend: model.backend)
        uploads = call
        let (x, y) = try upload(train, batch: batch.index, streams: batch.examples / steps, call: call)
        return try loss(input: x, targets: y, model: model)
    }

    /// The tokens of batch `index` of `streams` side-by-side streams of `text`, as inputs `[streams, steps]` and
    /// targets `[streams * steps]` (the next characters), in the call's buffers.
    private func upload(_ text: [Int32], batch index: Int, streams: Int, call: LayerCall) throws -> (Tensor, Tensor) {
        let length = (text.count - 1) / streams
        var inputs = [Int32](), targets = [Int32]()
        inputs.reserveCapacity(streams * steps)
        targets.reserveCapacity(streams * steps)
        for s in 0..<streams {
            let start = s * length + index * steps
            inputs += text[start..<start + steps]
            targets += text[start + 1..<start + steps + 1]
        }
        let x = try call.tensor("input", shape: [streams, steps], dtype: .int32)
        let y = try call.tensor("targets", shape: [streams * steps], dtype: .int32)
        try call.backend.upload(int32: inputs, to: x)
        try call.backend.upload(int32: targets, to: y)
        return (x, y)
    }

    /// The training forward pass on a batch already on the device: int32 `input` `[streams, steps]` and the next
    /// characters as int32 `targets` `[streams * steps]`. Returns the mean loss per character, on the device.
    public func loss(input x: Tensor, targets y: Tensor, model: Graph) throws -> Tensor {
        let (inputName, outputName) = try model.singleInputAndOutput(for: "language modelling")
        let logits = try model.forward([inputName: x], training: true)[outputName]!
        let loss = self.loss ?? SoftmaxCrossEntropy(backend: model.backend)
        self.loss = loss
        self.outputName = outputName
        return try loss.forward(logits.reshaped([y.count, vocabulary.count]), targets: y)
    }

    public func backward(model: Graph) throws {
        guard let loss else { throw NNError.invalidModel("language modelling: backward called before forward") }
        let gradient = try loss.backward()
        try model.backward([outputName: gradient.reshaped([gradient.count / (steps * vocabulary.count), steps, vocabulary.count])])
    }

    /// The validation text read as in training (streams side by side, the state carried from batch to batch),
    /// with as many streams as it has room for, up to `batchSize`.
    public func evaluate(model: Graph, batchSize: Int) throws -> Evaluation? {
        let streams = max(1, min(batchSize, (validation.count - 1) / steps))
        let count = try Self.batchCount(validation.count, batchSize: streams, steps: steps,
                                        text: "the validation text of \(name)")
        model.resetCarriedState()
        let call = LayerCall(backend: model.backend), loss = SoftmaxCrossEntropy(backend: model.backend)
        let (inputName, outputName) = try model.singleInputAndOutput(for: "language modelling")
        var total = 0.0
        for index in 0..<count {
            let (x, y) = try upload(validation, batch: index, streams: streams, call: call)
            let logits = try model.forward([inputName: x], training: false)[outputName]!
            total += Double(try model.backend.readScalar(loss.forward(logits.reshaped([y.count, vocabulary.count]), targets: y)))
        }
        model.resetCarriedState()
        let mean = total / Double(count)
        return Evaluation(loss: mean, metrics: [Self.bitsPerCharacter: mean / log(2)])
    }

    /// The metric's name: the validation loss in bits (base-2 logarithm) per character.
    public static let bitsPerCharacter = "bits per character"
}

/// Text drawn from a trained character model, one character at a time.
public enum TextGenerator {
    /// The characters one call may draw.
    public static let lengthRange = 1...10_000_000
    /// The temperatures accepted.
    public static let temperatureRange = 1e-6...1e6

    /// Feeds `prime` through `model` (input `[1]` token, output `[1, vocabulary]` logits, a recurrent layer that
    /// carries its state), then draws `length` characters, each from the softmax of the last logits divided by
    /// `temperature`, with Philox uniforms from `seed` (stream `RandomStream.sampling(0)`), so the same seed gives
    /// the same text. A temperature near 0 picks the likeliest character; above 1 the text grows more random.
    /// `each` receives every character as it is drawn (to show long text as it comes); the whole text is returned.
    public static func generate(model: Graph, vocabulary: CharacterVocabulary, prime: String, length: Int,
                                temperature: Double, seed: UInt64, each: (String) -> Void = { _ in }) throws -> String {
        // Below the range the text is the likeliest anyway, and the logits divided by it could overflow.
        guard temperatureRange.contains(temperature) else {
            throw NNError.invalidSetting(name: "--temperature", message: "must be in [1e-6, 1e6], got \(temperature)")
        }
        guard lengthRange.contains(length) else {
            throw NNError.invalidSetting(name: "--length", message: "must be in \(lengthRange), got \(length)")
        }
        let primeTokens = try vocabulary.encode(prime)
        guard !primeTokens.isEmpty else { throw NNError.invalidSetting(name: "--prime", message: "must hold at least one character") }
        let (inputName, outputName) = try model.singleInputAndOutput(for: "text generation")
        guard model.shapes[inputName]! == [1], model.shapes[outputName]! == [1, vocabulary.count] else {
            throw NNError.invalidModel("text generation needs a model from [1] to [1, \(vocabulary.count)]")
        }
        let backend = model.backend
        let input = try backend.tensor(shape: [1, 1], dtype: .int32)
        model.resetCarriedState()
        var logits: [Float] = []
        func feed(_ token: Int32) throws {
            try backend.upload(int32: [token], to: input)
            logits = try backend.download(model.forward([inputName: input], training: false)[outputName]!)
        }
        for token in primeTokens { try feed(token) }
        var generated: [Int32] = []
        let start = PhiloxAddress(seed: seed, stream: RandomStream.sampling(0))
        for i in 0..<length {
            let scaled = logits.map { Double($0) / temperature }
            let top = scaled.max()!
            let weights = scaled.map { exp($0 - top) }
            let total = weights.reduce(0, +)
            let u = Double(Philox.uniform(Philox.word(start.advanced(by: i)))) * total
            var cumulative = 0.0
            let token = weights.firstIndex { cumulative += $0; return cumulative > u } ?? weights.count - 1
            generated.append(Int32(token))
            each(vocabulary.decode([Int32(token)]))
            try feed(Int32(token))
        }
        model.resetCarriedState()
        return vocabulary.decode(generated)
    }
}
