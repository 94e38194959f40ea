/// Argument validation shared by every backend, so that all devices reject the same bad input with
/// the same error before any kernel runs.
public enum Check {
    public static func positive(op: String, _ values: KeyValuePairs<String, Int>) throws {
        for (name, value) in values where value <= 0 {
            throw SynapseError.invalidArgument(op: op, message: "\(name) must be positive, got \(value)")
        }
    }

    public static func nonNegative(op: String, _ values: KeyValuePairs<String, Int>) throws {
        for (name, value) in values where value < 0 {
            throw SynapseError.invalidArgument(op: op, message: "\(name) must not be negative, got \(value)")
        }
    }

    /// Sizes that fit the 32-bit arguments of the kernels, and whose products (element counts) do not
    /// overflow.
    public static func sizes(op: String, _ values: KeyValuePairs<String, Int>, products: [[Int]]) throws {
        for (name, value) in values where value > Int(Int32.max) {
            throw SynapseError.invalidArgument(op: op, message: "\(name) = \(value) exceeds 2^31 - 1")
        }
        for factors in products {
            var total = 1, overflow = false
            for f in factors where !overflow { (total, overflow) = total.multipliedReportingOverflow(by: f) }
            if overflow {
                throw SynapseError.invalidArgument(op: op, message: "\(factors.map(String.init).joined(separator: " x ")) elements overflow")
            }
        }
    }

    /// `buffer` belongs to `backend`, holds `dtype`, and has room for `count` elements from `offset`.
    public static func buffer(_ buffer: Buffer, _ name: String, op: String, on backend: Backend,
                              count: Int, offset: Int = 0, dtype: DType = .float32) throws {
        guard backend.owns(buffer) else {
            throw SynapseError.foreignBuffer(op: op, buffer: name, expected: backend.name)
        }
        guard buffer.dtype == dtype else {
            throw SynapseError.shapeMismatch(op: op, message: "\(name) holds \(buffer.dtype), expected \(dtype)")
        }
        guard offset >= 0 else {
            throw SynapseError.invalidArgument(op: op, message: "\(name) offset must not be negative, got \(offset)")
        }
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard count >= 0, !overflow, end <= buffer.count else {
            throw SynapseError.shapeMismatch(op: op, message:
                "\(name) needs \(count) elements from offset \(offset) but holds \(buffer.count)")
        }
    }

    /// Row-major GEMM: `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`.
    public static func gemm(on backend: Backend, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            a: Buffer, aOffset: Int, lda: Int, b: Buffer, bOffset: Int, ldb: Int,
                            c: Buffer, cOffset: Int, ldc: Int) throws {
        let op = "gemm"
        try positive(op: op, ["m": m, "n": n, "k": k])
        try matrix(a, "A", rows: transA ? k : m, cols: transA ? m : k, offset: aOffset, ld: lda, on: backend)
        try matrix(b, "B", rows: transB ? n : k, cols: transB ? k : n, offset: bOffset, ld: ldb, on: backend)
        try matrix(c, "C", rows: m, cols: n, offset: cOffset, ld: ldc, on: backend)
        try distinct(op: op, [("A", a), ("C", c)])
        try distinct(op: op, [("B", b), ("C", c)])
    }

    private static func matrix(_ m: Buffer, _ name: String, rows: Int, cols: Int, offset: Int, ld: Int,
                               on backend: Backend) throws {
        guard ld >= cols else {
            throw SynapseError.invalidArgument(op: "gemm", message:
                "leading dimension of \(name) is \(ld), less than its \(cols) columns")
        }
        let (span, overflow) = (rows - 1).multipliedReportingOverflow(by: ld)
        guard !overflow, span <= Int(Int32.max) else {
            throw SynapseError.invalidArgument(op: "gemm", message: "\(name) spans more than 2^31 elements (\(rows) rows of stride \(ld))")
        }
        try buffer(m, name, op: "gemm", on: backend, count: span + cols, offset: offset)
    }

    /// A copy of `count` elements between two buffers of one element type; overlapping ranges of one
    /// buffer are refused, because OpenCL cannot copy them.
    public static func copy(on backend: Backend, source: Buffer, sourceOffset: Int, destination: Buffer,
                            destinationOffset: Int, count: Int) throws {
        let op = "copy"
        try positive(op: op, ["count": count])
        try buffer(source, "source", op: op, on: backend, count: count, offset: sourceOffset, dtype: source.dtype)
        try buffer(destination, "destination", op: op, on: backend, count: count, offset: destinationOffset,
                   dtype: source.dtype)
        if source === destination, abs(sourceOffset - destinationOffset) < count {
            throw SynapseError.invalidArgument(op: op, message:
                "source range \(sourceOffset)..<\(sourceOffset + count) overlaps destination range \(destinationOffset)..<\(destinationOffset + count) of the same buffer")
        }
    }

    /// The ops that read neighbouring elements cannot run in place: refuse one buffer in two roles.
    public static func distinct(op: String, _ buffers: [(String, Buffer)]) throws {
        for i in buffers.indices {
            for j in buffers.indices where j > i && buffers[i].1 === buffers[j].1 {
                throw SynapseError.invalidArgument(op: op, message:
                    "\(buffers[i].0) and \(buffers[j].0) are the same buffer; this op cannot run in place")
            }
        }
    }

    public static func elementwise(on backend: Backend, op: String, count: Int,
                                   _ buffers: KeyValuePairs<String, Buffer>) throws {
        try positive(op: op, ["count": count])
        for (name, b) in buffers { try buffer(b, name, op: op, on: backend, count: count) }
    }

    public static func probability(op: String, _ p: Float) throws {
        guard p >= 0, p < 1 else {
            throw SynapseError.invalidArgument(op: op, message: "drop probability must be in [0, 1), got \(p)")
        }
    }
}
