import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How a corpus file's bytes become words and sentences.
public enum WordFormat: String, Sendable, CaseIterable {
    /// Words are the runs of bytes between ASCII white space, kept as they are (UTF-8); a line break ends a
    /// sentence: the convention of word2vec.c, gensim's `LineSentence` and fastText, so all read the same words.
    case text
    /// A dictd dictionary file of GCIDE (`gcide.dict.dz`) with its markup stripped: pronunciations `\...\`,
    /// everything in brackets (etymologies, labels such as `[Obs.]`, sources such as `[1913 Webster]`, character
    /// codes such as `[=a]`) and the author after a citation's `--`. Words are runs of ASCII letters, lower-cased
    /// (as in word2vec's text8); a blank line (the end of an entry or a sense) ends a sentence.
    case gcide

    /// Calls `body` with the words of each sentence of `path` (UTF-8 bytes), as training reads them.
    public func forEachSentence(path: String, _ body: ([[UInt8]]) throws -> Void) throws {
        var sentence: [[UInt8]] = []
        try WordReader.read(path: path, format: self, word: { bytes, offset in
            guard String(validating: bytes, as: UTF8.self) != nil else {
                throw NNError.dataFile(path: path, message: "the word at byte \(offset) is not UTF-8: this is not a text file")
            }
            sentence.append(Array(bytes))
        }, sentenceEnd: {
            try body(sentence)
            sentence.removeAll(keepingCapacity: true)
        })
    }

    /// `gcide` for a dictd file (`.dict` or `.dict.dz`), `text` otherwise.
    public static func guess(path: String) -> WordFormat {
        path.hasSuffix(".dict.dz") || path.hasSuffix(".dict") ? .gcide : .text
    }
}

/// Reads the words of a corpus file (plain or gzip) a piece at a time, so a corpus of any size passes through a
/// fixed amount of memory.
enum WordReader {
    /// A longer "word" means the file is not text: an error rather than a vocabulary of garbage.
    static let maxWordBytes = 255
    /// word2vec.c's cap: a longer sentence is cut into pieces of this many words.
    static let maxSentenceWords = 1000
    private static let pieceBytes = 1 << 20

    /// Calls `word` with the bytes of each word and the byte offset where it starts, and `sentenceEnd` after each
    /// sentence that has words. A NUL byte or an overlong word is an error naming the file and the offset.
    static func read(path: String, format: WordFormat, word: (UnsafeBufferPointer<UInt8>, Int) throws -> Void,
                     sentenceEnd: () throws -> Void) throws {
        let file = try CompressedFileReader(path: path)
        func fail(_ message: String) -> NNError { .dataFile(path: path, message: message) }
        var piece = [UInt8](repeating: 0, count: pieceBytes)
        var token = [UInt8](repeating: 0, count: maxWordBytes)
        var length = 0, tokenStart = 0, sentenceWords = 0, base = 0
        // GCIDE's markup state.
        var bracketDepth = 0, inPronunciation = false, inCitation = false, lineHasText = false
        var previous: UInt8 = 0

        func flush() throws {
            guard length > 0 else { return }
            try token.withUnsafeBufferPointer { try word(UnsafeBufferPointer(rebasing: $0[0..<length]), tokenStart) }
            length = 0
            sentenceWords += 1
            if sentenceWords == maxSentenceWords { try endSentence() }
        }
        func endSentence() throws {
            if sentenceWords > 0 { try sentenceEnd() }
            sentenceWords = 0
        }
        func append(_ byte: UInt8, at offset: Int) throws {
            if length == 0 { tokenStart = offset }
            guard length < maxWordBytes else {
                throw fail("a word of more than \(maxWordBytes) bytes starts at byte \(tokenStart): this is not a text of words")
            }
            token[length] = byte
            length += 1
        }

        while true {
            let got = try piece.withUnsafeMutableBytes { try file.read(into: $0) }
            if got == 0 { break }
            for i in 0..<got {
                let byte = piece[i], offset = base + i
                guard byte != 0 else { throw fail("holds a NUL byte at byte \(offset): this is not a text file") }
                let isSpace = byte == 0x20 || (0x09...0x0D).contains(byte)
                switch format {
                case .text:
                    if isSpace {
                        try flush()
                        if byte == 0x0A { try endSentence() }
                    } else {
                        try append(byte, at: offset)
                    }
                case .gcide:
                    if byte == 0x0A {
                        try flush()
                        inCitation = false
                        if !lineHasText {
                            // A blank line ends a sentence, and any markup a stray bracket or backslash left open.
                            try endSentence()
                            bracketDepth = 0
                            inPronunciation = false
                        }
                        lineHasText = false
                    } else if isSpace {
                        try flush()
                        inCitation = false
                    } else {
                        lineHasText = true
                        if bracketDepth > 0 {
                            if byte == UInt8(ascii: "[") { bracketDepth += 1 } else if byte == UInt8(ascii: "]") { bracketDepth -= 1 }
                        } else if inPronunciation {
                            if byte == UInt8(ascii: "\\") { inPronunciation = false }
                        } else if byte == UInt8(ascii: "[") {
                            try flush()
                            bracketDepth = 1
                        } else if byte == UInt8(ascii: "\\") {
                            try flush()
                            inPronunciation = true
                        } else if byte == UInt8(ascii: "-") && previous == UInt8(ascii: "-") {
                            try flush()
                            inCitation = true
                        } else if let letter = asciiLowercaseLetter(byte) {
                            if !inCitation { try append(letter, at: offset) }
                        } else {
                            try flush()
                        }
                    }
                }
                previous = byte
            }
            base += got
        }
        try flush()
        try endSentence()
    }

    @inline(__always)
    private static func asciiLowercaseLetter(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x61...0x7A: return byte
        case 0x41...0x5A: return byte | 0x20
        default: return nil
        }
    }
}

/// A word compared byte for byte, as word2vec.c, gensim and fastText compare words: Swift's `String` equality would
/// merge spellings that Unicode calls equivalent ("café" precomposed and with a combining accent), which those tools
/// and their files keep apart.
struct WordKey: Hashable {
    let word: String

    init(_ word: String) { self.word = word }

    static func == (a: WordKey, b: WordKey) -> Bool { a.word.utf8.elementsEqual(b.word.utf8) }

    func hash(into hasher: inout Hasher) {
        var word = word
        word.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// The words a model knows, most frequent first, and how often each occurred in the training corpus.
public struct WordVocabulary: Equatable, Sendable {
    /// Word `i` of the model: row `i` of its vectors.
    public let words: [String]
    /// How often each word occurred in the corpus (0 where unknown: vectors read from another tool's file).
    public let counts: [Int]
    private let ids: [WordKey: Int32]

    /// Throws `NNError.invalidSetting` for no words, an empty word, one holding white space, or a repeated word.
    public init(words: [String], counts: [Int]) throws {
        func fail(_ message: String) -> NNError { .invalidSetting(name: "vocabulary", message: message) }
        guard !words.isEmpty else { throw fail("has no words") }
        guard counts.count == words.count else { throw fail("has \(words.count) words but \(counts.count) counts") }
        var ids: [WordKey: Int32] = [:]
        ids.reserveCapacity(words.count)
        for (i, word) in words.enumerated() {
            guard !word.isEmpty else { throw fail("word \(i) is empty") }
            guard !word.utf8.contains(where: { $0 == 0x20 || (0x09...0x0D).contains($0) }) else {
                throw fail("word \(i) '\(word)' holds white space")
            }
            guard ids.updateValue(Int32(i), forKey: WordKey(word)) == nil else { throw fail("holds '\(word)' twice") }
        }
        self.words = words
        self.counts = counts
        self.ids = ids
    }

    public static func == (a: WordVocabulary, b: WordVocabulary) -> Bool { a.words == b.words && a.counts == b.counts }

    /// The number of words.
    public var count: Int { words.count }

    /// The row of `word`, or nil when the model does not know it.
    public func id(_ word: String) -> Int? { ids[WordKey(word)].map(Int.init) }
}

/// A corpus read once: its vocabulary, and its words as ids in a temporary file that training streams through
/// each epoch. The file is unlinked as soon as it is made, so it goes away with the process however that ends.
public final class EncodedCorpus: @unchecked Sendable {
    /// The corpus file.
    public let path: String
    /// The words that occur at least `minCount` times, most frequent first (ties in order of first appearance).
    public let vocabulary: WordVocabulary
    /// Words read, in the vocabulary or not.
    public let wordsRead: Int
    /// Words read that are in the vocabulary: what one epoch trains on before sub-sampling.
    public let trainWords: Int
    /// Entries in the id file: one per word read, and one per sentence end.
    public let entries: Int
    /// The id file holds each word's id in order of first appearance (or `sentenceEnd`); this maps it to the
    /// word's row in `vocabulary`, or to `dropped` for a word below the minimum count.
    let rows: [Int32]
    private let descriptor: Int32

    static let sentenceEnd: Int32 = -1
    static let dropped: Int32 = -2
    /// Beyond this many distinct words, the rarest are forgotten as word2vec.c does, so that a huge corpus cannot
    /// exhaust memory with its vocabulary.
    static let maxDistinctWords = 10_000_000

    /// Reads `path` (plain or gzip) as `format`, keeping the words that occur at least `minCount` times.
    /// `progress` is called now and then with the words read so far. Throws `NNError.dataFile` for a file with
    /// no words, one that is not text, or one whose words all occur fewer than `minCount` times.
    public init(path: String, format: WordFormat, minCount: Int, progress: (Int) -> Void = { _ in }) throws {
        guard minCount >= 1 else { throw NNError.invalidSetting(name: "--min-count", message: "must be at least 1, got \(minCount)") }
        func fail(_ message: String) -> NNError { .dataFile(path: path, message: message) }
        var template = Array((NSTemporaryDirectory() + "/synapse-words-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw fail("cannot create a temporary file in \(NSTemporaryDirectory()) for its words: \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        var ids: [WordKey: Int32] = [:]
        var counts: [Int] = []
        var pending: [Int32] = []
        pending.reserveCapacity(1 << 16)
        var wordsRead = 0, entries = 0, forgetBelow = 1
        func writePending() throws {
            let wanted = pending.count * 4
            let wrote = pending.withUnsafeBytes { write(descriptor, $0.baseAddress, wanted) }
            guard wrote == wanted else {
                throw fail("cannot write its words to a temporary file in \(NSTemporaryDirectory()): "
                    + (wrote < 0 ? String(cString: strerror(errno)) : "the disk is full"))
            }
            entries += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        do {
            try WordReader.read(path: path, format: format, word: { bytes, offset in
                guard let word = String(validating: bytes, as: UTF8.self) else {
                    throw fail("the word at byte \(offset) is not UTF-8: this is not a text file")
                }
                let id: Int32
                let key = WordKey(word)
                if let known = ids[key] {
                    id = known
                    counts[Int(id)] += 1
                } else {
                    id = Int32(counts.count)
                    ids[key] = id
                    counts.append(1)
                    if ids.count > Self.maxDistinctWords {
                        forgetBelow += 1
                        ids = ids.filter { counts[Int($0.value)] >= forgetBelow }
                    }
                }
                pending.append(id)
                wordsRead += 1
                if pending.count == pending.capacity {
                    try writePending()
                    if wordsRead % (1 << 20) < pending.capacity { progress(wordsRead) }
                }
            }, sentenceEnd: {
                pending.append(Self.sentenceEnd)
                if pending.count == pending.capacity { try writePending() }
            })
            try writePending()
        } catch {
            close(descriptor)
            throw error
        }
        guard wordsRead > 0 else {
            close(descriptor)
            throw fail("holds no words")
        }
        // Most frequent first; a stable sort keeps words of equal count in order of first appearance.
        let kept = ids.filter { counts[Int($0.value)] >= minCount }
            .sorted { (counts[Int($0.value)], -$0.value) > (counts[Int($1.value)], -$1.value) }
        guard !kept.isEmpty else {
            close(descriptor)
            let top = ids.max { counts[Int($0.value)] < counts[Int($1.value)] }!
            throw fail("no word occurs \(minCount) times (--min-count): of its \(ids.count) distinct words the most "
                + "frequent, '\(top.key.word)', occurs \(counts[Int(top.value)]) times")
        }
        var rows = [Int32](repeating: Self.dropped, count: counts.count)
        for (row, entry) in kept.enumerated() { rows[Int(entry.value)] = Int32(row) }
        self.vocabulary = try WordVocabulary(words: kept.map(\.key.word), counts: kept.map { counts[Int($0.value)] })
        self.path = path
        self.wordsRead = wordsRead
        self.trainWords = vocabulary.counts.reduce(0, +)
        self.entries = entries
        self.rows = rows
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Calls `body` with the entries `range` of the id file, a piece at a time, each mapped to its vocabulary
    /// row, `dropped` for a word below the minimum count, or `sentenceEnd`. Safe to call from several threads.
    func read(_ range: Range<Int>, pieceEntries: Int = 1 << 16, _ body: (UnsafeBufferPointer<Int32>) throws -> Void) throws {
        var piece = [Int32](repeating: 0, count: pieceEntries)
        var start = range.lowerBound
        while start < range.upperBound {
            let count = min(pieceEntries, range.upperBound - start)
            let got = piece.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count * 4, off_t(start * 4)) }
            guard got == count * 4 else {
                throw NNError.dataFile(path: path, message: "cannot read back its words from the temporary file: "
                    + (got < 0 ? String(cString: strerror(errno)) : "it is shorter than written"))
            }
            for i in 0..<count where piece[i] != Self.sentenceEnd { piece[i] = rows[Int(piece[i])] }
            try piece.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<count])) }
            start += count
        }
    }
}
