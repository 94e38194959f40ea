import Foundation
import SynapseCore

/// Hierarchical softmax's binary tree over the vocabulary (Huffman's code from the word counts, so frequent words
/// get short paths): word `w`'s path is the inner nodes `points(w)` from the root down, and `codes(w)` the branch
/// taken at each (0 or 1). Inner node `i` has row `i` of the output table, which so has `leaves - 1` rows.
public struct HuffmanTree: Sendable {
    /// Where each word's code starts in `flatCodes` and `flatPoints`; word `w` spans `offsets[w]..<offsets[w+1]`.
    public let offsets: [Int]
    public let flatCodes: [UInt8]
    public let flatPoints: [Int32]

    /// The tree over `counts`, which must be in non-increasing order (a vocabulary's order) and number at least 2.
    /// Built as word2vec.c builds it: two queues, the leaves from the rarest up and the inner nodes as made.
    public init(counts: [Int]) throws {
        let leaves = counts.count
        guard leaves >= 2 else {
            throw NNError.invalidSetting(name: "hierarchical softmax", message: "needs at least 2 words in the vocabulary, got \(leaves)")
        }
        guard zip(counts, counts.dropFirst()).allSatisfy({ $0 >= $1 }) else {
            throw NNError.invalidSetting(name: "hierarchical softmax", message: "the word counts must be in non-increasing order")
        }
        var weight = counts + [Int](repeating: .max, count: leaves - 1)
        var parent = [Int](repeating: 0, count: 2 * leaves - 1)
        var branch = [UInt8](repeating: 0, count: 2 * leaves - 1)
        var leaf = leaves - 1, inner = leaves
        func takeLightest() -> Int {
            if leaf >= 0 && weight[leaf] < weight[inner] {
                leaf -= 1
                return leaf + 1
            }
            inner += 1
            return inner - 1
        }
        for node in leaves..<(2 * leaves - 1) {
            let first = takeLightest(), second = takeLightest()
            weight[node] = weight[first] + weight[second]
            parent[first] = node
            parent[second] = node
            branch[second] = 1
        }
        let root = 2 * leaves - 2
        var offsets = [0], codes: [UInt8] = [], points: [Int32] = []
        for word in 0..<leaves {
            var path: [(UInt8, Int32)] = []
            var node = word
            while node != root {
                path.append((branch[node], Int32(parent[node] - leaves)))
                node = parent[node]
            }
            for (code, point) in path.reversed() {
                codes.append(code)
                points.append(point)
            }
            offsets.append(codes.count)
        }
        self.offsets = offsets
        self.flatCodes = codes
        self.flatPoints = points
    }

    /// The number of inner nodes: rows of the output table.
    public var innerNodes: Int { offsets.count - 2 }
    public func codes(_ word: Int) -> ArraySlice<UInt8> { flatCodes[offsets[word]..<offsets[word + 1]] }
    public func points(_ word: Int) -> ArraySlice<Int32> { flatPoints[offsets[word]..<offsets[word + 1]] }
}

/// Negative sampling's noise distribution, word `w` with probability proportional to `count(w)^0.75`, drawn in
/// constant time by Walker's alias method (Vose's construction): exact, where word2vec.c's table of 1e8 entries
/// rounds each word's share.
public struct NoiseDistribution: Sendable {
    /// Column `c` keeps word `c` when the low 32 bits of the draw fall below `threshold[c]`, else gives `alias[c]`.
    private let threshold: [UInt64]
    private let alias: [Int32]

    /// The distribution over `counts` raised to `power`; every count must be positive.
    public init(counts: [Int], power: Double = 0.75) throws {
        let n = counts.count
        guard n > 0, counts.allSatisfy({ $0 > 0 }) else {
            throw NNError.invalidSetting(name: "negative sampling", message: "needs words with positive counts")
        }
        let weights = counts.map { pow(Double($0), power) }
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 * Double(n) / total }
        var threshold = [UInt64](repeating: 1 << 32, count: n)
        var alias = [Int32](repeating: 0, count: n)
        var small = scaled.indices.filter { scaled[$0] < 1 }, large = scaled.indices.filter { scaled[$0] >= 1 }
        while let s = small.popLast(), let l = large.last {
            threshold[s] = UInt64(scaled[s] * 4_294_967_296)
            alias[s] = Int32(l)
            scaled[l] -= 1 - scaled[s]
            if scaled[l] < 1 {
                large.removeLast()
                small.append(l)
            }
        }
        for i in alias.indices { if threshold[i] == 1 << 32 { alias[i] = Int32(i) } }
        self.threshold = threshold
        self.alias = alias
    }

    /// The word for 64 random bits: the high 32 pick a column, the low 32 choose between it and its alias.
    @inline(__always)
    public func sample(_ bits: UInt64) -> Int32 {
        let column = Int(((bits >> 32) &* UInt64(alias.count)) >> 32)
        return (bits & 0xFFFF_FFFF) < threshold[column] ? Int32(column) : alias[column]
    }

    /// The probability of each word (for tests).
    public var probabilities: [Double] {
        let n = Double(alias.count)
        var p = [Double](repeating: 0, count: alias.count)
        for c in alias.indices {
            let keep = Double(threshold[c]) / 4_294_967_296
            p[c] += keep / n
            p[Int(alias[c])] += (1 - keep) / n
        }
        return p
    }
}

/// word2vec.c's sub-sampling: a word of count `f` in a corpus of `N` words is kept with probability
/// `(sqrt(f / (t N)) + 1) t N / f` (1 when that exceeds 1; every word when `t` is 0).
public func subsamplingKeepProbabilities(counts: [Int], threshold t: Double) -> [Float] {
    guard t > 0 else { return [Float](repeating: 1, count: counts.count) }
    let tN = t * Double(counts.reduce(0, +))
    return counts.map { f in Float(min(1, (sqrt(Double(f) / tN) + 1) * tN / Double(f))) }
}

/// A Philox stream read a word at a time: the random numbers of word2vec's sampling (window sizes, sub-sampling,
/// negatives), one stream per thread and epoch.
struct PhiloxGenerator {
    private let key: (UInt32, UInt32)
    private let stream: UInt64
    private var block: UInt64 = 0
    private var words: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    init(seed: UInt64, stream: UInt64) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        self.stream = stream
    }

    @inline(__always)
    mutating func next() -> UInt32 {
        if used == 4 {
            words = Philox.block(counter: (UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32),
                                           UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)), key: key)
            block &+= 1
            used = 0
        }
        used += 1
        switch used {
        case 1: return words.0
        case 2: return words.1
        case 3: return words.2
        default: return words.3
        }
    }

    @inline(__always)
    mutating func next64() -> UInt64 { UInt64(next()) << 32 | UInt64(next()) }

    @inline(__always)
    mutating func uniform() -> Float { Philox.uniform(next()) }

    /// A number in `0..<bound` (bound below 2^32; the bias of the multiply-shift is below bound / 2^32).
    @inline(__always)
    mutating func below(_ bound: Int) -> Int { Int((UInt64(next()) &* UInt64(bound)) >> 32) }
}
