/// Loops over Floats eight lanes at a time in Swift, for the CPU backend's elementwise ops whose arithmetic must
/// not depend on where an element falls: the last few go through a padded vector. (The random draws, the exp-based
/// activations, the LSTM cell and a dense layer's bias gradient run in C, Sources/CVector, where they use the
/// processor's widest vectors.)
enum EightLanes {
    typealias Vector = SIMD8<Float>

    /// `output[i] = f(input[i])` for `i` in `range`, eight at a time; the last few through a padded vector, so
    /// every element gets the same arithmetic.
    @inline(__always)
    static func map(_ range: Range<Int>, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                    _ f: (Vector) -> Vector) {
        for i in stride(from: range.lowerBound, to: range.upperBound, by: 8) {
            store(f(load(input, i, end: range.upperBound)), output, i, end: range.upperBound)
        }
    }

    /// A vector of `p[i ..< i + 8]`, padded with zeros past `end`.
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int, end: Int) -> Vector {
        if i + 8 <= end { return UnsafeRawPointer(p + i).loadUnaligned(as: Vector.self) }
        var v = Vector()
        for lane in 0..<end - i { v[lane] = p[i + lane] }
        return v
    }

    /// Stores the lanes of `v` that lie before `end` at `p + i`.
    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ i: Int, end: Int) {
        if i + 8 <= end { return UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vector.self) }
        for lane in 0..<end - i { p[i + lane] = v[lane] }
    }
}
