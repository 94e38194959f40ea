import ArgumentParser
import Foundation
import Synapse

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text with a character model, or images with an RBM or deep belief net.",
        discussion: "Text: the prime text is fed through the model, then each next character is drawn from the model's "
            + "softmax at the given temperature (below 1: safer, above 1: wilder). Images: Gibbs sampling in the (top) RBM "
            + "from random units, then down through the lower RBMs, drawn as a mosaic (--out FILE.png). The same seed "
            + "draws the same random numbers on every device, so the same text or images, unless a draw falls within "
            + "the devices' last-bit differences of a boundary (see the README: likelier at low temperatures)."
    )

    @Argument(help: "The checkpoint (.safetensors).") var checkpoint: String
    @Option(help: ArgumentHelp("Text to start from; every character must be in the model's vocabulary (default: a "
                               + "newline, or the vocabulary's first character when the text had no newline)."))
    var prime: String?
    @Option(parsing: .unconditional, help: "Characters to generate (default 500).") var length: Int?
    @Option(parsing: .unconditional, help: "Softmax temperature, in [1e-6, 1e6] (default 1).") var temperature: Double?
    @Option(help: "Images: the PNG file the samples are drawn into.") var out: String?
    @Option(parsing: .unconditional, help: "Images: how many to draw, up to 1000 (default 64).") var count: Int?
    @Option(parsing: .unconditional, help: "Images: Gibbs steps in the top RBM, up to 100000 (default 1000).") var gibbsSteps: Int?
    @Option(parsing: .unconditional, help: "Seed of the draws.") var seed: UInt64 = 1
    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        let metadata = try Checkpoint.metadata(at: checkpoint)
        let settings = try RunSettings(metadata: metadata, path: checkpoint)
        let kind = try ModelKind(parsing: settings.model)
        if kind.isBoltzmann { return try sampleImages(kind, settings: settings, metadata: metadata) }
        guard kind.readsText else {
            throw NNError.checkpoint(path: checkpoint, message: "holds a model of kind \(settings.model), which does not generate; sample needs a char-lstm, rbm or dbn model")
        }
        for (flag, given) in [("--out", out != nil), ("--count", count != nil), ("--gibbs-steps", gibbsSteps != nil)] where given {
            throw NNError.invalidSetting(name: flag, message: "applies to rbm and dbn models, not to \(settings.model)")
        }
        let length = self.length ?? 500, temperature = self.temperature ?? 1
        let vocabulary = try CharacterVocabulary.stored(in: metadata, path: checkpoint)
        let prime = prime ?? String(vocabulary.characters.contains("\n") ? "\n" : Character(vocabulary.characters[0]))
        let backend = try deviceOption.backend()
        // The trained network read one character at a time: the same layers and parameters, for input [1].
        let network = try Checkpoint.building(for: checkpoint) {
            try Sequential(inputShape: [1], layers: Models.charLSTM(vocabulary: vocabulary.count, hidden: settings.hidden,
                                                                    layers: settings.layers),
                           backend: backend, seed: settings.seed)
        }
        try Checkpoint.importWeights(into: network, from: checkpoint)
        // The prime goes out with the first character drawn, once generation has accepted the settings.
        var echoed = false
        _ = try TextGenerator.generate(model: network, vocabulary: vocabulary, prime: prime, length: length,
                                       temperature: temperature, seed: seed) { character in
            print(echoed ? character : prime + character, terminator: "")
            echoed = true
            fflush(nil)
        }
        print("")
    }

    /// Samples of an RBM, or of the deep belief net a checkpoint holds while (or after) its layers pretrain.
    private func sampleImages(_ kind: ModelKind, settings: RunSettings, metadata: [String: String]) throws {
        for (flag, given) in [("--prime", prime != nil), ("--length", length != nil), ("--temperature", temperature != nil)] where given {
            throw NNError.invalidSetting(name: flag, message: "applies to char-lstm models, not to \(kind.rawValue)")
        }
        guard let out, out.lowercased().hasSuffix(".png") else {
            throw NNError.invalidSetting(name: "--out", message: "\(kind.rawValue) samples are images: give --out FILE.png")
        }
        let count = self.count ?? 64, steps = gibbsSteps ?? 1000
        guard (1...1000).contains(count) else { throw NNError.invalidSetting(name: "--count", message: "must be in 1...1000, got \(count)") }
        guard (1...100_000).contains(steps) else {
            throw NNError.invalidSetting(name: "--gibbs-steps", message: "must be in 1...100000, got \(steps)")
        }
        try checkPictureOutput(out, input: checkpoint)
        let stack = try kind.stack(settings)!
        let phase = try LayerwiseTraining.phase(in: metadata, path: checkpoint, kind: kind, settings: settings)
        guard phase <= stack.widths.count else {
            let pretrained = LayerwiseTraining.pretrainedPath(checkpoint)
            throw NNError.checkpoint(path: checkpoint, message: "holds the fine-tuned classifier, which keeps no generative model; "
                + "sample from \(pretrained), the stack as pretraining left it")
        }
        guard let input = Checkpoint.layout(in: metadata)?.input, input.count == 3, [1, 3].contains(input[0]) else {
            throw NNError.checkpoint(path: checkpoint, message: "its metadata does not give the images' shape ('architecture')")
        }
        let backend = try deviceOption.backend()
        let model = try Checkpoint.building(for: checkpoint) {
            try stack.pretrainingModel(layer: phase, inputShape: input, backend: backend, seed: settings.seed)
        }
        try Checkpoint.loadWeights(into: model, from: checkpoint)
        let rbms = model.layers.compactMap { $0 as? RBM }
        let samples = try RBM.sample(rbms, count: count, steps: steps,
                                     address: PhiloxAddress(seed: seed, stream: RandomStream.sampling(0)), backend: backend)
        let picture = try Mosaic.render(samples, tileShape: input, scale: 2, scaling: .unit)
        try picture.writePNG(to: out)
        print("\(count) samples of the \(rbms.count)-layer \(kind.rawValue) in \(checkpoint), \(steps) Gibbs steps, seed \(seed): \(out)")
    }
}
