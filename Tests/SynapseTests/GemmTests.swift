import Synapse
import XCTest

/// One GEMM call with its inputs: every matrix stored at an offset with a leading dimension, inside a
/// buffer that may have room before, between and after the rows.
struct GemmProblem {
    var transA = false, transB = false
    var m: Int, n: Int, k: Int
    var alpha: Float = 1, beta: Float = 0
    var aOffset = 0, bOffset = 0, cOffset = 0
    var lda: Int, ldb: Int, ldc: Int
    var a: [Float] = [], b: [Float] = [], c: [Float] = []

    /// Random A and B; C is NaN when beta is 0 (it must be overwritten, not read), else random.
    /// `padded` adds offsets, leading dimensions beyond the row length, and elements after the last row.
    init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float, padded: Bool,
         random: inout TestRandom) {
        self.transA = transA; self.transB = transB
        self.m = m; self.n = n; self.k = k; self.alpha = alpha; self.beta = beta
        let aCols = transA ? m : k, bCols = transB ? k : n
        lda = aCols + (padded ? 3 : 0); ldb = bCols + (padded ? 1 : 0); ldc = n + (padded ? 2 : 0)
        if padded { (aOffset, bOffset, cOffset) = (5, 7, 11) }
        let tail = padded ? 4 : 0
        a = random.floats(aOffset + ((transA ? k : m) - 1) * lda + aCols + tail)
        b = random.floats(bOffset + ((transB ? n : k) - 1) * ldb + bCols + tail)
        let cCount = cOffset + (m - 1) * ldc + n + tail
        c = beta == 0 ? [Float](repeating: .nan, count: cCount) : random.floats(cCount)
    }

    var shape: String {
        "transA=\(transA) transB=\(transB) m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) "
            + "offsets=\(aOffset),\(bOffset),\(cOffset) ld=\(lda),\(ldb),\(ldc)"
    }

    /// Index in `c` of element (i, j) of the m x n result.
    func cIndex(_ i: Int, _ j: Int) -> Int { cOffset + i * ldc + j }

    /// Indices of `c` outside the m x n window: before the offset, between rows, after the last row.
    var outsideIndices: [Int] {
        var inside = Set<Int>()
        for i in 0..<m { for j in 0..<n { inside.insert(cIndex(i, j)) } }
        return c.indices.filter { !inside.contains($0) }
    }

    /// The m x n result in Float64, row by row, with the magnitude of its terms for the tolerance.
    func reference() -> [SumReference] {
        // op(X)(row, col) is x[offset + row * rowStride + col * colStride].
        let (aRow, aCol) = transA ? (1, lda) : (lda, 1)
        let (bRow, bCol) = transB ? (1, ldb) : (ldb, 1)
        var result = [SumReference]()
        result.reserveCapacity(m * n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                let a = a.baseAddress! + aOffset, b = b.baseAddress! + bOffset
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0, magnitude = 0.0
                        for p in 0..<k {
                            let product = Double(a[i * aRow + p * aCol]) * Double(b[p * bRow + j * bCol])
                            sum += product
                            magnitude += abs(product)
                        }
                        let old = beta == 0 ? 0 : Double(beta) * Double(c[cIndex(i, j)])
                        result.append(SumReference(value: Double(alpha) * sum + old,
                                                   scale: abs(Double(alpha)) * magnitude + abs(old)))
                    }
                }
            }
        }
        return result
    }

    /// Runs the GEMM on `backend` and returns the whole C buffer.
    func run(on backend: Backend) throws -> [Float] {
        let aBuffer = try backend.tensor(a), bBuffer = try backend.tensor(b), cBuffer = try backend.tensor(c)
        try backend.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: aBuffer.elements(aOffset..<aBuffer.count), lda: lda, b: bBuffer.elements(bOffset..<bBuffer.count), ldb: ldb, beta: beta, c: cBuffer.elements(cOffset..<cBuffer.count), ldc: ldc)
        return try backend.download(cBuffer)
    }
}

final class GemmTests: SynapseTestCase {
    /// Checks the window against the Float64 reference and that nothing outside it changed.
    func check(_ problem: GemmProblem, on backends: [Backend]? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let expected = problem.reference()
        let outside = problem.outsideIndices
        forEachBackend(backends, file: file, line: line) { backend in
            let c = try problem.run(on: backend)
            let call = OpCall(backend, "gemm", problem.shape)
            var window = [Float]()
            for i in 0..<problem.m { for j in 0..<problem.n { window.append(c[problem.cIndex(i, j)]) } }
            assertClose(window, expected, k: problem.k + 1, call, "C window (row-major m x n)", file: file, line: line)
            assertBitwiseEqual(outside.map { c[$0] }, outside.map { problem.c[$0] }, call,
                               "C outside the window (offset, ldc padding, tail)", file: file, line: line)
        }
    }

    /// Sizes of 1, odd sizes, and sizes just off every tile multiple, each with all four transposes,
    /// in three forms: plain beta 0 over NaN; offsets and padded leading dimensions with beta 0; and the
    /// same with alpha != 1 and beta != 0 over known values.
    ///
    /// Under `SYNAPSE_TEST_SHAPES=small`, sized for the GPU tiles (the GPU class of `GemmPlan.defaults`): for each of
    /// the few-rows (16x128), few-columns (128x16) and medium (64x64) tiles, a product with a whole tile (the
    /// unchecked fast path), a ragged tile and a K tail; and sizes of 1 and products smaller than a tile.
    func testOddShapesAllTransposes() {
        var random = TestRandom(seed: 1)
        let shapes = TestShapes.pick(
            full: [(1, 1, 1), (3, 7, 33), (7, 3, 1), (257, 33, 255), (1, 257, 7), (129, 130, 131), (255, 1, 257)],
            small: [(1, 1, 1), (3, 7, 33), (7, 3, 1), (16, 129, 17), (129, 16, 17), (65, 66, 17)])
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta, padded) in [(Float(1), Float(0), false), (0.5, 0, true), (-1.5, 0.75, true)] {
                        check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
                                          padded: padded, random: &random))
                    }
                }
            }
        }
    }

    /// Several full tiles plus ragged edges. Two transpose combinations keep the Float64 reference
    /// affordable in debug builds; the odd shapes above cover all four.
    ///
    /// Under `SYNAPSE_TEST_SHAPES=small`: 3x3 large tiles with a K tail, only where an OpenCL backend's
    /// large tile differs from its medium one (which the odd shapes cover); else skipped.
    func testLargerShape() throws {
        if TestShapes.small {
            let plans = try TestBackends.all.get().compactMap { ($0 as? OpenCLBackend)?.gemmPlan }
            try TestShapes.skipWhenSmall("the large GEMM tile is the medium one, which testOddShapesAllTransposes checks",
                                         if: plans.allSatisfy { $0.large == $0.medium })
        }
        var random = TestRandom(seed: 2)
        let (m, n, k) = TestShapes.pick(full: (300, 200, 500), small: (129, 130, 17))
        for (transA, transB) in [(false, false), (true, true)] {
            check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, beta: 0.5,
                              padded: true, random: &random))
        }
    }

    /// The CPU backend cuts a large product into blocks of C's columns (or rows, when C is taller than wide), one
    /// per thread, with edges on multiples of 16: three threads give ragged and empty blocks, in every transpose.
    func testCPUBlocksOfALargeProduct() throws {
        let backend = try CPUBackend(threads: 3)
        var random = TestRandom(seed: 5)
        for (m, n, k) in [(40, 130, 300), (130, 40, 300), (20, 20, 2700), (17, 500, 129)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, beta: -0.5,
                                      padded: true, random: &random), on: [backend])
                }
            }
        }
    }

    /// On one thread the CPU backend cuts a product of at most 32 rows into blocks of C's columns that OpenBLAS's
    /// SkylakeX-class kernels multiply without packing (`CPUBackend.unpackedColumns`): blocks of 48 and 16 columns
    /// with B transposed, of 112 and 6,656 without, each with a ragged last block; and products it leaves whole
    /// (B untransposed with K > 512, A transposed). With other OpenBLAS kernels all run whole, and the test checks
    /// only the products.
    func testCPUProductsOfFewRowsInBlocks() throws {
        let backend = try CPUBackend(threads: 1)
        var random = TestRandom(seed: 6)
        let products = [(false, true, 25, 300, 128), (false, true, 6, 40, 9000), (false, false, 16, 200, 512),
                        (false, false, 6, 7000, 25), (false, false, 16, 300, 600), (true, false, 20, 100, 40)]
        for (transA, transB, m, n, k) in products {
            for (alpha, beta) in [(Float(1), Float(0)), (-1.5, 0.75)] {
                check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
                                  padded: true, random: &random), on: [backend])
            }
        }
    }

    /// Products of few rows with a B of at least 2^20 elements go to the C loops that read B in place
    /// (`CPUBackend.readsBInPlace`) while those run AVX-512: with B transposed (dot products of 16 lanes folded in a
    /// tree) and without (one chain of multiply-adds per element in K's order). Ragged tiles of rows and columns, a
    /// K tail, padded leading dimensions, alpha and beta, C of NaN under beta 0. Where the loops run AVX-512 each
    /// element's bits are those of that order, computed here one element at a time, on one thread and on three
    /// (whose blocks cut the 64-column panels); elsewhere the products go to OpenBLAS and are checked against the
    /// Float64 reference only, as they are everywhere.
    func testCPUProductsReadingBInPlace() throws {
        let backends = try [CPUBackend(threads: 1), CPUBackend(threads: 3)]
        let inPlace = CPUBackend.vectorInstructions == "AVX-512"
        if !inPlace { print("\(name): the loops in C run \(CPUBackend.vectorInstructions): products checked against Float64 only") }
        var random = TestRandom(seed: 7)
        let products = [(true, 50, 2053, 517), (true, 1, 2048, 512), (true, 64, 1030, 1024),
                        (false, 13, 600, 1800), (false, 64, 1000, 1100), (false, 1, 520, 2048)]
        for (transB, m, n, k) in products {
            for (alpha, beta) in [(Float(1), Float(0)), (-1.5, 0.75)] {
                let problem = GemmProblem(transA: false, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
                                          padded: true, random: &random)
                check(problem, on: backends)
                guard inPlace else { continue }
                let expected = inPlaceOrder(problem)
                for backend in backends {
                    let c = try problem.run(on: backend)
                    let window = (0..<m).flatMap { i in (0..<n).map { j in c[problem.cIndex(i, j)] } }
                    assertBitwiseEqual(window, expected, OpCall(backend, "gemm", problem.shape),
                                       "C in the in-place loops' order")
                }
            }
        }
        // Alpha 0 scales C by beta without reading A or B, as BLAS does: an infinity in A changes nothing.
        for beta: Float in [0, 0.5] {
            var problem = GemmProblem(transA: false, transB: true, m: 3, n: 2048, k: 512, alpha: 0, beta: beta,
                                      padded: false, random: &random)
            problem.a[7] = .infinity
            let expected = (0..<3).flatMap { i in (0..<2048).map { j in beta == 0 ? 0 : beta * problem.c[problem.cIndex(i, j)] } }
            for backend in backends {
                let c = try problem.run(on: backend)
                assertBitwiseEqual(c, expected, OpCall(backend, "gemm", problem.shape), "C scaled by beta alone")
            }
        }
    }

    /// The in-place products with every matrix ending where its buffer ends (no padding, nothing after the last row),
    /// so that a read past a row's end runs off the buffer: ragged tiles and panels and K tails, small enough for
    /// AddressSanitizer (`scripts/sanitizers.sh`), which catches such a read.
    func testCPUProductsReadingBInPlaceAtBufferEnds() throws {
        let backends = try [CPUBackend(threads: 1), CPUBackend(threads: 2)]
        var random = TestRandom(seed: 8)
        for (transB, m, n, k) in [(true, 1, 2048, 517), (true, 5, 2051, 513), (false, 1, 520, 2048), (false, 7, 1000, 1100)] {
            check(GemmProblem(transA: false, transB: transB, m: m, n: n, k: k, alpha: 1, beta: 0, padded: false,
                              random: &random), on: backends)
        }
    }

    /// The m x n result as `synapse_gemm_in_place` orders its operations (Sources/CVector/gemm.c).
    func inPlaceOrder(_ p: GemmProblem) -> [Float] {
        func a(_ i: Int, _ q: Int) -> Float { p.a[p.aOffset + i * p.lda + q] }
        func b(_ q: Int, _ j: Int) -> Float { p.transB ? p.b[p.bOffset + j * p.ldb + q] : p.b[p.bOffset + q * p.ldb + j] }
        var result = [Float]()
        for i in 0..<p.m {
            for j in 0..<p.n {
                var sum: Float = 0
                if p.transB {
                    // Lane l takes the products at q = l mod 16; the lanes fold 8, 4, 2 and 1 apart.
                    var lanes = [Float](repeating: 0, count: 16)
                    for q in 0..<p.k { lanes[q % 16] = lanes[q % 16].addingProduct(a(i, q), b(q, j)) }
                    // The last vector's lanes past K take 0 x 0 (which turns a -0 into +0).
                    for q in p.k..<(p.k + 15) / 16 * 16 { lanes[q % 16] = lanes[q % 16].addingProduct(0, 0) }
                    for width in [8, 4, 2, 1] { for l in 0..<width { lanes[l] = lanes[l] + lanes[l + width] } }
                    sum = lanes[0]
                } else {
                    for q in 0..<p.k { sum = sum.addingProduct(a(i, q), b(q, j)) }
                }
                result.append(p.beta == 0 ? p.alpha * sum : p.alpha * sum + p.beta * p.c[p.cIndex(i, j)])
            }
        }
        return result
    }

    /// Products with few output tiles and a deep K (a convolution's weight gradient) are split along K
    /// on OpenCL, the slices' partial products added by a second kernel.
    ///
    /// Under `SYNAPSE_TEST_SHAPES=small`: one product per narrow tile, each in one transpose and one beta,
    /// just deep enough to split (K >= 512, see `sliceDepth`) with a ragged last slice; on a device with
    /// one compute unit, as Oclgrind's, a product splits only when it fits in one tile.
    func testSplitKProducts() {
        var random = TestRandom(seed: 4)
        if TestShapes.small {
            for (m, n, k, transA, transB, beta) in [(6, 25, 520, false, true, Float(0)), (40, 9, 520, true, false, -0.5)] {
                check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, beta: beta,
                                  padded: true, random: &random))
            }
            return
        }
        for (m, n, k) in [(6, 25, 3000), (3, 200, 1100), (40, 9, 777)] {
            for (transA, transB) in [(false, true), (true, false)] {
                for beta: Float in [0, -0.5] {
                    check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, beta: beta,
                                      padded: true, random: &random))
                }
            }
        }
    }

    /// PoCL runs the CPU tile parameters; GPUs get others. Run those too, and a small configuration with
    /// scalar loads (VWN 1), so that CI on a CPU-only machine still checks the kernel as GPUs compile it.
    ///
    /// Under `SYNAPSE_TEST_SHAPES=small` (run on Oclgrind, a GPU, whose default plan the other tests use):
    /// the scalar configuration only, with a whole tile, ragged tiles and a K tail.
    func testOtherTileParameters() throws {
        var random = TestRandom(seed: 3)
        let scalar = GemmParameters(mwg: 32, nwg: 16, kwg: 8, mdimc: 8, ndimc: 4, vwn: 1)
        let configurations = TestShapes.pick(full: [GemmParameters.defaults(for: .gpu), scalar], small: [scalar])
        let backends = try openCLDevices().flatMap { device in
            try configurations.map { try OpenCLBackend(device: device, gemm: $0) as Backend }
        }
        for (m, n, k) in TestShapes.pick(full: [(1, 1, 1), (129, 130, 131), (33, 65, 17)], small: [(1, 1, 1), (33, 17, 9)]) {
            for transA in [false, true] {
                for transB in [false, true] {
                    check(GemmProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1.25, beta: -0.5,
                                      padded: true, random: &random), on: backends)
                }
            }
        }
    }
}
