import Foundation

/// Trained word vectors: row `i` of `values` (`[words, dimension]`, row-major) is the vector of word `i`.
public struct WordVectors: Sendable {
    public let vocabulary: WordVocabulary
    public let dimension: Int
    public let values: [Float]
    /// How they were made (the settings, the corpus), kept in safetensors files.
    public var metadata: [String: String] = [:]

    public init(vocabulary: WordVocabulary, dimension: Int, values: [Float]) throws {
        guard dimension > 0, values.count == vocabulary.count * dimension else {
            throw NNError.invalidSetting(name: "word vectors", message: "\(vocabulary.count) words of \(dimension) "
                + "dimensions need \(vocabulary.count * dimension) values, got \(values.count)")
        }
        self.vocabulary = vocabulary
        self.dimension = dimension
        self.values = values
    }

    static func initialize(_ pointer: UnsafeMutablePointer<Float>, from values: [Float]) {
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: $0.count) }
    }

    public func vector(_ row: Int) -> ArraySlice<Float> { values[row * dimension..<(row + 1) * dimension] }

    // MARK: Files

    /// The file formats vectors are written in and read from.
    public enum FileFormat: String, Sendable, CaseIterable {
        /// word2vec's text format: a line `<words> <dimension>`, then a line per word, its vector in decimal.
        case text
        /// word2vec's binary format: the same first line, then per word the word, a space and its vector as
        /// little-endian float32 (word2vec.c ends each with a line break, gensim does not; both are read).
        case binary
        /// A safetensors file: tensor `vectors` `[words, dimension]`, the words and their counts in the metadata.
        case safetensors

        /// By the file name, whatever its case and without a `.gz`: `.safetensors`, `.bin`, and text for anything else.
        public static func guess(path: String) -> FileFormat {
            var name = path.lowercased()
            if name.hasSuffix(".gz") { name.removeLast(3) }
            return name.hasSuffix(".safetensors") ? .safetensors : name.hasSuffix(".bin") ? .binary : .text
        }
    }

    /// Throws unless vectors can be written to `path`: a `.gz` name is refused (they are written uncompressed), and
    /// the directory must take a new file. Training calls it first, so a bad name is told before the training.
    public static func checkWritable(_ path: String) throws {
        try refuseCompressed(path)
        try AtomicFile.checkWritable(path, fail: { NNError.dataFile(path: path, message: $0) })
    }

    private static func refuseCompressed(_ path: String) throws {
        guard !path.lowercased().hasSuffix(".gz") else {
            throw NNError.dataFile(path: path, message: "vectors are written uncompressed: drop the .gz (gzip the file afterwards if you like)")
        }
    }

    /// Writes the vectors to `path` atomically; a `.gz` name is refused.
    public func write(to path: String, format: FileFormat) throws {
        try Self.refuseCompressed(path)
        switch format {
        case .safetensors:
            var metadata = self.metadata
            metadata["words"] = vocabulary.words.joined(separator: "\n")
            metadata["counts"] = vocabulary.counts.map(String.init).joined(separator: ",")
            try SafeTensors(tensors: ["vectors": .init(shape: [vocabulary.count, dimension], values: values)],
                            metadata: metadata).write(to: path)
        case .text, .binary:
            try AtomicFile.write(to: path, fail: { NNError.dataFile(path: path, message: $0) }) { file in
                var bytes = Array("\(vocabulary.count) \(dimension)\n".utf8)
                bytes.reserveCapacity(1 << 20)
                for (row, word) in vocabulary.words.enumerated() {
                    bytes += Array(word.utf8)
                    if format == .binary {
                        bytes.append(0x20)
                        vector(row).withUnsafeBytes { bytes += $0 }
                    } else {
                        for value in vector(row) { bytes += Array(" \(value)".utf8) }
                    }
                    bytes.append(0x0A)
                    if bytes.count >= 1 << 20 {
                        try file.write(bytes)
                        bytes.removeAll(keepingCapacity: true)
                    }
                }
                try file.write(bytes)
            }
        }
    }

    /// Reads vectors written by `write` or by another word2vec tool (word2vec.c, gensim, fastText's `.vec`): the
    /// format by `FileFormat.guess`, except that a word2vec file whose first bytes after the header are not text
    /// is read as binary. Every count and value is checked: a file that is truncated, whose header does not match
    /// its contents, or that holds a non-finite value is an error naming the file and the word.
    /// A gzip file (fastText's `.vec.gz`, GoogleNews' `.bin.gz`) is inflated first.
    public static func read(from path: String) throws -> WordVectors {
        let file = try MappedFile(path: path, fail: { NNError.dataFile(path: path, message: $0) })
        if file.bytes.count >= 2 && file.bytes[0] == 0x1F && file.bytes[1] == 0x8B {
            guard FileFormat.guess(path: path) != .safetensors else {
                throw NNError.dataFile(path: path, message: "is gzip-compressed; safetensors files are read uncompressed")
            }
            let bytes = try CompressedFileReader(path: path).readAll(limit: 1 << 36)
            return try bytes.withUnsafeBytes { bytes in
                var parser = Word2VecFileParser(path: path, bytes: bytes)
                return try parser.parse()
            }
        }
        if FileFormat.guess(path: path) == .safetensors { return try readSafeTensors(path) }
        var parser = Word2VecFileParser(path: path, bytes: file.bytes)
        return try parser.parse()
    }

    private static func readSafeTensors(_ path: String) throws -> WordVectors {
        let file: SafeTensors
        do {
            file = try SafeTensors.read(from: path)
        } catch let NNError.checkpoint(_, message) {
            throw NNError.dataFile(path: path, message: message)
        }
        func fail(_ message: String) -> NNError { .dataFile(path: path, message: message) }
        guard let entry = file.tensors["vectors"] else { throw fail("holds no tensor 'vectors': it is not a word-vectors file") }
        guard entry.shape.count == 2, entry.shape[0] > 0, entry.shape[1] > 0 else {
            throw fail("tensor 'vectors' has shape \(entry.shape), expected [words, dimension]")
        }
        guard let text = file.metadata["words"] else { throw fail("metadata 'words' is missing") }
        let words = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard words.count == entry.shape[0] else {
            throw fail("metadata 'words' holds \(words.count) words but tensor 'vectors' has \(entry.shape[0]) rows")
        }
        var counts = [Int](repeating: 0, count: words.count)
        if let text = file.metadata["counts"] {
            let fields = text.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == words.count else { throw fail("metadata 'counts' holds \(fields.count) counts for \(words.count) words") }
            for (i, field) in fields.enumerated() {
                guard let count = Int(field), count >= 0 else { throw fail("metadata 'counts' holds '\(field)' for word '\(words[i])'") }
                counts[i] = count
            }
        }
        if let bad = entry.values.firstIndex(where: { !$0.isFinite }) {
            throw fail("the vector of '\(words[bad / entry.shape[1]])' holds \(entry.values[bad])")
        }
        let vocabulary: WordVocabulary
        do {
            vocabulary = try WordVocabulary(words: words, counts: counts)
        } catch let NNError.invalidSetting(_, message) {
            throw fail("its vocabulary \(message)")
        }
        var vectors = try WordVectors(vocabulary: vocabulary, dimension: entry.shape[1], values: entry.values)
        vectors.metadata = file.metadata.filter { $0.key != "words" && $0.key != "counts" }
        return vectors
    }

    // MARK: Queries

    /// The vectors scaled to unit length (a zero vector stays zero), for cosine similarity; norms in Double, so that
    /// neither tiny nor huge values lose them.
    public func normalized() -> [Float] {
        var unit = values
        for row in 0..<vocabulary.count {
            let range = row * dimension..<(row + 1) * dimension
            let norm = vectorNorm(unit[range])
            if norm > 0 { for k in range { unit[k] = Float(Double(unit[k]) / norm) } }
        }
        return unit
    }

    /// The row of each of `words`; throws `NNError.invalidSetting` naming every word the model does not know (and a
    /// spelling it knows that differs only in case).
    public func rows(of words: [String]) throws -> [Int] {
        let missing = words.filter { vocabulary.id($0) == nil }
        guard missing.isEmpty else {
            let hints = missing.compactMap { word in
                vocabulary.words.first { $0.lowercased() == word.lowercased() }.map { "'\($0)'" }
            }
            throw NNError.invalidSetting(name: "word", message: (missing.count == 1 ? "'\(missing[0])' is" :
                    missing.map { "'\($0)'" }.joined(separator: ", ") + " are") + " not in the vocabulary of "
                + "\(vocabulary.count) words (words seen fewer than min-count times are left out; words are matched as "
                + "spelt, case included\(hints.isEmpty ? "" : ": it has " + hints.joined(separator: ", ")))")
        }
        return words.map { vocabulary.id($0)! }
    }
}

/// The Euclidean norm, in Double.
func vectorNorm<C: Collection>(_ values: C) -> Double where C.Element == Float {
    values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
}

/// Nearest words by cosine similarity over unit-length vectors.
public struct WordNeighbours: Sendable {
    public let vectors: WordVectors
    /// The unit-length rows.
    public let unit: [Float]

    public init(_ vectors: WordVectors) {
        self.vectors = vectors
        unit = vectors.normalized()
    }

    /// The `count` words most similar to `query` (any length) among the first `among` rows, skipping `excluded`,
    /// best first.
    public func nearest(to query: [Float], count: Int, excluding excluded: Set<Int> = [], among: Int? = nil)
        -> [(word: String, similarity: Float)] {
        let d = vectors.dimension
        let norm = Float(vectorNorm(query))
        guard norm > 0, count > 0 else { return [] }
        let rows = min(among ?? vectors.vocabulary.count, vectors.vocabulary.count)
        var scored: [(row: Int, similarity: Float)] = []
        scored.reserveCapacity(rows)
        query.withUnsafeBufferPointer { q in
            unit.withUnsafeBufferPointer { u in
                let q = UnsafeMutablePointer(mutating: q.baseAddress!), u = UnsafeMutablePointer(mutating: u.baseAddress!)
                for row in 0..<rows where !excluded.contains(row) { scored.append((row, dot(q, u + row * d, d) / norm)) }
            }
        }
        // Ties go to the more frequent word (the lower row).
        scored.sort { ($0.similarity, -$0.row) > ($1.similarity, -$1.row) }
        return scored.prefix(count).map { (vectors.vocabulary.words[$0.row], $0.similarity) }
    }

    /// Row `row`'s unit vector.
    public func unitVector(_ row: Int) -> [Float] { Array(unit[row * vectors.dimension..<(row + 1) * vectors.dimension]) }

    /// The rows of `words`, none of them a zero vector (which nothing is similar to).
    func usableRows(_ words: [String]) throws -> [Int] {
        let rows = try vectors.rows(of: words)
        if let zero = rows.first(where: { row in unit[row * vectors.dimension..<(row + 1) * vectors.dimension].allSatisfy { $0 == 0 } }) {
            throw NNError.invalidSetting(name: "word", message: "'\(vectors.vocabulary.words[zero])' has a zero vector "
                + "(it was never trained): nothing is similar to it")
        }
        return rows
    }

    /// The words most similar to `word`.
    public func similar(to word: String, count: Int) throws -> [(word: String, similarity: Float)] {
        let row = try usableRows([word])[0]
        return nearest(to: unitVector(row), count: count, excluding: [row])
    }

    /// `b - a + c` (3CosAdd on unit vectors): "a is to b as c is to ?", leaving out the three words.
    public func analogy(_ a: String, _ b: String, _ c: String, count: Int) throws -> [(word: String, similarity: Float)] {
        let rows = try usableRows([a, b, c])
        return nearest(to: analogyQuery(rows[0], rows[1], rows[2]), count: count, excluding: Set(rows))
    }

    func analogyQuery(_ a: Int, _ b: Int, _ c: Int) -> [Float] {
        let d = vectors.dimension
        return (0..<d).map { unit[b * d + $0] - unit[a * d + $0] + unit[c * d + $0] }
    }

    /// The recommendation of the word2vec texts: for the words a user has entered, the words nearest to their
    /// mean direction that are not among them.
    public func related(to words: [String], count: Int) throws -> [(word: String, similarity: Float)] {
        let rows = try usableRows(words)
        let d = vectors.dimension
        var mean = [Float](repeating: 0, count: d)
        for row in rows { for k in 0..<d { mean[k] += unit[row * d + k] } }
        return nearest(to: mean, count: count, excluding: Set(rows))
    }
}

/// word2vec's text and binary formats, read from memory with every field checked.
private struct Word2VecFileParser {
    let path: String
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(path: String, bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
    }

    func fail(_ message: String) -> NNError { .dataFile(path: path, message: message) }

    mutating func parse() throws -> WordVectors {
        guard !bytes.isEmpty else { throw fail("is empty") }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { at = 3 }
        let header = try line()
        let fields = header.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 2, let words = Int(fields[0]), let dimension = Int(fields[1]) else {
            throw fail("does not start with a line '<words> <dimension>' (found '\(header.prefix(60))'): it is not a word2vec vectors file")
        }
        guard words > 0, (1...10_000).contains(dimension) else {
            throw fail("its header claims \(words) words of \(dimension) dimensions: expected at least 1 word and 1...10000 dimensions")
        }
        let binary = WordVectors.FileFormat.guess(path: path) == .binary || looksBinary()
        // Each word takes at least a byte and a separator, and its vector 4 bytes (binary) or 2 bytes (text) per
        // value; the last text line may lack its line break.
        let leastBytes = words.multipliedReportingOverflow(by: 2 + dimension * (binary ? 4 : 2))
        guard !leastBytes.overflow, leastBytes.partialValue - (binary ? 0 : 1) <= bytes.count - at else {
            throw fail("its header claims \(words) words of \(dimension) dimensions, more than its \(bytes.count) bytes can hold")
        }
        var names: [String] = []
        names.reserveCapacity(words)
        var values: [Float] = []
        values.reserveCapacity(words * dimension)
        for index in 0..<words {
            if binary {
                while at < bytes.count && bytes[at] == 0x0A { at += 1 }
                let name = try token(until: 0x20, what: "word \(index + 1)")
                guard at + 4 * dimension <= bytes.count else {
                    throw fail("is truncated: the vector of '\(name)' (word \(index + 1) of \(words)) breaks off")
                }
                for k in 0..<dimension {
                    let value = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at + 4 * k, as: UInt32.self)))
                    guard value.isFinite else { throw fail("the vector of '\(name)' holds \(value)") }
                    values.append(value)
                }
                at += 4 * dimension
                names.append(name)
            } else {
                guard at < bytes.count else { throw fail("is truncated: it holds \(index) of the \(words) words its header claims") }
                let text = try line()
                let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard let name = fields.first else { throw fail("line \(index + 2) is empty") }
                guard fields.count == dimension + 1 else {
                    throw fail("line \(index + 2) ('\(name)') has \(fields.count - 1) values, the header says \(dimension)")
                }
                for field in fields.dropFirst() {
                    guard let value = Float(field), value.isFinite else {
                        throw fail("line \(index + 2) ('\(name)') holds '\(field)', not a finite number")
                    }
                    values.append(value)
                }
                names.append(String(name))
            }
        }
        while at < bytes.count && (bytes[at] == 0x0A || bytes[at] == 0x20) { at += 1 }
        guard at == bytes.count else {
            throw fail("holds more than the \(words) words its header claims (byte \(at) of \(bytes.count))")
        }
        do {
            return try WordVectors(vocabulary: WordVocabulary(words: names, counts: [Int](repeating: 0, count: words)),
                                   dimension: dimension, values: values)
        } catch let NNError.invalidSetting(_, message) {
            throw fail("its vocabulary \(message)")
        }
    }

    /// The next line, without its line break (and a Windows carriage return).
    mutating func line() throws -> String {
        let start = at
        while at < bytes.count && bytes[at] != 0x0A { at += 1 }
        var end = at
        if at < bytes.count { at += 1 }
        if end > start && bytes[end - 1] == 0x0D { end -= 1 }
        guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) else {
            throw fail("the line at byte \(start) is not UTF-8 text")
        }
        return text
    }

    mutating func token(until terminator: UInt8, what: String) throws -> String {
        let start = at
        while at < bytes.count && bytes[at] != terminator && at - start <= WordReader.maxWordBytes { at += 1 }
        guard at < bytes.count else { throw fail("is truncated: \(what) breaks off at byte \(start)") }
        guard bytes[at] == terminator, at > start else {
            throw fail("\(what) at byte \(start) is not a word followed by a space: the file is damaged")
        }
        guard let word = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self) else {
            throw fail("\(what) at byte \(start) is not UTF-8")
        }
        at += 1
        return word
    }

    /// Whether the vectors after the header are raw floats: text holds no control characters but tab and line breaks.
    func looksBinary() -> Bool {
        bytes[at..<min(bytes.count, at + 65_536)].contains { $0 < 0x09 || (0x0E...0x1F).contains($0) || $0 == 0x7F }
    }
}
