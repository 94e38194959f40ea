/// Dense linear algebra.
public protocol BLASKernels {
    func uncheckedGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: Tensor, lda: Int,
                       b: Tensor, ldb: Int, beta: Float, c: Tensor, ldc: Int) throws
}

extension Backend {
    /// `C = alpha * op(A) * op(B) + beta * C`, row-major, BLAS conventions: `op(A)` is `m x k`, `op(B)` is
    /// `k x n`, `C` is `m x n`, each matrix starting at its view's offset with rows `ld` elements apart. With
    /// `beta == 0`, C is overwritten (garbage or NaN in C does not leak into the result). A and B may share a
    /// buffer with C as long as their elements do not overlap.
    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: Tensor, lda: Int,
                     b: Tensor, ldb: Int, beta: Float, c: Tensor, ldc: Int) throws {
        let op = "gemm"
        try Check.positive(op: op, ["m": m, "n": n, "k": k])
        let a = try Check.matrix(a, "A", rows: transA ? k : m, cols: transA ? m : k, ld: lda, on: self)
        let b = try Check.matrix(b, "B", rows: transB ? n : k, cols: transB ? k : n, ld: ldb, on: self)
        let c = try Check.matrix(c, "C", rows: m, cols: n, ld: ldc, on: self)
        try Check.disjoint(op: op, [("A", a), ("C", c)])
        try Check.disjoint(op: op, [("B", b), ("C", c)])
        try uncheckedGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                          ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

extension Check {
    /// A `rows x cols` matrix with leading dimension `ld` at the start of `view`; returns the part of the view
    /// it spans, so that aliasing is judged on the elements the GEMM touches.
    static func matrix(_ view: Tensor, _ name: String, rows: Int, cols: Int, ld: Int, on backend: Backend) throws -> Tensor {
        guard ld >= cols else {
            throw SynapseError.invalidArgument(op: "gemm", message:
                "leading dimension of \(name) is \(ld), less than its \(cols) columns")
        }
        let (span, overflow) = (rows - 1).multipliedReportingOverflow(by: ld)
        guard !overflow, span <= Int(Int32.max) else {
            throw SynapseError.invalidArgument(op: "gemm", message: "\(name) spans more than 2^31 elements (\(rows) rows of stride \(ld))")
        }
        try Check.view(view, name, op: "gemm", on: backend, count: span + cols)
        return view.elements(0..<span + cols)
    }
}
