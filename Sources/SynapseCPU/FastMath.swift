/// `exp`, sigmoid and tanh eight lanes at a time, for the CPU backend's activations and recurrent cells: the C
/// library's scalar `expf` and `tanhf` cost more than everything else an LSTM step does. Cephes' single-precision
/// approximations (range reduction and a polynomial), accurate to a few units in the last place, as the SIMD
/// math libraries behind PyTorch and PoCL are.
enum FastMath {
    typealias Vector = SIMD8<Float>

    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        // exp(x) = 2^n exp(r), x = n ln 2 + r, |r| <= ln 2 / 2; ln 2 split in two so that n ln 2 is exact.
        var x = x.replacing(with: -87.3365, where: x .< -87.3365)
        x = x.replacing(with: 88.3762626647949, where: x .> 88.3762626647949)
        // n = x / ln 2 rounded to an integer: adding and taking away 1.5 * 2^23 rounds to nearest.
        let n = (x * 1.44269504088896341 + 12_582_912) - 12_582_912
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p = Vector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * (r * r) + r + 1
        // 2^n from its exponent bits: n + 127 + 2^23 is exact, and its low mantissa bits are n + 127.
        let biased = unsafeBitCast(n + 8_388_735, to: SIMD8<UInt32>.self) & 0x7F_FFFF
        return y * unsafeBitCast(biased &<< 23, to: Vector.self)
    }

    @inline(__always)
    static func sigmoid(_ x: Vector) -> Vector { 1 / (1 + exp(-x)) }

    @inline(__always)
    static func tanh(_ x: Vector) -> Vector {
        let magnitude = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Vector.self)
        // Near zero a polynomial, whose relative error stays small; further out 1 - 2 / (exp(2|x|) + 1).
        let z = x * x
        var p = Vector(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        let small = p * z * x + x
        let far = 1 - 2 / (exp(magnitude * 2) + 1)
        let large = far.replacing(with: -far, where: x .< 0)
        return small.replacing(with: large, where: magnitude .>= 0.625)
    }

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
