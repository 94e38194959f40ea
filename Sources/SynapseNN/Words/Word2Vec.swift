import Foundation
import Synchronization
import SynapseCore

/// word2vec's settings (Mikolov et al. 2013; defaults those of word2vec.c, gensim and fastText).
public struct Word2VecSettings: Sendable, Equatable {
    public enum Architecture: String, Sendable, CaseIterable {
        /// Each word predicts the words around it.
        case skipGram = "skipgram"
        /// The mean of the words around a position predicts the word there.
        case cbow
    }

    public enum OutputLayer: Sendable, Equatable {
        /// One logistic unit per inner node of a Huffman tree on the word's path.
        case hierarchicalSoftmax
        /// The true word against this many words drawn from the unigram distribution to the power 0.75.
        case negativeSampling(Int)
    }

    public var architecture: Architecture = .skipGram
    public var output: OutputLayer = .negativeSampling(5)
    /// The length of a word vector.
    public var dimension = 100
    /// The largest distance between a word and its context; each position draws its own in `1...window`.
    public var window = 5
    /// Sub-sampling threshold `t` for frequent words; 0 keeps every word.
    public var sample = 1e-3
    /// Words seen fewer times are left out of the vocabulary.
    public var minCount = 5
    public var epochs = 5
    /// The starting learning rate, decayed linearly to 1e-4 of itself over the run; nil for word2vec.c's default
    /// (0.025 for skip-gram, 0.05 for CBOW).
    public var learningRate: Float? = nil
    public var seed: UInt64 = 1

    public init() {}

    public var startingRate: Float { learningRate ?? (architecture == .cbow ? 0.05 : 0.025) }

    /// Throws `NNError.invalidSetting` naming the option of a setting out of its domain.
    public func validate() throws {
        func fail(_ name: String, _ message: String) -> NNError { .invalidSetting(name: name, message: message) }
        guard (1...10_000).contains(dimension) else { throw fail("--size", "must be in 1...10000, got \(dimension)") }
        guard (1...1000).contains(window) else { throw fail("--window", "must be in 1...1000, got \(window)") }
        guard sample >= 0, sample.isFinite, sample < 1 else { throw fail("--sample", "must be in [0, 1), got \(sample)") }
        guard minCount >= 1 else { throw fail("--min-count", "must be at least 1, got \(minCount)") }
        guard (1...10_000).contains(epochs) else { throw fail("--epochs", "must be in 1...10000, got \(epochs)") }
        if case let .negativeSampling(k) = output, !(1...1000).contains(k) {
            throw fail("--negative", "must be in 1...1000, got \(k)")
        }
        if let rate = learningRate, !(rate > 0 && rate <= 1) { throw fail("--lr", "must be in (0, 1], got \(rate)") }
    }

    /// The learning rate after `done` of `total` words: linear decay, floored at 1e-4 of the start (word2vec.c).
    func rate(done: Int, total: Int) -> Float {
        startingRate * max(1 - Float(Double(done) / Double(total + 1)), 1e-4)
    }

    /// How the settings read in a summary line and in a file's metadata.
    public var summary: String {
        let output: String
        switch self.output {
        case .hierarchicalSoftmax: output = "hierarchical softmax"
        case let .negativeSampling(k): output = "\(k) negatives"
        }
        return "\(architecture.rawValue), \(output), \(dimension) dimensions, window \(window), sample \(sample), "
            + "min-count \(minCount), \(epochs) epoch\(epochs == 1 ? "" : "s"), rate \(startingRate)"
    }
}

/// How far a word2vec run has got: what a progress line shows.
public struct Word2VecProgress: Sendable {
    /// Words trained on so far (before sub-sampling), over all epochs, and how many the run will take.
    public var wordsDone: Int
    public var wordsTotal: Int
    public var epoch: Int
    public var learningRate: Float
    /// The mean loss (`-log sigmoid` of each logistic unit) since the previous report; nil before any.
    public var loss: Double?
    public var seconds: Double
}

/// What the trainers share: the vocabulary's samplers and the trained tables.
struct Word2VecTables {
    let settings: Word2VecSettings
    let tree: HuffmanTree?
    let noise: NoiseDistribution?
    let keep: [Float]
    /// Rows of the output table: inner nodes of the tree, or words.
    let outputRows: Int

    init(settings: Word2VecSettings, vocabulary: WordVocabulary) throws {
        self.settings = settings
        switch settings.output {
        case .hierarchicalSoftmax:
            tree = try HuffmanTree(counts: vocabulary.counts)
            noise = nil
            outputRows = tree!.innerNodes
        case .negativeSampling:
            tree = nil
            noise = try NoiseDistribution(counts: vocabulary.counts)
            outputRows = vocabulary.count
        }
        keep = subsamplingKeepProbabilities(counts: vocabulary.counts, threshold: settings.sample)
    }

    static func diverged(loss: Double, settings: Word2VecSettings) -> NNError {
        .invalidSetting(name: "--lr", message: "training diverged (the loss became \(loss)) at a starting rate of "
            + "\(settings.startingRate); lower it (word2vec.c starts at 0.025 for skip-gram, 0.05 for CBOW)")
    }

    static func nothingToLearn(_ corpus: EncodedCorpus, settings: Word2VecSettings) -> NNError {
        // Sub-sampling drops most words of a small corpus, where every word is frequent.
        let dropped = settings.sample > 0 ? " Or sub-sampling (--sample \(settings.sample)) dropped the words of a small corpus: try --sample 0" : ""
        return .dataFile(path: corpus.path, message: "no word has another within its window in any sentence: there is nothing "
            + "to learn from (a sentence per line with one word each?\(dropped))")
    }

    /// word2vec.c's starting point: input vectors uniform in `[-0.5, 0.5) / dimension`, output vectors 0.
    static func initialInputVectors(rows: Int, dimension: Int, seed: UInt64) -> [Float] {
        var generator = PhiloxGenerator(seed: seed, stream: RandomStream.parameter(0))
        return (0..<rows * dimension).map { _ in (generator.uniform() - 0.5) / Float(dimension) }
    }
}

/// Trains word vectors as word2vec.c does, on CPU threads that update shared tables without locks
/// ("Hogwild"): each thread takes its own stretch of the corpus, and a thread's update can overwrite another's
/// now and then, which costs nothing measurable in quality and is the fastest way known on CPUs. The result
/// depends on thread timing; `BatchedWord2Vec` is the deterministic way.
public enum ThreadedWord2Vec {
    /// Trains on `corpus` with `threads` threads; `progress` is called on the calling thread about twice a second.
    public static func train(corpus: EncodedCorpus, settings: Word2VecSettings, threads: Int,
                             progress: (Word2VecProgress) -> Void = { _ in }) throws -> WordVectors {
        try settings.validate()
        guard (1...1024).contains(threads) else {
            throw NNError.invalidSetting(name: "--threads", message: "must be in 1...1024, got \(threads)")
        }
        let tables = try Word2VecTables(settings: settings, vocabulary: corpus.vocabulary)
        let d = settings.dimension
        // The two tables, the initial vectors and the result, refused here rather than aborting in an allocation.
        try Word2VecTables.checkMemory(floats: (3 * corpus.vocabulary.count + tables.outputRows) * d,
                                       words: corpus.vocabulary.count, dimension: d)
        let input = UnsafeMutablePointer<Float>.allocate(capacity: corpus.vocabulary.count * d)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: tables.outputRows * d)
        defer { input.deallocate(); output.deallocate() }
        WordVectors.initialize(input, from: Word2VecTables.initialInputVectors(rows: corpus.vocabulary.count, dimension: d,
                                                                                seed: settings.seed))
        output.initialize(repeating: 0, count: tables.outputRows * d)

        let shared = SharedProgress()
        let total = settings.epochs * corpus.trainWords
        let start = Date()
        let group = DispatchGroup()
        let firstError = Mutex<Error?>(nil)
        // The tables are shared on purpose (Hogwild); everything else is read-only.
        let job = UncheckedSendable((input, output, tables, corpus))
        for thread in 0..<threads {
            group.enter()
            let worker = Thread {
                defer { group.leave() }
                let (input, output, tables, corpus) = job.value
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * tables.settings.dimension)
                defer { scratch.deallocate() }
                do {
                    var state = HogwildWorker(tables: tables, input: input, output: output, scratch: scratch, total: total,
                                              shared: shared)
                    let stretch = (thread * corpus.entries / threads)..<((thread + 1) * corpus.entries / threads)
                    for epoch in 0..<tables.settings.epochs {
                        state.random = PhiloxGenerator(seed: tables.settings.seed, stream: RandomStream.words(epoch: epoch, thread: thread))
                        try corpus.read(stretch) { piece in try state.consume(piece) }
                        state.finishSentence()
                        try state.publish()
                        if firstError.withLock({ $0 }) != nil { return }
                    }
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                }
            }
            worker.stackSize = 1 << 22
            worker.start()
        }
        var reported = (words: 0, loss: 0.0, pairs: 0)
        func report() {
            let now = shared.snapshot()
            let pairs = now.pairs - reported.pairs
            progress(Word2VecProgress(wordsDone: now.words, wordsTotal: total,
                                      epoch: min(settings.epochs, now.words * settings.epochs / max(total, 1) + 1),
                                      learningRate: settings.rate(done: now.words, total: total),
                                      loss: pairs > 0 ? (now.loss - reported.loss) / Double(pairs) : nil,
                                      seconds: Date().timeIntervalSince(start)))
            reported = now
        }
        while group.wait(timeout: .now() + 0.5) == .timedOut { report() }
        report()
        if let error = firstError.withLock({ $0 }) { throw error }
        guard shared.snapshot().pairs > 0 else { throw Word2VecTables.nothingToLearn(corpus, settings: settings) }
        return try WordVectors(vocabulary: corpus.vocabulary, dimension: d,
                               values: Array(UnsafeBufferPointer(start: input, count: corpus.vocabulary.count * d)))
    }
}

extension Word2VecTables {
    /// Throws when `floats` floats are more than the machine's memory, or the process's address-space limit, holds.
    static func checkMemory(floats: Int, words: Int, dimension: Int) throws {
        var limit = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        var address = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &address) == 0, address.rlim_cur != rlim_t.max {
            limit = min(limit, Int(clamping: address.rlim_cur))
        }
        let (bytes, overflow) = floats.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
        guard !overflow, bytes <= limit else {
            throw NNError.invalidSetting(name: "--size", message: "\(words) words of \(dimension) floats need "
                + "\(overflow ? "more than \(Int.max)" : "\(bytes)") bytes of tables, more than the \(limit) this process may use; "
                + "lower --size or raise --min-count")
        }
    }
}

/// Counters the worker threads add to now and then, and the reporting thread reads.
final class SharedProgress: Sendable {
    private let state = Mutex((words: 0, loss: 0.0, pairs: 0))

    func add(words: Int, loss: Double, pairs: Int) {
        state.withLock { $0 = ($0.words + words, $0.loss + loss, $0.pairs + pairs) }
    }

    func snapshot() -> (words: Int, loss: Double, pairs: Int) { state.withLock { $0 } }
}

/// One thread's share of a Hogwild run: its sentence, its random numbers, and its counts not yet published.
struct HogwildWorker {
    let tables: Word2VecTables
    let input: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let total: Int
    let shared: SharedProgress
    let d: Int
    var random = PhiloxGenerator(seed: 0, stream: 0)
    var sentence: [Int32] = []
    var rate: Float
    var unpublished = (words: 0, loss: 0.0, pairs: 0)
    var wordsDone = 0
    let hidden: UnsafeMutablePointer<Float>
    let error: UnsafeMutablePointer<Float>

    /// `scratch` holds `2 * dimension` floats: the hidden vector and its gradient step.
    init(tables: Word2VecTables, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
         scratch: UnsafeMutablePointer<Float>, total: Int, shared: SharedProgress) {
        self.tables = tables
        self.input = input
        self.output = output
        self.total = total
        self.shared = shared
        d = tables.settings.dimension
        rate = tables.settings.startingRate
        sentence.reserveCapacity(WordReader.maxSentenceWords)
        hidden = scratch
        error = scratch + d
    }

    /// Publishes the counts, and takes the learning rate for the words all threads have done (word2vec.c's rhythm).
    /// A loss that is no longer finite means the vectors diverged: an error, not a file of NaN.
    mutating func publish() throws {
        guard unpublished.loss.isFinite else { throw Word2VecTables.diverged(loss: unpublished.loss, settings: tables.settings) }
        shared.add(words: unpublished.words, loss: unpublished.loss, pairs: unpublished.pairs)
        unpublished = (0, 0, 0)
        rate = tables.settings.rate(done: shared.snapshot().words, total: total)
    }

    mutating func consume(_ piece: UnsafeBufferPointer<Int32>) throws {
        for id in piece {
            if id == EncodedCorpus.sentenceEnd {
                finishSentence()
                continue
            }
            guard id >= 0 else { continue }
            unpublished.words += 1
            if unpublished.words == 10_000 { try publish() }
            if tables.keep[Int(id)] < 1 && tables.keep[Int(id)] < random.uniform() { continue }
            sentence.append(id)
            if sentence.count == WordReader.maxSentenceWords { finishSentence() }
        }
    }

    mutating func finishSentence() {
        defer { sentence.removeAll(keepingCapacity: true) }
        let window = tables.settings.window
        let cbow = tables.settings.architecture == .cbow
        for position in sentence.indices {
            let reach = window - random.below(window)
            let context = max(0, position - reach)...min(sentence.count - 1, position + reach)
            let target = Int(sentence[position])
            if cbow {
                hidden.update(repeating: 0, count: d)
                var count = 0
                for c in context where c != position {
                    addScaled(hidden, input + Int(sentence[c]) * d, 1, d)
                    count += 1
                }
                guard count > 0 else { continue }
                scale(hidden, 1 / Float(count), d)
                predict(target, from: hidden)
                for c in context where c != position { addScaled(input + Int(sentence[c]) * d, error, 1, d) }
            } else {
                for c in context where c != position {
                    let row = input + Int(sentence[c]) * d
                    predict(target, from: row)
                    addScaled(row, error, 1, d)
                }
            }
        }
    }

    /// One step of the output layer for `target` from `h`: updates the output rows, leaves `h`'s gradient step in
    /// `error`.
    @inline(__always)
    mutating func predict(_ target: Int, from h: UnsafeMutablePointer<Float>) {
        error.update(repeating: 0, count: d)
        if let tree = tables.tree {
            for k in tree.offsets[target]..<tree.offsets[target + 1] {
                let row = output + Int(tree.flatPoints[k]) * d
                unit(row, h, label: 1 - Float(tree.flatCodes[k]))
            }
        } else if let noise = tables.noise, case let .negativeSampling(negatives) = tables.settings.output {
            unit(output + target * d, h, label: 1)
            for _ in 0..<negatives {
                let word = Int(noise.sample(random.next64()))
                if word == target { continue }
                unit(output + word * d, h, label: 0)
            }
        }
    }

    /// One logistic unit: `g = rate (label - sigmoid(row . h))`, `error += g row`, `row += g h`.
    @inline(__always)
    mutating func unit(_ row: UnsafeMutablePointer<Float>, _ h: UnsafeMutablePointer<Float>, label: Float) {
        let f = dot(row, h, d)
        let p = SigmoidTable.sigmoid(f)
        unpublished.loss += Double(SigmoidTable.negativeLogSigmoid(label == 1 ? f : -f))
        unpublished.pairs += 1
        let g = (label - p) * rate
        addScaled(error, row, g, d)
        addScaled(row, h, g, d)
    }
}

/// word2vec.c's sigmoid: a table over [-6, 6], 0 or 1 beyond, and the same for `-log sigmoid` (the loss).
enum SigmoidTable {
    static let bound: Float = 6
    static let size = 1000
    static let values: [Float] = (0..<size).map { i in
        let x = (Float(i) / Float(size) * 2 - 1) * bound
        return 1 / (1 + exp(-x))
    }
    static let losses: [Float] = (0...size).map { i in
        let x = (Float(i) / Float(size) * 2 - 1) * bound
        return log1p(exp(-x))
    }

    /// A NaN (a run that diverged) gives 1 rather than a trap; the loss shows it.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float {
        if !(x < bound) { return 1 }
        if x <= -bound { return 0 }
        return values[Int((x + bound) * (Float(size) / bound / 2))]
    }

    @inline(__always)
    static func negativeLogSigmoid(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x >= bound { return 0 }
        if x <= -bound { return -x }
        return losses[Int((x + bound) * (Float(size) / bound / 2))]
    }
}

@inline(__always)
func dot(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    var lanes0 = SIMD8<Float>(), lanes1 = SIMD8<Float>()
    var k = 0
    while k + 16 <= n {
        lanes0 += load8(a + k) * load8(b + k)
        lanes1 += load8(a + k + 8) * load8(b + k + 8)
        k += 16
    }
    if k + 8 <= n {
        lanes0 += load8(a + k) * load8(b + k)
        k += 8
    }
    var sum = (lanes0 + lanes1).sum()
    while k < n {
        sum += a[k] * b[k]
        k += 1
    }
    return sum
}

/// `y += alpha x`.
@inline(__always)
func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafeMutablePointer<Float>, _ alpha: Float, _ n: Int) {
    var k = 0
    while k + 8 <= n {
        store8(load8(y + k) + alpha * load8(x + k), y + k)
        k += 8
    }
    while k < n {
        y[k] += alpha * x[k]
        k += 1
    }
}

@inline(__always)
func scale(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ n: Int) {
    for k in 0..<n { y[k] *= alpha }
}

@inline(__always)
private func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
