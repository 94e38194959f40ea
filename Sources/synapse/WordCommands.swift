import ArgumentParser
import Foundation
import Synapse

/// The corpus options `word2vec` and `corpus` share.
struct CorpusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A text file, plain or gzip, of any size; the default is the GCIDE dictionary of Debian's dict-gcide.",
                               valueName: "file"))
    var data: String = "/usr/share/dictd/gcide.dict.dz"

    @Option(help: ArgumentHelp("text (words between white space, a line per sentence) or gcide (a dictd file, markup "
        + "stripped, lower-cased letters); default: gcide for a .dict or .dict.dz file, else text.", valueName: "format"))
    var format: String?

    func wordFormat() throws -> WordFormat {
        guard let format else { return WordFormat.guess(path: data) }
        guard let chosen = WordFormat(rawValue: format) else {
            throw NNError.invalidSetting(name: "--format", message: "'\(format)' is not one of "
                + WordFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return chosen
    }

    /// Reads the corpus, showing how far it has got: redrawn in place on a terminal, one line when done elsewhere.
    func read(minCount: Int) throws -> EncodedCorpus {
        let start = Date(), terminal = ProgressBar.standardOutputIsTerminal
        if terminal {
            print("reading \(data) ...", terminator: "")
            fflush(nil)
        }
        let corpus: EncodedCorpus
        do {
            corpus = try EncodedCorpus(path: data, format: try wordFormat(), minCount: minCount) { words in
                guard terminal else { return }
                print(String(format: "\rreading %@: %.1fM words", data, Double(words) / 1e6), terminator: "")
                fflush(nil)
            }
        } catch {
            if terminal { print("") }   // ends the progress line, so that the error stands on its own
            throw error
        }
        print(String(format: "%@corpus %@: %d words, %d distinct words occur at least %d times (%d words of them), read in %.1f s",
                     terminal ? "\r\u{1B}[K" : "", data, corpus.wordsRead, corpus.vocabulary.count, minCount, corpus.trainWords,
                     Date().timeIntervalSince(start)))
        return corpus
    }

    /// Refuses an output file `out` (given as `option`) that is the corpus itself, or that exists unless `overwrite`:
    /// what is there may be the product of a long run, or another tool's file.
    func checkOutput(_ out: String, option: String, overwrite: Bool) throws {
        guard URL(fileURLWithPath: out).standardizedFileURL.path != URL(fileURLWithPath: data).standardizedFileURL.path else {
            throw NNError.invalidSetting(name: option, message: "\(out) is the corpus (--data); writing it would replace it")
        }
        guard overwrite || !FileManager.default.fileExists(atPath: out) else {
            throw NNError.invalidSetting(name: option, message: "\(out) exists; replace it with --overwrite, or choose another \(option)")
        }
    }
}

struct Word2VecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "word2vec",
        abstract: "Train word vectors (skip-gram or CBOW, hierarchical softmax or negative sampling).",
        discussion: "Without --device, CPU threads update the vectors without locks as word2vec.c does, the fastest way "
            + "on a CPU (the result depends on thread timing). With --device the batched path runs on that backend "
            + "(a GPU through OpenCL, or the CPU backend): deterministic, the same seed giving the same vectors bit "
            + "for bit. The vectors are written in word2vec's text format, its binary format (.bin) or safetensors "
            + "(.safetensors) by the name of --out."
    )

    @OptionGroup var corpus: CorpusOptions

    @Flag(help: "Continuous bag of words: the context predicts the word.") var cbow = false
    @Flag(help: "Skip-gram: the word predicts its context (the default).") var skipgram = false
    @Flag(help: "Hierarchical softmax over a Huffman tree of the words.") var hs = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Negative sampling with k noise words (default 5 unless --hs; --hs takes 0, as word2vec.c).", valueName: "k"))
    var negative: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("The vectors' length.", valueName: "n")) var size = 100
    @Option(parsing: .unconditional, help: ArgumentHelp("The largest context distance.", valueName: "w")) var window = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("Sub-sampling threshold for frequent words (0: keep all).", valueName: "t")) var sample = 1e-3
    @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp("Leave out words seen fewer times.", valueName: "c"))
    var minCount = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("Passes over the corpus.", valueName: "e")) var epochs = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("Starting learning rate (default 0.025 for skip-gram, 0.05 for CBOW).", valueName: "r"))
    var lr: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("CPU threads (default: every core), of the threaded path or of --device cpu.", valueName: "n"))
    var threads: Int?
    @Option(help: ArgumentHelp("Run the batched path on auto, cpu, opencl or opencl:N.", valueName: "device"))
    var device: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Positions per batch of the batched path.", valueName: "n")) var batch = 1024
    @Option(parsing: .unconditional, help: ArgumentHelp("Seed of the initial vectors and the sampling.", valueName: "n")) var seed: UInt64 = 1
    @Option(help: ArgumentHelp("Where to write the vectors: .bin (word2vec binary), .safetensors, else word2vec text.",
                               valueName: "file"))
    var out: String
    @Flag(help: "Replace the --out file if it exists.") var overwrite = false

    func settings() throws -> Word2VecSettings {
        guard !(cbow && skipgram) else {
            throw NNError.invalidSetting(name: "--cbow", message: "and --skipgram exclude each other: choose one")
        }
        // word2vec.c's own way of asking for hierarchical softmax alone, -hs 1 -negative 0, is accepted as it is.
        if hs, let negative, negative != 0 {
            throw NNError.invalidSetting(name: "--hs", message: "and --negative \(negative) exclude each other: choose one output layer")
        }
        var settings = Word2VecSettings()
        settings.architecture = cbow ? .cbow : .skipGram
        settings.output = hs ? .hierarchicalSoftmax : .negativeSampling(negative ?? 5)
        settings.dimension = size
        settings.window = window
        settings.sample = sample
        settings.minCount = minCount
        settings.epochs = epochs
        settings.learningRate = lr
        settings.seed = seed
        try settings.validate()
        return settings
    }

    func run() throws {
        let settings = try settings()
        let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard threads >= 1 else { throw NNError.invalidSetting(name: "--threads", message: "must be at least 1, got \(threads)") }
        guard (1...1_000_000).contains(batch) else {
            throw NNError.invalidSetting(name: "--batch", message: "must be in 1...1000000, got \(batch)")
        }
        guard threads <= 1024 else { throw NNError.invalidSetting(name: "--threads", message: "must be in 1...1024, got \(threads)") }
        warnIfMoreThanCores(threads: threads)
        let format = WordVectors.FileFormat.guess(path: out)
        try corpus.checkOutput(out, option: "--out", overwrite: overwrite)
        try WordVectors.checkWritable(out)
        // The device before the corpus, so that a bad --device is told in a second, not after the reading.
        let backend = try device.map { try Devices.backend(DeviceChoice(parsing: $0), threads: self.threads) }
        let corpus = try corpus.read(minCount: settings.minCount)
        let way: String
        if let backend {
            way = "batched, \(batch) positions a batch, on \(backend.name) (\(backend.deviceDescription))"
        } else {
            way = "\(threads) CPU thread\(threads == 1 ? "" : "s") (Hogwild)"
        }
        print("word2vec: \(settings.summary); \(way)")
        let bar = ProgressBar(title: "word2vec", total: settings.epochs * corpus.trainWords, unit: "words/s")
        var lastLoss: Double?
        let report: (Word2VecProgress) -> Void = { p in
            if let loss = p.loss { lastLoss = loss }
            bar.update(done: p.wordsDone, loss: Float(lastLoss ?? .nan), imagesPerSecond: Double(p.wordsDone) / max(p.seconds, 1e-9),
                       elapsed: p.seconds, detail: "epoch \(p.epoch)/\(settings.epochs)  lr \(String(format: "%.5f", p.learningRate))")
        }
        let start = Date()
        var vectors: WordVectors
        if let backend {
            vectors = try BatchedWord2Vec(backend: backend, corpus: corpus, settings: settings, batchPositions: batch).train(progress: report)
        } else {
            vectors = try ThreadedWord2Vec.train(corpus: corpus, settings: settings, threads: threads, progress: report)
        }
        let seconds = Date().timeIntervalSince(start)
        bar.finish(String(format: "trained in %.1f s: %.0f words/s", seconds, Double(settings.epochs * corpus.trainWords) / seconds))
        vectors.metadata = ["word2vec.settings": settings.summary, "word2vec.corpus": corpus.path, "word2vec.way": way]
        try vectors.write(to: out, format: format)
        print("vectors: \(out) (\(format.rawValue), \(vectors.vocabulary.count) words x \(vectors.dimension))")
    }
}

struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Write a corpus's words as word2vec reads them: a sentence per line, words between spaces.",
        discussion: "What other tools (gensim, fastText, word2vec.c) read to train on the very words Synapse trains on."
    )

    @OptionGroup var corpus: CorpusOptions
    @Option(help: ArgumentHelp("The text file to write.", valueName: "file")) var out: String
    @Flag(help: "Replace the --out file if it exists.") var overwrite = false

    func run() throws {
        try corpus.checkOutput(out, option: "--out", overwrite: overwrite)
        var words = 0, sentences = 0
        try AtomicFile.write(to: out, fail: { NNError.dataFile(path: out, message: $0) }) { file in
            var line: [UInt8] = []
            var pending: [UInt8] = []
            try corpus.wordFormat().forEachSentence(path: corpus.data) { sentence in
                line.removeAll(keepingCapacity: true)
                for (i, word) in sentence.enumerated() {
                    if i > 0 { line.append(0x20) }
                    line += word
                }
                line.append(0x0A)
                pending += line
                words += sentence.count
                sentences += 1
                if pending.count >= 1 << 20 {
                    try file.write(pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            try file.write(pending)
        }
        print("\(out): \(words) words in \(sentences) sentences")
    }
}

/// The vectors file and the number of answers the query commands share.
struct VectorsOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Word vectors from `synapse word2vec` (text, .bin or .safetensors) or another word2vec tool.",
                                 valueName: "model"))
    var model: String

    @Option(name: .short, parsing: .unconditional, help: ArgumentHelp("How many words to show.", valueName: "n")) var n = 10

    func neighbours() throws -> WordNeighbours {
        guard (1...100_000).contains(n) else { throw NNError.invalidSetting(name: "-n", message: "must be in 1...100000, got \(n)") }
        return WordNeighbours(try WordVectors.read(from: model))
    }
}

/// Prints the answers, a word and its cosine similarity per line; none is an error saying `why` there can be none.
private func show(_ answers: [(word: String, similarity: Float)], noneBecause why: String) throws {
    guard !answers.isEmpty else { throw NNError.invalidSetting(name: "query", message: "no answer: \(why)") }
    let width = answers.map(\.word.count).max() ?? 0
    for answer in answers {
        print(answer.word.padding(toLength: max(width, 1), withPad: " ", startingAt: 0) + String(format: "  %.4f", answer.similarity))
    }
}

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "similar",
                                                    abstract: "The words nearest to a word, by cosine similarity.")
    @OptionGroup var vectors: VectorsOptions
    @Argument(help: "The word.") var word: String

    func run() throws {
        try show(try vectors.neighbours().similar(to: word, count: vectors.n),
                 noneBecause: "the vocabulary holds no word besides '\(word)'")
    }
}

struct AnalogyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analogy",
        abstract: "A is to B as C is to ?: the words nearest to B - A + C, e.g. `synapse analogy MODEL man king woman`.")
    @OptionGroup var vectors: VectorsOptions
    @Argument(help: "A, B and C.") var words: [String]

    func run() throws {
        guard words.count == 3 else {
            throw NNError.invalidSetting(name: "analogy", message: "takes three words A B C (A is to B as C is to ?), got \(words.count)")
        }
        try show(try vectors.neighbours().analogy(words[0], words[1], words[2], count: vectors.n),
                 noneBecause: "the vocabulary holds no other word, or B - A + C is zero")
    }
}

struct RelatedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "related",
        abstract: "For the words a user has entered, the nearest words not among them: related words they have not seen.")
    @OptionGroup var vectors: VectorsOptions
    @Option(help: ArgumentHelp("The user's words, comma-separated.", valueName: "w1,w2,...")) var words: String

    func run() throws {
        let list = words.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !list.isEmpty else { throw NNError.invalidSetting(name: "--words", message: "names no words") }
        try show(try vectors.neighbours().related(to: list, count: vectors.n),
                 noneBecause: "the vocabulary holds no other word, or the given words' vectors sum to zero")
    }
}

struct EvaluateWordsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-words",
        abstract: "Analogy accuracy (questions-words.txt) and similarity correlation (WordSim-353, SimLex-999) of word vectors.")
    @Argument(help: ArgumentHelp("Word vectors (text, .bin or .safetensors).", valueName: "model")) var model: String
    @Option(help: ArgumentHelp("An analogy file: `: section` lines and lines of four words.", valueName: "file"))
    var analogies: String?
    @Option(help: ArgumentHelp("The analogies' candidate words: the most frequent n (word2vec's compute-accuracy takes 30000).",
                               valueName: "n"))
    var among = 30_000
    @Option(help: ArgumentHelp("A file of word pairs with human similarity scores; repeat for several.", valueName: "file"))
    var similarities: [String] = []

    func run() throws {
        guard analogies != nil || !similarities.isEmpty else {
            throw NNError.invalidSetting(name: "evaluate-words", message: "needs --analogies FILE or --similarities FILE")
        }
        guard among >= 1 else { throw NNError.invalidSetting(name: "--among", message: "must be at least 1, got \(among)") }
        let evaluation = WordEvaluation(try WordVectors.read(from: model))
        if let analogies {
            let sections = try evaluation.analogies(path: analogies, among: among)
            print("analogies (\(analogies), among the \(among) most frequent words):")
            for s in sections {
                print("  " + s.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(format: " %5.1f%%  (%d of %d answered, %d questions)", 100 * s.accuracy, s.correct, s.answered, s.questions))
            }
            let correct = sections.map(\.correct).reduce(0, +), answered = sections.map(\.answered).reduce(0, +)
            let questions = sections.map(\.questions).reduce(0, +)
            print("  " + "total".padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: " %5.1f%%  (%d of %d answered, %d questions)",
                         answered > 0 ? 100 * Double(correct) / Double(answered) : 0.0, correct, answered, questions))
        }
        for file in similarities {
            let r = try evaluation.similarities(path: file)
            let correlation = r.spearman.map { String(format: "%.4f", $0) }
                ?? "undefined (fewer than two pairs the model knows, or constant scores)"
            print("similarities \(file): Spearman \(correlation) over \(r.pairs) of \(r.total) pairs")
        }
    }
}
