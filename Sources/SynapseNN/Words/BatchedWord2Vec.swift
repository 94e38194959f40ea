import Foundation
import SynapseCore

/// A batch of word2vec's logistic units, as the host lays it out for the device. A *unit* is what one prediction
/// starts from: a context word (skip-gram) or the mean of a position's context words (CBOW). Each logistic unit
/// ("pair") scores one unit against one row of the output table: an inner node of the word's Huffman path, or the
/// word itself and its negatives.
public struct Word2VecBatch: Equatable, Sendable {
    /// The input row of each context word and the unit it belongs to (non-decreasing).
    public var contextWords: [Int32] = []
    public var contextUnits: [Int32] = []
    /// Per unit, 1 / its number of context words (CBOW's mean).
    public var unitScales: [Float] = []
    /// Per pair: its unit (non-decreasing), its output row, and its target (1: the word / the branch's code says
    /// so; 0: a negative).
    public var pairUnits: [Int32] = []
    public var pairRows: [Int32] = []
    public var pairLabels: [Float] = []
    /// Corpus positions whose predictions the batch holds.
    public var positions = 0

    public init() {}

    public var units: Int { unitScales.count }
    public var isEmpty: Bool { pairRows.isEmpty }
}

/// Trains word vectors in batches on any `Backend`: the host (one thread) samples windows, sub-sampling and
/// negatives from Philox streams and lays out a batch; the device gathers the rows, scores them (`rowDots`),
/// takes the logistic units' gradients (`sigmoidCrossEntropy`) and adds the updates back with the deterministic
/// `scatterAddRows`. Every unit of a batch sees the tables as they were at its start (where word2vec.c's threads
/// see each other's updates as they come), so the same seed gives the same vectors, bit for bit, on a device.
public final class BatchedWord2Vec {
    public let backend: Backend
    public let corpus: EncodedCorpus
    public let settings: Word2VecSettings
    /// Positions per batch.
    public let batchPositions: Int
    let tables: Word2VecTables
    /// `[words, dimension]`: the word vectors.
    let input: Tensor
    /// `[outputRows, dimension]`: inner nodes or words.
    let output: Tensor
    private var workspace: [String: Tensor] = [:]
    private let lossTotal: Tensor

    public init(backend: Backend, corpus: EncodedCorpus, settings: Word2VecSettings, batchPositions: Int = 1024) throws {
        try settings.validate()
        guard (1...1_000_000).contains(batchPositions) else {
            throw NNError.invalidSetting(name: "--batch", message: "must be in 1...1000000, got \(batchPositions)")
        }
        self.backend = backend
        self.corpus = corpus
        self.settings = settings
        self.batchPositions = batchPositions
        tables = try Word2VecTables(settings: settings, vocabulary: corpus.vocabulary)
        let d = settings.dimension
        // The host's share: the initial vectors uploaded here and the vectors read back at the end.
        try Word2VecTables.checkMemory(floats: 2 * corpus.vocabulary.count * d, words: corpus.vocabulary.count, dimension: d)
        input = try backend.tensor(Word2VecTables.initialInputVectors(rows: corpus.vocabulary.count, dimension: d, seed: settings.seed),
                                   shape: [corpus.vocabulary.count, d])
        output = try backend.tensor(shape: [tables.outputRows, d])
        try backend.fill(output, value: 0)
        lossTotal = try backend.tensor(shape: [2])
        try backend.fill(lossTotal, value: 0)
    }

    /// One pass over the corpus per epoch; `progress` is called about twice a second.
    public func train(progress: (Word2VecProgress) -> Void = { _ in }) throws -> WordVectors {
        let total = settings.epochs * corpus.trainWords
        let start = Date()
        var wordsDone = 0, pairs = 0, reportedPairs = 0, reportedLoss = 0.0, lastReport = Date()
        var batches = 0
        func report(epoch: Int) throws {
            let loss = Double(try backend.download(lossTotal.elements(0..<1))[0])
            guard loss.isFinite else { throw Word2VecTables.diverged(loss: loss, settings: settings) }
            progress(Word2VecProgress(wordsDone: wordsDone, wordsTotal: total, epoch: epoch,
                                      learningRate: settings.rate(done: wordsDone, total: total),
                                      loss: pairs > reportedPairs ? (loss - reportedLoss) / Double(pairs - reportedPairs) : nil,
                                      seconds: Date().timeIntervalSince(start)))
            reportedPairs = pairs
            reportedLoss = loss
            lastReport = Date()
        }
        for epoch in 0..<settings.epochs {
            var sampler = BatchSampler(tables: tables, random: PhiloxGenerator(seed: settings.seed, stream: RandomStream.words(epoch: epoch, thread: 0)))
            func run(_ batch: Word2VecBatch) throws {
                guard !batch.isEmpty else { return }
                try step(batch, rate: settings.rate(done: wordsDone, total: total))
                pairs += batch.pairRows.count
                batches += 1
                if Date().timeIntervalSince(lastReport) >= 0.5 { try report(epoch: epoch + 1) }
            }
            try corpus.read(0..<corpus.entries) { piece in
                for id in piece {
                    if id >= 0 { wordsDone += 1 }
                    if let batch = sampler.add(id, batchPositions: batchPositions) { try run(batch) }
                }
            }
            try run(sampler.finish())
            try report(epoch: epoch + 1)
        }
        guard pairs > 0 else { throw Word2VecTables.nothingToLearn(corpus, settings: settings) }
        if batches < 2 * settings.epochs {
            // The output vectors start at 0, so a batch moves the word vectors only from the second one on.
            print("warning: only \(batches) batches in \(settings.epochs) epochs; the word vectors learn little: lower --batch")
        }
        return try vectors()
    }

    /// The word vectors as they stand.
    public func vectors() throws -> WordVectors {
        try WordVectors(vocabulary: corpus.vocabulary, dimension: settings.dimension, values: backend.download(input))
    }

    /// The tables' values: `[words, dimension]` and `[outputRows, dimension]`.
    public func tableValues() throws -> (input: [Float], output: [Float]) {
        (try backend.download(input), try backend.download(output))
    }

    public func setTables(input inputValues: [Float], output outputValues: [Float]) throws {
        try backend.upload(inputValues, to: input)
        try backend.upload(outputValues, to: output)
    }

    /// A device view of `count` elements for `name`, grown (doubling) as batches need.
    private func scratch(_ name: String, _ count: Int, _ dtype: DType = .float32) throws -> Tensor {
        if let t = workspace[name], t.count >= count { return t.elements(0..<count) }
        let t = try backend.tensor(shape: [max(count, 2 * (workspace[name]?.count ?? 0))], dtype: dtype)
        workspace[name] = t
        return t.elements(0..<count)
    }

    private func upload(_ name: String, _ values: [Int32]) throws -> Tensor {
        let t = try scratch(name, values.count, .int32)
        try backend.upload(int32: values, to: t)
        return t
    }

    private func upload(_ name: String, _ values: [Float]) throws -> Tensor {
        let t = try scratch(name, values.count)
        try backend.upload(values, to: t)
        return t
    }

    /// What the forward pass leaves for the backward pass: the batch's indices on the device, each pair's hidden
    /// vector and output row (`[pairs, dimension]`) and its score.
    private struct Forward {
        var contextWords, contextUnits, pairUnits, pairRows: Tensor
        var pairHidden, outputRows, scores: Tensor
    }

    /// Refuses a batch whose arrays disagree in length or name a row or unit that does not exist.
    private func check(_ batch: Word2VecBatch) throws {
        func fail(_ message: String) -> NNError { .invalidSetting(name: "word2vec batch", message: message) }
        guard batch.contextUnits.count == batch.contextWords.count,
              batch.pairRows.count == batch.pairUnits.count, batch.pairLabels.count == batch.pairUnits.count else {
            throw fail("its context arrays (\(batch.contextWords.count), \(batch.contextUnits.count)) or pair arrays "
                + "(\(batch.pairUnits.count), \(batch.pairRows.count), \(batch.pairLabels.count)) differ in length")
        }
        guard !batch.pairRows.isEmpty, batch.units > 0 else { throw fail("is empty") }
        func inside(_ values: [Int32], _ bound: Int, _ name: String) throws {
            if let bad = values.first(where: { !(0..<Int32(bound)).contains($0) }) {
                throw fail("\(name) holds \(bad), outside 0..<\(bound)")
            }
        }
        try inside(batch.contextWords, corpus.vocabulary.count, "contextWords")
        try inside(batch.contextUnits, batch.units, "contextUnits")
        try inside(batch.pairUnits, batch.units, "pairUnits")
        try inside(batch.pairRows, tables.outputRows, "pairRows")
    }

    private func forward(_ batch: Word2VecBatch) throws -> Forward {
        try check(batch)
        let d = settings.dimension, c = batch.contextWords.count, u = batch.units, p = batch.pairRows.count
        let words = try upload("contextWords", batch.contextWords)
        let gathered = try scratch("contextVectors", c * d)
        try backend.gatherRows(table: input, indices: words, output: gathered, rows: corpus.vocabulary.count, width: d)
        var hidden = gathered
        let units = try upload("contextUnits", batch.contextUnits)
        if settings.architecture == .cbow {
            hidden = try scratch("hidden", u * d)
            try backend.fill(hidden, value: 0)
            try backend.scatterAddRows(gradients: gathered, indices: units,
                                       order: try upload("contextSequence", Array(0..<Int32(c))), table: hidden, rows: u, width: d)
            try backend.scaleRows(hidden, by: try upload("unitScales", batch.unitScales), output: hidden, rows: u, width: d)
        }
        let pairUnits = try upload("pairUnits", batch.pairUnits), pairRows = try upload("pairRows", batch.pairRows)
        let pairHidden = try scratch("pairHidden", p * d)
        try backend.gatherRows(table: hidden, indices: pairUnits, output: pairHidden, rows: u, width: d)
        let outputRows = try scratch("outputRows", p * d)
        try backend.gatherRows(table: output, indices: pairRows, output: outputRows, rows: tables.outputRows, width: d)
        let scores = try scratch("scores", p)
        try backend.rowDots(pairHidden, outputRows, output: scores, rows: p, width: d)
        return Forward(contextWords: words, contextUnits: units, pairUnits: pairUnits, pairRows: pairRows,
                       pairHidden: pairHidden, outputRows: outputRows, scores: scores)
    }

    /// The loss of each logistic unit of `batch`, without training.
    public func losses(_ batch: Word2VecBatch) throws -> [Float] {
        let p = batch.pairRows.count
        let scores = try forward(batch).scores
        let losses = try scratch("losses", p), gradients = try scratch("gradients", p)
        try backend.sigmoidCrossEntropy(logits: scores, labels: try upload("labels", batch.pairLabels), losses: losses,
                                        gradients: gradients)
        return try backend.download(losses)
    }

    /// One SGD step of size `rate` on every logistic unit of `batch`, all from the tables as they stand.
    public func step(_ batch: Word2VecBatch, rate: Float) throws {
        let d = settings.dimension, c = batch.contextWords.count, u = batch.units, p = batch.pairRows.count
        let f = try forward(batch)
        let losses = try scratch("losses", p), steps = try scratch("gradients", p)
        try backend.sigmoidCrossEntropy(logits: f.scores, labels: try upload("labels", batch.pairLabels), losses: losses,
                                        gradients: steps)
        try backend.sum(losses, result: lossTotal.elements(1..<2))
        try backend.axpy(alpha: 1, x: lossTotal.elements(1..<2), y: lossTotal.elements(0..<1))
        try backend.scale(steps, by: -rate)
        // A row that many units of the batch share (a frequent word, the top of the Huffman tree) moves by at most
        // `sharedUpdates` times the mean of their updates: their whole sum, which sequential SGD would have spread
        // over as many steps, each seeing the last, overshoots and diverges.
        let outputSteps = try scratch("outputSteps", p)
        try backend.multiply(steps, try upload("pairShares", Self.shares(batch.pairRows)), output: outputSteps)
        // Both updates are taken before either table changes.
        let outputUpdates = try scratch("outputUpdates", p * d), hiddenUpdates = try scratch("hiddenUpdates", p * d)
        try backend.scaleRows(f.pairHidden, by: outputSteps, output: outputUpdates, rows: p, width: d)
        try backend.scaleRows(f.outputRows, by: steps, output: hiddenUpdates, rows: p, width: d)
        try backend.scatterAddRows(gradients: outputUpdates, indices: f.pairRows,
                                   order: try upload("pairOrder", scatterOrder(batch.pairRows)), table: output,
                                   rows: tables.outputRows, width: d)
        let unitUpdates = try scratch("unitUpdates", u * d)
        try backend.fill(unitUpdates, value: 0)
        try backend.scatterAddRows(gradients: hiddenUpdates, indices: f.pairUnits,
                                   order: try upload("pairSequence", Array(0..<Int32(p))), table: unitUpdates, rows: u, width: d)
        let contextUpdates = try scratch("contextUpdates", c * d)
        // word2vec.c adds a CBOW mean's whole update to every context word (for skip-gram, units are context words).
        try backend.gatherRows(table: unitUpdates, indices: f.contextUnits, output: contextUpdates, rows: u, width: d)
        try backend.scaleRows(contextUpdates, by: try upload("contextShares", Self.shares(batch.contextWords)),
                              output: contextUpdates, rows: c, width: d)
        try backend.scatterAddRows(gradients: contextUpdates, indices: f.contextWords,
                                   order: try upload("contextOrder", scatterOrder(batch.contextWords)), table: input,
                                   rows: corpus.vocabulary.count, width: d)
    }
}

extension BatchedWord2Vec {
    /// The most updates a row adds up in one batch; beyond, they are scaled to this many times their mean.
    static let sharedUpdates = 64

    /// `min(1, sharedUpdates / (how often rows[n] occurs in rows))` for every n: the weights that cap a scatter-add's
    /// sum per row.
    static func shares(_ rows: [Int32]) -> [Float] {
        var occurrences: [Int32: Int] = [:]
        for row in rows { occurrences[row, default: 0] += 1 }
        return rows.map { min(1, Float(sharedUpdates) / Float(occurrences[$0]!)) }
    }
}

/// Turns the corpus's stream of word ids into batches, as the threaded trainer walks it: sub-sampling, a window
/// drawn per position, and the output layer's pairs.
struct BatchSampler {
    let tables: Word2VecTables
    var random: PhiloxGenerator
    var sentence: [Int32] = []
    var batch = Word2VecBatch()

    init(tables: Word2VecTables, random: PhiloxGenerator) {
        self.tables = tables
        self.random = random
    }

    /// Takes the next entry of the corpus; returns a batch once it holds `batchPositions` positions.
    mutating func add(_ id: Int32, batchPositions: Int) -> Word2VecBatch? {
        if id == EncodedCorpus.sentenceEnd {
            addSentence()
        } else if id >= 0 {
            if tables.keep[Int(id)] < 1 && tables.keep[Int(id)] < random.uniform() { return nil }
            sentence.append(id)
            if sentence.count == WordReader.maxSentenceWords { addSentence() }
        }
        guard batch.positions >= batchPositions else { return nil }
        defer { batch = Word2VecBatch() }
        return batch
    }

    /// The last, partial batch of an epoch.
    mutating func finish() -> Word2VecBatch {
        addSentence()
        defer { batch = Word2VecBatch() }
        return batch
    }

    mutating func addSentence() {
        defer { sentence.removeAll(keepingCapacity: true) }
        let window = tables.settings.window
        for position in sentence.indices {
            let reach = window - random.below(window)
            let context = (max(0, position - reach)...min(sentence.count - 1, position + reach)).filter { $0 != position }
            guard !context.isEmpty else { continue }
            batch.positions += 1
            let target = Int(sentence[position])
            if tables.settings.architecture == .cbow {
                let unit = Int32(batch.units)
                for c in context {
                    batch.contextWords.append(sentence[c])
                    batch.contextUnits.append(unit)
                }
                batch.unitScales.append(1 / Float(context.count))
                addPairs(unit: unit, target: target)
            } else {
                for c in context {
                    let unit = Int32(batch.units)
                    batch.contextWords.append(sentence[c])
                    batch.contextUnits.append(unit)
                    batch.unitScales.append(1)
                    addPairs(unit: unit, target: target)
                }
            }
        }
    }

    mutating func addPairs(unit: Int32, target: Int) {
        func pair(_ row: Int32, _ label: Float) {
            batch.pairUnits.append(unit)
            batch.pairRows.append(row)
            batch.pairLabels.append(label)
        }
        if let tree = tables.tree {
            for k in tree.offsets[target]..<tree.offsets[target + 1] { pair(tree.flatPoints[k], 1 - Float(tree.flatCodes[k])) }
        } else if let noise = tables.noise, case let .negativeSampling(negatives) = tables.settings.output {
            pair(Int32(target), 1)
            for _ in 0..<negatives {
                let word = noise.sample(random.next64())
                if Int(word) != target { pair(word, 0) }
            }
        }
    }
}
