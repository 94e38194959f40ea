import ArgumentParser
import Foundation
import Synapse

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text with a character model trained by `synapse train --model char-lstm`.",
        discussion: "The prime text is fed through the model, then each next character is drawn from the model's "
            + "softmax at the given temperature (below 1: safer, above 1: wilder). The same seed gives the same text."
    )

    @Argument(help: "The checkpoint (.safetensors).") var checkpoint: String
    @Option(help: ArgumentHelp("Text to start from; every character must be in the model's vocabulary (default: a "
                               + "newline, or the vocabulary's first character when the text had no newline)."))
    var prime: String?
    @Option(help: "Characters to generate.") var length = 500
    @Option(help: "Softmax temperature, positive.") var temperature = 1.0
    @Option(help: "Seed of the draws.") var seed: UInt64 = 1
    @OptionGroup var deviceOption: DeviceOption

    func run() throws {
        let metadata = try Checkpoint.metadata(at: checkpoint)
        let settings = try RunSettings(metadata: metadata, path: checkpoint)
        guard try ModelKind(parsing: settings.model).readsText else {
            throw NNError.checkpoint(path: checkpoint, message: "holds a \(settings.model) model, not a character model; sample needs one trained with --model char-lstm")
        }
        let vocabulary = try CharacterVocabulary.stored(in: metadata, path: checkpoint)
        let prime = prime ?? String(vocabulary.characters.contains("\n") ? "\n" : Character(vocabulary.characters[0]))
        let backend = try deviceOption.backend()
        // The trained network read one character at a time: the same layers and parameters, for input [1].
        let network = try Sequential(inputShape: [1], layers: Models.charLSTM(vocabulary: vocabulary.count, hidden: settings.hidden,
                                                                              layers: settings.layers),
                                     backend: backend, seed: settings.seed)
        try Checkpoint.importWeights(into: network, from: checkpoint)
        let text = try TextGenerator.generate(model: network, vocabulary: vocabulary, prime: prime, length: length,
                                              temperature: temperature, seed: seed)
        print(prime + text)
    }
}
