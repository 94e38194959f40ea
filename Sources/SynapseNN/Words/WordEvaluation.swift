import Dispatch
import Foundation
import SynapseCore

/// The standard intrinsic evaluations of word vectors: analogies ("a is to b as c is to d", Mikolov et al.'s
/// `questions-words.txt`) and the correlation of cosine similarity with human judgements (WordSim-353, SimLex-999).
/// Words are matched without regard to case, as word2vec's compute-accuracy and gensim do.
public struct WordEvaluation {
    public let neighbours: WordNeighbours
    /// Lower-cased word to row, the most frequent spelling winning.
    private let rows: [String: Int]

    public init(_ vectors: WordVectors) {
        neighbours = WordNeighbours(vectors)
        var rows: [String: Int] = [:]
        for (row, word) in vectors.vocabulary.words.enumerated() where rows[word.lowercased()] == nil {
            rows[word.lowercased()] = row
        }
        self.rows = rows
    }

    public struct AnalogySection: Sendable {
        public var name: String
        public var correct = 0
        /// Questions whose four words are all among the candidate words.
        public var answered = 0
        public var questions = 0
        public var accuracy: Double { answered > 0 ? Double(correct) / Double(answered) : 0 }
    }

    /// Reads an analogy file (`: section` lines, then lines of four words) and answers each question whose words
    /// are all among the `among` most frequent words with the nearest of those words to `b - a + c` (unit vectors),
    /// leaving out a, b and c; returns the sections in file order. A malformed line is an error naming it.
    public func analogies(path: String, among: Int = 30_000) throws -> [AnalogySection] {
        let text = try TextCorpus.read(path)
        var sections: [AnalogySection] = []
        var questions: [(section: Int, rows: [Int])] = []
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            if line.hasPrefix(":") {
                sections.append(AnalogySection(name: line.dropFirst().trimmingCharacters(in: .whitespaces)))
                continue
            }
            let words = line.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
            guard words.count == 4 else {
                throw NNError.dataFile(path: path, message: "line \(number + 1) holds \(words.count) words, an analogy needs 4: '\(line.prefix(80))'")
            }
            if sections.isEmpty { sections.append(AnalogySection(name: "questions")) }
            sections[sections.count - 1].questions += 1
            let found = words.compactMap { rows[$0] }.filter { $0 < among }
            if found.count == 4 { questions.append((sections.count - 1, found)) }
        }
        guard sections.contains(where: { $0.questions > 0 }) else {
            throw NNError.dataFile(path: path, message: "holds no analogy questions")
        }
        let d = neighbours.vectors.dimension
        let candidates = min(among, neighbours.vectors.vocabulary.count)
        var answers = [Int](repeating: -1, count: questions.count)
        let asked = questions
        neighbours.unit.withUnsafeBufferPointer { unit in
            answers.withUnsafeMutableBufferPointer { answers in
                // Each question writes its own answer and only reads the vectors.
                let shared = UncheckedSendable((answers, UnsafeMutablePointer(mutating: unit.baseAddress!)))
                DispatchQueue.concurrentPerform(iterations: asked.count) { q in
                    let (out, unit) = shared.value
                    let r = asked[q].rows
                    var query = (0..<d).map { unit[r[1] * d + $0] - unit[r[0] * d + $0] + unit[r[2] * d + $0] }
                    var best = -1, bestScore = -Float.infinity
                    query.withUnsafeMutableBufferPointer { query in
                        for row in 0..<candidates where row != r[0] && row != r[1] && row != r[2] {
                            let score = dot(query.baseAddress!, unit + row * d, d)
                            if score > bestScore { best = row; bestScore = score }
                        }
                    }
                    out[q] = best
                }
            }
        }
        for (q, question) in questions.enumerated() {
            sections[question.section].answered += 1
            if answers[q] == question.rows[3] { sections[question.section].correct += 1 }
        }
        return sections
    }

    public struct SimilarityResult: Sendable {
        /// Spearman's rank correlation of the cosine similarities with the human scores; nil where it is undefined
        /// (fewer than two pairs the model knows, or either side constant).
        public var spearman: Double?
        /// Pairs whose both words the model knows, and all pairs.
        public var pairs: Int
        public var total: Int
    }

    /// Reads word pairs with a human similarity score (`word word score` per line, separated by tabs, commas or spaces,
    /// `#` comments; a header line is skipped, and where it names a `SimLex999` column, as SimLex-999's own file does,
    /// the score is read from there) and correlates the score with the cosine of the two vectors over the pairs the
    /// model knows.
    public func similarities(path: String) throws -> SimilarityResult {
        let text = try TextCorpus.read(path)
        var human: [Double] = [], model: [Double] = []
        var total = 0, scoreColumn = 2, firstLine = true
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.contains("\t") ? line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
                : line.contains(",") ? line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                : line.split(whereSeparator: \.isWhitespace).map(String.init)
            defer { firstLine = false }
            if firstLine, fields.count >= 3, Double(fields[2]) == nil {
                scoreColumn = fields.firstIndex { $0.lowercased() == "simlex999" } ?? 2
                continue
            }
            // Columns after the score are allowed: the Stanford Rare Words file has ten more.
            guard fields.count > scoreColumn, let score = Double(fields[scoreColumn]), score.isFinite else {
                throw NNError.dataFile(path: path, message: "line \(number + 1) is not 'word word score': '\(line.prefix(80))'")
            }
            total += 1
            guard let a = rows[fields[0].lowercased()], let b = rows[fields[1].lowercased()] else { continue }
            let d = neighbours.vectors.dimension
            human.append(score)
            model.append(Double((0..<d).reduce(Float(0)) { $0 + neighbours.unit[a * d + $1] * neighbours.unit[b * d + $1] }))
        }
        guard total > 0 else { throw NNError.dataFile(path: path, message: "holds no word pairs") }
        return SimilarityResult(spearman: spearman(human, model), pairs: human.count, total: total)
    }
}

/// Spearman's rank correlation: Pearson's over the ranks, tied values sharing their mean rank; nil, undefined, for
/// fewer than two pairs or a constant side.
public func spearman(_ x: [Double], _ y: [Double]) -> Double? {
    guard x.count == y.count, x.count >= 2 else { return nil }
    func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var rank = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { rank[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return rank
    }
    let rx = ranks(x), ry = ranks(y)
    let mx = rx.reduce(0, +) / Double(rx.count), my = ry.reduce(0, +) / Double(ry.count)
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for i in rx.indices {
        sxy += (rx[i] - mx) * (ry[i] - my)
        sxx += (rx[i] - mx) * (rx[i] - mx)
        syy += (ry[i] - my) * (ry[i] - my)
    }
    return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : nil
}
