import Foundation
import SynapseCore

/// The characters of a text (Unicode scalars), in code-point order, and the int32 token of each.
public struct CharacterVocabulary: Equatable, Sendable {
    /// The characters in token order: token `i` stands for `characters[i]`.
    public let characters: [Unicode.Scalar]
    private let tokens: [Unicode.Scalar: Int32]

    /// Throws `NNError.invalidSetting` for an empty list or a repeated character.
    public init(_ characters: [Unicode.Scalar]) throws {
        guard !characters.isEmpty else { throw NNError.invalidSetting(name: "vocabulary", message: "has no characters") }
        var tokens: [Unicode.Scalar: Int32] = [:]
        for (i, c) in characters.enumerated() {
            guard tokens.updateValue(Int32(i), forKey: c) == nil else {
                throw NNError.invalidSetting(name: "vocabulary", message: "holds \(Self.show(c)) twice")
            }
        }
        self.characters = characters
        self.tokens = tokens
    }

    /// Two vocabularies are equal when they hold the same characters in the same order.
    public static func == (a: CharacterVocabulary, b: CharacterVocabulary) -> Bool { a.characters == b.characters }

    /// The number of characters, and so of tokens.
    public var count: Int { characters.count }

    /// The tokens of `text`; a character outside the vocabulary is an error that names it.
    public func encode(_ text: String) throws -> [Int32] {
        try text.unicodeScalars.map { c in
            guard let token = tokens[c] else {
                throw NNError.invalidSetting(name: "text", message: "\(Self.show(c)) is not among the model's \(count) characters")
            }
            return token
        }
    }

    /// The text of `tokens`, each of which must lie in `0..<count`.
    public func decode(_ tokens: [Int32]) -> String {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: tokens.map { characters[Int($0)] })
        return String(text)
    }

    /// As checkpoint metadata: the code points, comma-separated.
    public var metadata: String { characters.map { String($0.value) }.joined(separator: ",") }

    /// The vocabulary stored in checkpoint `path`'s metadata field `vocabulary`, checked value by value.
    public init(metadata text: String, path: String) throws {
        let scalars = try text.split(separator: ",", omittingEmptySubsequences: false).map { field in
            guard let value = UInt32(field), let scalar = Unicode.Scalar(value) else {
                throw NNError.checkpoint(path: path, message: "metadata field 'vocabulary' holds '\(field)', not a character's code point")
            }
            return scalar
        }
        do {
            try self.init(scalars)
        } catch NNError.invalidSetting(_, let message) {
            throw NNError.checkpoint(path: path, message: "its vocabulary \(message)")
        }
        // Training writes the characters in code-point order, which fixes each one's token.
        if let i = scalars.indices.dropFirst().first(where: { scalars[$0 - 1].value > scalars[$0].value }) {
            throw NNError.checkpoint(path: path, message: "its vocabulary is not in code-point order: "
                + "\(Self.show(scalars[i - 1])) comes before \(Self.show(scalars[i]))")
        }
    }

    /// The vocabulary of character-model checkpoint `path`, whose `metadata` must hold it.
    public static func stored(in metadata: [String: String], path: String) throws -> CharacterVocabulary {
        guard let text = metadata["vocabulary"] else {
            throw NNError.checkpoint(path: path, message: "metadata 'vocabulary' is missing, so its tokens cannot be read as characters")
        }
        return try CharacterVocabulary(metadata: text, path: path)
    }

    /// Refuses a model trained on `self` for a text of vocabulary `other`, naming both sizes and a difference.
    public func checkSame(as other: CharacterVocabulary, model: String, text: String) throws {
        guard self != other else { return }
        let missing = other.characters.first { tokens[$0] == nil }
        let detail = missing.map { "; the text has \(Self.show($0)), which the model does not" } ?? ""
        throw NNError.invalidSetting(name: "vocabulary", message: "\(model) was trained on \(count) characters but "
            + "\(text) has \(other.count)\(detail): a character model reads only the characters it was trained on")
    }

    /// A character as error messages show it: `'x'` or its code point, `U+000A`.
    static func show(_ c: Unicode.Scalar) -> String {
        c.properties.isWhitespace || c.value < 32 || !c.isASCII ? String(format: "U+%04X", c.value) : "'\(c)'"
    }
}

/// A text read as a sequence of characters (Unicode scalars) and its vocabulary.
public struct TextCorpus: Sendable {
    /// Where it came from: a file, or a directory of text files.
    public let name: String
    /// The characters the tokens stand for.
    public let vocabulary: CharacterVocabulary
    /// The token of every character, in order.
    public let tokens: [Int32]

    /// A corpus of `tokens` of `vocabulary`, each within it.
    public init(name: String, vocabulary: CharacterVocabulary, tokens: [Int32]) throws {
        if let bad = tokens.first(where: { !(0..<Int32(vocabulary.count)).contains($0) }) {
            throw NNError.invalidSetting(name: "corpus '\(name)'", message: "token \(bad) is outside its \(vocabulary.count) characters")
        }
        self.name = name
        self.vocabulary = vocabulary
        self.tokens = tokens
    }

    /// The checkpoint metadata key of `fingerprint`.
    public static let fingerprintKey = "text.fingerprint"

    /// The text's length and a 64-bit FNV-1a hash of its tokens, `"<characters>:<hash in hex>"`: a resumed run
    /// checks that it reads the very text it was trained on.
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for token in tokens {
            withUnsafeBytes(of: token.littleEndian) { bytes in
                for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            }
        }
        return "\(tokens.count):" + String(hash, radix: 16)
    }

    /// The fortune files of Debian's `fortunes` package: quotations, about 2.6 MB of English.
    public static let defaultPath = "/usr/share/games/fortunes"

    /// Reads a UTF-8 text file (plain or gzip), or every file of a directory whose name has no extension (the
    /// fortune files; their `.dat` indexes are skipped) or ends in `.txt` or `.txt.gz`, in name order. Throws
    /// `NNError.dataFile` naming the file for an empty text or one that is not UTF-8.
    public static func load(path: String) throws -> TextCorpus {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NNError.dataFile(path: path, message: "no such file or directory")
        }
        var text = String.UnicodeScalarView()
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).filter {
                !$0.contains(".") || $0.hasSuffix(".txt") || $0.hasSuffix(".txt.gz")
            }.sorted()
            let files = names.map { URL(fileURLWithPath: path).appendingPathComponent($0).path }.filter {
                (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeRegular
            }
            guard !files.isEmpty else {
                throw NNError.dataFile(path: path, message: "holds no text files (files named .txt or .txt.gz, or without an extension)")
            }
            for file in files { text.append(contentsOf: try read(file).unicodeScalars) }
        } else {
            text = try read(path).unicodeScalars
        }
        guard !text.isEmpty else { throw NNError.dataFile(path: path, message: "is empty") }
        let vocabulary = try CharacterVocabulary(Set(text).sorted { $0.value < $1.value })
        return try TextCorpus(name: URL(fileURLWithPath: path).lastPathComponent, vocabulary: vocabulary,
                              tokens: vocabulary.encode(String(text)))
    }

    /// The UTF-8 text of one file, plain or gzip.
    static func read(_ path: String) throws -> String {
        let bytes = try CompressedFileReader(path: path).readAll(limit: 1 << 28)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let valid = String(decoding: bytes, as: UTF8.self).unicodeScalars.prefix { $0 != "\u{FFFD}" }
            throw NNError.dataFile(path: path, message: "is not UTF-8 text: the bytes after character \(valid.count) are no valid UTF-8")
        }
        return text
    }
}
