import ArgumentParser
import Foundation
import Synapse

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Test accuracy, loss and confusion matrix of a checkpoint written by `synapse train`.",
        discussion: "A safetensors file of PyTorch weights can be evaluated too: give --model, and the test set is normalised with statistics fitted to the training set (a note says so)."
    )

    @Argument(help: "The checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "The model, for files without Synapse metadata (PyTorch weights).") var model: String?
    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var deviceOption: DeviceOption
    @Option(parsing: .unconditional, help: "Images per batch (default 256; a character model uses the streams it was trained with).") var batchSize: Int?

    func run() throws {
        let metadata = try Checkpoint.metadata(at: checkpoint)
        let isSynapse = metadata["format"] == Checkpoint.format
        guard let name = model ?? metadata["settings.model"] else {
            if metadata.keys.contains(where: { $0.hasPrefix("word2vec.") }) {
                throw NNError.checkpoint(path: checkpoint, message: "it holds word vectors; query them with similar, analogy or related, and measure them with evaluate-words")
            }
            throw NNError.checkpoint(path: checkpoint, message: "it does not say which model it holds; give --model")
        }
        let kind = try ModelKind(parsing: name)
        if let model, let stored = metadata["settings.model"], try ModelKind(parsing: stored) != kind {
            throw NNError.invalidSetting(name: "--model", message: "\(model) differs from the \(stored) model \(checkpoint) holds")
        }
        if let batchSize, !RunSettings.batchSizeRange.contains(batchSize) {
            throw NNError.invalidSetting(name: "--batch-size", message: "must be in \(RunSettings.batchSizeRange), got \(batchSize)")
        }
        var epochNote = ""
        if isSynapse, let text = metadata["epoch"] {   // another tool's metadata may mean anything by it
            guard let epoch = Int(text), (0...Checkpoint.maxEpochs).contains(epoch) else {
                throw NNError.checkpoint(path: checkpoint, message: "metadata field 'epoch' is '\(text)', not in 0...\(Checkpoint.maxEpochs)")
            }
            epochNote = " (epoch \(epoch))"
        }
        let backend = try deviceOption.backend()
        if kind.readsText { return try evaluateText(metadata: metadata, backend: backend, epochNote: epochNote) }
        if kind == .sparseCoding { return try evaluateSparseCoding(metadata: metadata, backend: backend) }
        if kind.isLayerwise {
            guard isSynapse else {
                throw NNError.checkpoint(path: checkpoint, message: "\(kind.rawValue) is evaluated from checkpoints of synapse train only")
            }
            return try evaluateLayerwise(kind, metadata: metadata, backend: backend, epochNote: epochNote)
        }
        // The data set the checkpoint was trained on, unless --data names another one.
        let directory = dataOptions.data ?? metadata["settings.data"] ?? Dataset.defaultDirectory
        let normalization = try Normalization.stored(in: metadata, path: checkpoint)
        if normalization == nil {
            guard !isSynapse else {
                throw NNError.checkpoint(path: checkpoint, message: "metadata 'normalization.mean'/'normalization.std' are missing, so its inputs cannot be normalised as in training")
            }
            print("note: \(checkpoint) holds no normalisation; fitting it to the training set of \(directory)")
        }
        let (_, test, _) = try DataOptions.load(directory: directory, trainLimit: dataOptions.trainLimit ?? 0,
                                                testLimit: dataOptions.testLimit ?? 0, normalization: normalization,
                                                pixels: kind.pixels)
        let seed = metadata["seed"].flatMap(UInt64.init) ?? 1
        let network = try Checkpoint.building(for: checkpoint) {
            try kind.build(inputShape: test.sampleShape, classes: test.classCount, backend: backend, seed: seed)
        }
        if isSynapse {
            try Checkpoint.loadWeights(into: network, from: checkpoint)
        } else {
            try Checkpoint.importWeights(into: network, from: checkpoint)
        }
        let result = try Classification.report(model: network, on: test, batchSize: batchSize ?? 256)
        print("\(kind.rawValue) from \(checkpoint)\(epochNote) on \(test.name), \(backend.name)")
        if kind == .perceptron {
            // The perceptron's loss is its own: output units in error, not a cross-entropy.
            let rule = try PerceptronRule.evaluate(model: network, on: TensorDataset(oneHot: test), batchSize: batchSize ?? 256)
            print(String(format: "test accuracy %.2f%%  units in error per image %.4f  (%d images)", 100 * result.accuracy,
                         rule.loss, test.count))
        } else {
            print(String(format: "test accuracy %.2f%%  test loss %.4f  (%d images)", 100 * result.accuracy, result.loss, test.count))
        }
        print(confusionTable(result.confusion, names: test.classNames))
    }

    /// A layer-wise model in the phase its checkpoint holds: a layer being pretrained on its own metric, or the
    /// fine-tuned classifier as any other.
    private func evaluateLayerwise(_ kind: ModelKind, metadata: [String: String], backend: Backend, epochNote: String) throws {
        let settings = try RunSettings(metadata: metadata, path: checkpoint)
        let stack = try kind.stack(settings)!
        let phase = try LayerwiseTraining.phase(in: metadata, path: checkpoint, kind: kind, settings: settings)
        let normalization = try Normalization.required(in: metadata, path: checkpoint)
        let (_, test, _) = try LayerwiseTraining.loadData(kind, directory: dataOptions.data ?? settings.data,
                                                          trainLimit: dataOptions.trainLimit ?? 0,
                                                          testLimit: dataOptions.testLimit ?? 0, normalization: normalization)
        let batch = batchSize ?? 256
        guard phase > stack.widths.count else {
            let model = try Checkpoint.building(for: checkpoint) {
                try stack.pretrainingModel(layer: phase, inputShape: test.sampleShape, backend: backend, seed: settings.seed)
            }
            try Checkpoint.loadWeights(into: model, from: checkpoint)
            let images = try TensorDataset(name: test.name, reconstructing: test.images, shape: test.sampleShape)
            let objective = try stack.pretrainingObjective(layer: phase, model: model, train: images, test: images, batchSize: batch)
            try objective.check(model: model)
            let result = try objective.evaluate(model: model, batchSize: batch)!
            let what = kind.isUnsupervised ? kind.rawValue : "\(kind.rawValue) layer \(phase) of \(stack.widths.count) (pretraining)"
            print("\(what) from \(checkpoint)\(epochNote) on \(test.name), \(backend.name)")
            let metric = LayerwiseTraining.pretrainingMetric(kind)
            var line = String(format: "test loss %.4f  %@", result.loss, metric.describe(result.metrics[metric.key] ?? 0))
            if let energy = result.metrics[ContrastiveDivergence.freeEnergy] { line += String(format: "  free energy %.2f", energy) }
            print(line + "  (\(test.count) images)")
            return
        }
        let network = try Checkpoint.building(for: checkpoint) {
            try kind.build(inputShape: test.sampleShape, classes: test.classCount, backend: backend, seed: settings.seed,
                           settings: settings)
        }
        try Checkpoint.loadWeights(into: network, from: checkpoint)
        let result = try Classification.report(model: network, on: test, batchSize: batch)
        print("\(kind.rawValue) from \(checkpoint)\(epochNote), fine-tuned, on \(test.name), \(backend.name)")
        print(String(format: "test accuracy %.2f%%  test loss %.4f  (%d images)", 100 * result.accuracy, result.loss, test.count))
        print(confusionTable(result.confusion, names: test.classNames))
    }

    /// A character model on the validation tail of its text (or of --data, whose vocabulary must be the model's).
    private func evaluateText(metadata: [String: String], backend: Backend, epochNote: String) throws {
        guard metadata["format"] == Checkpoint.format else {
            throw NNError.checkpoint(path: checkpoint, message: "a character model is evaluated from a checkpoint of synapse "
                + "train, whose metadata hold its vocabulary, sequence length and streams; this file is not one")
        }
        let settings = try RunSettings(metadata: metadata, path: checkpoint)
        for (flag, value) in [("--batch-size", batchSize), ("--train-limit", dataOptions.trainLimit),
                              ("--test-limit", dataOptions.testLimit)] where value != nil {
            throw NNError.invalidSetting(name: flag, message: "applies to image models; a character model is evaluated "
                + "on the validation tail of its text with the \(settings.batchSize) streams it was trained with")
        }
        let vocabulary = try CharacterVocabulary.stored(in: metadata, path: checkpoint)
        let path = dataOptions.data ?? settings.data
        let corpus = try TextCorpus.load(path: path)
        try vocabulary.checkSame(as: corpus.vocabulary, model: checkpoint, text: path)
        if dataOptions.data == nil, metadata[TextCorpus.fingerprintKey] != corpus.fingerprint {
            print("note: \(path) has changed since \(checkpoint) was trained on it; its validation tail is other text now")
        }
        let objective = try LanguageModelling(corpus: corpus, steps: settings.sequenceLength)
        let network = try Checkpoint.building(for: checkpoint) {
            try Sequential(inputShape: [settings.sequenceLength],
                           layers: Models.charLSTM(vocabulary: vocabulary.count, hidden: settings.hidden, layers: settings.layers),
                           backend: backend, seed: settings.seed)
        }
        try Checkpoint.loadWeights(into: network, from: checkpoint)
        let result = try objective.evaluate(model: network, batchSize: settings.batchSize)!
        print("char-lstm from \(checkpoint)\(epochNote) on the validation tail of \(corpus.name), \(backend.name)")
        print(String(format: "validation loss %.4f nats, %.4f bits per character  (%d characters)", result.loss,
                     result.metrics[LanguageModelling.bitsPerCharacter]!, objective.validation.count))
    }

    /// A sparse-coding dictionary on the held-out patches of its photographs (or of --data's), as training reports it.
    private func evaluateSparseCoding(metadata: [String: String], backend: Backend) throws {
        let settings = try RunSettings(metadata: metadata, path: checkpoint)
        for (flag, value) in [("--batch-size", batchSize), ("--train-limit", dataOptions.trainLimit),
                              ("--test-limit", dataOptions.testLimit)] where value != nil {
            throw NNError.invalidSetting(name: flag, message: "applies to image models; sparse coding is evaluated on the "
                + "held-out patches its settings cut")
        }
        let directory = dataOptions.data ?? settings.data
        let (_, _, test) = try SparseCodingTraining.patches(settings, directory: directory)
        let coder = try SparseCoder(atoms: settings.widths[0], features: settings.patchSize * settings.patchSize,
                                    lambda: settings.lambda, backend: backend, seed: settings.seed)
        let epoch = try SparseCodingTraining.restore(coder, from: checkpoint, saved: metadata, settings: settings)
        let patches = try backend.tensor(test, shape: [test.count / coder.features, coder.features])
        let (objective, nonZeros, error) = try SparseCodingTraining.evaluate(coder, patches)
        print("sparse-coding from \(checkpoint) (epoch \(epoch)) on \(patches.batch) held-out patches of \(directory), \(backend.name)")
        print(String(format: "test objective %.4f  test mean squared error %.4f per pixel  %.1f of %d codes non-zero", objective,
                     error, nonZeros, coder.atoms))
    }

    /// Rows are the true classes, columns the predictions; the last column is the per-class accuracy.
    private func confusionTable(_ confusion: [[Int]], names: [String]) -> String {
        let width = max(6, (confusion.joined().max() ?? 0).description.count + 1)
        let label = (names.enumerated().map { "\($0.offset) \($0.element)".count }.max() ?? 0) + 1
        func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
        var lines = ["confusion matrix (rows: true class, columns: predicted)",
                     pad("", label) + names.indices.map { pad(String($0), width) }.joined() + pad("acc", 8)]
        for (i, name) in names.enumerated() {
            let row = confusion[i].prefix(names.count)
            let total = row.reduce(0, +)
            let accuracy = total > 0 ? String(format: "%.1f%%", 100 * Double(row[i]) / Double(total)) : "-"
            lines.append("\(i) \(name)".padding(toLength: label, withPad: " ", startingAt: 0) + row.map { pad(String($0), width) }.joined() + pad(accuracy, 8))
        }
        return lines.joined(separator: "\n")
    }
}
