/// The agreement DESIGN.md requires between devices.
public enum Tolerance {
    /// Elementwise ops: `|a - b| <= 1e-5 + 1e-4 * |b|`.
    public static func elementwise(_ a: Float, _ b: Float) -> Bool {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
        return abs(a - b) <= 1e-5 + 1e-4 * abs(b)
    }

    /// GEMM and convolution against a Float64 reference: the error may grow with `sqrt(k)` times the
    /// magnitude of the summed products, `scale = sum |a_i b_i|`.
    public static func dotProduct(_ value: Float, reference: Double, scale: Double, k: Int) -> Bool {
        abs(Double(value) - reference) <= 4 * Double(Float.ulpOfOne) * Double(k).squareRoot() * scale + 1e-6
    }
}
