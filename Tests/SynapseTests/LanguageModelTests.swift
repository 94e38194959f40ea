import Foundation
import Synapse
import XCTest

/// Character-level language modelling: reading text, the objective, whole-run parity between devices, resume,
/// and generation.
final class LanguageModelTests: SynapseTestCase {
    /// A text with structure to learn: a few sentences repeated with variations.
    static let text: String = {
        let words = ["the cat sat on the mat. ", "a dog ran in the fog. ", "my hat is red! ", "we sing, you dance. "]
        var random = TestRandom(seed: 70)
        return (0..<300).map { _ in words[random.int(below: words.count)] }.joined()
    }()

    static func corpus(_ text: String = text) throws -> TextCorpus {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("text.txt").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return try TextCorpus.load(path: path)
    }

    static func model(_ vocabulary: Int, steps: Int, on backend: Backend, seed: UInt64 = 3, dropout: Float = 0) throws -> Sequential {
        try Sequential(inputShape: [steps], layers: Models.charLSTM(vocabulary: vocabulary, embedding: 8, hidden: 24, layers: 2,
                                                                    dropout: dropout),
                       backend: backend, seed: seed)
    }

    func testTextIsReadAsCharacters() throws {
        let corpus = try Self.corpus("héllo, wörld\n")
        XCTAssertEqual(corpus.vocabulary.characters.map(String.init), ["\n", " ", ",", "d", "h", "l", "o", "r", "w", "é", "ö"])
        XCTAssertEqual(corpus.vocabulary.decode(corpus.tokens), "héllo, wörld\n")
        XCTAssertEqual(try CharacterVocabulary(metadata: corpus.vocabulary.metadata, path: "c"), corpus.vocabulary)
        let gzipped = try TrainingTests.temporaryDirectory().appendingPathComponent("text.txt").path
        try Data(Self.text.utf8).write(to: URL(fileURLWithPath: gzipped))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", gzipped]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(try TextCorpus.load(path: gzipped + ".gz").tokens, try Self.corpus().tokens, "gzip reads as plain")
        // A directory: its .txt files and those without an extension, in name order; other files are skipped.
        let texts = try TrainingTests.temporaryDirectory().appendingPathComponent("texts")
        try FileManager.default.createDirectory(at: texts, withIntermediateDirectories: true)
        for (name, text) in [("b.txt", "one "), ("a", "two "), ("a.dat", "\u{1}"), ("c.md", "three ")] {
            try Data(text.utf8).write(to: texts.appendingPathComponent(name))
        }
        let both = try TextCorpus.load(path: texts.path)
        XCTAssertEqual(both.vocabulary.decode(both.tokens), "two one ")
    }

    /// Bad text gets an error that names the file and says what is wrong.
    func testBadTextIsRefusedByName() throws {
        let directory = try TrainingTests.temporaryDirectory()
        func file(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        let empty = try file("empty.txt", [])
        assertNNError(contains: [empty, "is empty"]) { _ = try TextCorpus.load(path: empty) }
        let latin1 = try file("latin1.txt", Array("caf".utf8) + [0xE9, 0x20] + Array("au lait".utf8))
        assertNNError(contains: [latin1, "not UTF-8", "after character 3"]) { _ = try TextCorpus.load(path: latin1) }
        let missing = directory.appendingPathComponent("missing.txt").path
        assertNNError(contains: [missing, "no such file"]) { _ = try TextCorpus.load(path: missing) }
        let noText = directory.appendingPathComponent("no-text")
        try FileManager.default.createDirectory(at: noText, withIntermediateDirectories: true)
        try Data([1]).write(to: noText.appendingPathComponent("index.dat"))
        assertNNError(contains: [noText.path, "holds no text files"]) { _ = try TextCorpus.load(path: noText.path) }
        let short = try TextCorpus.load(path: try file("short.txt", Array("a short text".utf8)))
        assertNNError(contains: ["short.txt", "holds 12 characters", "too short", "sequences of 50"]) {
            _ = try LanguageModelling(corpus: short, steps: 50)
        }
        let objective = try LanguageModelling(corpus: Self.corpus(), steps: 10)
        assertNNError(contains: ["--batch-size", "too few for one batch of 100000 streams"]) {
            _ = try objective.batches(epoch: 1, seed: 1, batchSize: 100_000)
        }
    }

    /// A model trained on one vocabulary is refused for a text of another, both sizes named.
    func testAnotherVocabularyIsRefused() throws {
        let trained = try Self.corpus().vocabulary, other = try Self.corpus("ABC abc xyz").vocabulary
        assertNNError(contains: ["was trained on \(trained.count) characters", "has \(other.count)", "'A'"]) {
            try trained.checkSame(as: other, model: "run.safetensors", text: "other.txt")
        }
        XCTAssertNoThrow(try trained.checkSame(as: trained, model: "a", text: "b"))
    }

    /// A checkpoint's vocabulary must list its characters in code-point order, which fixes every token; an
    /// edited order would read every character as another.
    func testAVocabularyOutOfOrderIsRefused() throws {
        XCTAssertEqual(try CharacterVocabulary(metadata: "10,97,98", path: "c").characters, ["\n", "a", "b"])
        assertNNError(contains: ["run.safetensors", "not in code-point order", "'b' comes before 'a'"]) {
            _ = try CharacterVocabulary(metadata: "10,98,97", path: "run.safetensors")
        }
    }

    /// The fingerprint a resumed run checks changes with the text's length and with its order, not only with its
    /// characters.
    func testTheFingerprintTellsTextsApart() throws {
        let corpus = try Self.corpus("abc abc cab")
        XCTAssertEqual(corpus.fingerprint, try Self.corpus("abc abc cab").fingerprint)
        XCTAssertTrue(corpus.fingerprint.hasPrefix("11:"), corpus.fingerprint)
        XCTAssertNotEqual(corpus.fingerprint, try Self.corpus("abc cab abc").fingerprint)
        XCTAssertNotEqual(corpus.fingerprint, try Self.corpus("abc abc cab ").fingerprint)
    }

    /// The model learns the text: validation bits per character fall far below the uniform log2(characters).
    func testCharLSTMLearnsTheText() throws {
        let corpus = try Self.corpus()
        let backend = try CPUBackend()
        let objective = try LanguageModelling(corpus: corpus, steps: 16)
        let trainer = try Trainer(model: Self.model(corpus.vocabulary.count, steps: 16, on: backend), objective: objective,
                                  optimizer: Adam(), learningRate: 0.01, batchSize: 8)
        trainer.gradientHooks = [try GradientClipping(maxNorm: 5)]
        let before = try XCTUnwrap(trainer.evaluate()).metrics[LanguageModelling.bitsPerCharacter]!
        try trainer.fit(epochs: 4)
        let after = try XCTUnwrap(trainer.evaluate()).metrics[LanguageModelling.bitsPerCharacter]!
        XCTAssertEqual(before, log2(Double(corpus.vocabulary.count)), accuracy: 0.3, "an untrained model is near uniform")
        XCTAssertLessThan(after, 1.5, "bits per character after 4 epochs (from \(before))")
    }

    /// The same char-LSTM (dropout between its layers) trained for 20 steps on every backend: the same losses
    /// within float tolerance, and the same weights after.
    func testWholeRunParityOfCharLSTMTraining() throws {
        let corpus = try Self.corpus()
        var runs: [(String, [Float], [Float])] = []
        forEachBackend { backend in
            let objective = try LanguageModelling(corpus: corpus, steps: 12)
            let model = try Self.model(corpus.vocabulary.count, steps: 12, on: backend, dropout: 0.2)
            let trainer = try Trainer(model: model, objective: objective, optimizer: Adam(), learningRate: 0.005, batchSize: 20)
            trainer.gradientHooks = [try GradientClipping(maxNorm: 5)]
            trainer.lossInterval = 1
            var losses: [Float] = []
            _ = try trainer.trainEpoch { losses.append($0.loss) }
            XCTAssertGreaterThanOrEqual(losses.count, 20)
            runs.append((backend.name, Array(losses.prefix(20)), try backend.download(model.arena.values)))
        }
        XCTAssertGreaterThan(runs.count, 1, "parity needs an OpenCL backend next to the CPU")
        for (name, losses, weights) in runs.dropFirst() {
            for (step, (a, b)) in zip(losses, runs[0].1).enumerated() {
                XCTAssertLessThanOrEqual(abs(a - b), 1e-4 * abs(b), "\(name) step \(step + 1): loss \(a), cpu \(b)")
            }
            let worst = zip(weights, runs[0].2).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-3, "\(name): weights after a training epoch")
        }
    }

    /// Two epochs straight, and one epoch, a checkpoint, a fresh model and one more: bit-identical weights (the
    /// carried state restarts with each epoch; dropout streams and Adam's state are in the checkpoint).
    func testResumeIsBitExact() throws {
        let corpus = try Self.corpus()
        let backend = try CPUBackend()
        func trainer() throws -> Trainer {
            let t = try Trainer(model: Self.model(corpus.vocabulary.count, steps: 12, on: backend, dropout: 0.3),
                                objective: LanguageModelling(corpus: corpus, steps: 12), optimizer: Adam(),
                                learningRate: 0.005, batchSize: 16)
            t.gradientHooks = [try GradientClipping(maxNorm: 1)]
            return t
        }
        let straight = try trainer()
        try straight.fit(epochs: 2)
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("lm.safetensors").path
        try trainer().fit(epochs: 1, checkpoint: path)
        let resumed = try trainer()
        try Checkpoint.resume(resumed, from: path)
        try resumed.fit(epochs: 2)
        XCTAssertEqual(try backend.download(resumed.model.arena.values).map(\.bitPattern),
                       try backend.download(straight.model.arena.values).map(\.bitPattern), "resumed vs uninterrupted")
    }

    /// Generated text: the same seed gives the same text on every backend, another seed another text, and a
    /// prime with a character the model does not know is refused by name.
    func testGenerationIsReproducibleOnEveryBackend() throws {
        let corpus = try Self.corpus()
        let cpu = try CPUBackend()
        let trainer = try Trainer(model: Self.model(corpus.vocabulary.count, steps: 16, on: cpu),
                                  objective: LanguageModelling(corpus: corpus, steps: 16), optimizer: Adam(),
                                  learningRate: 0.01, batchSize: 8)
        try trainer.fit(epochs: 1)
        let weights = try trainer.model.parameters.map { try cpu.download($0.value) }
        var texts: [String] = []
        forEachBackend { backend in
            let sampler = try Self.model(corpus.vocabulary.count, steps: 1, on: backend)
            for (p, values) in zip(sampler.parameters, weights) { try backend.upload(values, to: p.value) }
            var streamed = ""
            let text = try TextGenerator.generate(model: sampler, vocabulary: corpus.vocabulary, prime: "the ", length: 120,
                                                  temperature: 0.8, seed: 5) { streamed += $0 }
            XCTAssertEqual(text.unicodeScalars.count, 120)
            XCTAssertEqual(streamed, text, "\(backend.name): the characters as drawn differ from the text returned")
            texts.append(text)
            let other = try TextGenerator.generate(model: sampler, vocabulary: corpus.vocabulary, prime: "the ", length: 120,
                                                   temperature: 0.8, seed: 6)
            XCTAssertNotEqual(other, text, "\(backend.name): another seed, the same text")
            assertNNError(contains: ["'Q'", "not among the model's \(corpus.vocabulary.count) characters"]) {
                _ = try TextGenerator.generate(model: sampler, vocabulary: corpus.vocabulary, prime: "Quick", length: 5,
                                               temperature: 1, seed: 1)
            }
            for length in [0, TextGenerator.lengthRange.upperBound + 1] {
                assertNNError(contains: ["--length", "must be in", "got \(length)"]) {
                    _ = try TextGenerator.generate(model: sampler, vocabulary: corpus.vocabulary, prime: "the ", length: length,
                                                   temperature: 1, seed: 1)
                }
            }
        }
        XCTAssertEqual(Set(texts).count, 1, "the same seed gave different texts on different backends: \(texts)")
    }
}
