import CBLAS
import CVector
import Foundation
import SynapseCore

/// The reference backend: host memory, OpenBLAS for GEMM, every other op a multi-threaded loop.
/// Safe to share between threads: the ops keep no state between calls, and OpenBLAS runs single-threaded on
/// whichever thread calls it. A large GEMM is cut into column (or row) blocks, one OpenBLAS call each, run like
/// every other parallel loop on the backend's own threads (`WorkerPool`).
public final class CPUBackend: Backend {
    /// Threads for this backend's work: the caller's and `threads - 1` of its own.
    public let threads: Int
    /// OpenBLAS's build configuration: version, target CPU, thread limit.
    public let blasDescription: String

    public init(threads: Int? = nil) throws {
        let threads = threads ?? min(ProcessInfo.processInfo.activeProcessorCount, Self.maximumThreads)
        guard (1...Self.maximumThreads).contains(threads) else {
            throw SynapseError.invalidArgument(op: "CPUBackend", message:
                "needs 1...\(Self.maximumThreads) threads, got \(threads)")
        }
        if let failure = synapse_blas_failure() {
            throw SynapseError.libraryUnavailable(name: "OpenBLAS", message: String(cString: failure))
        }
        self.threads = threads
        pool = WorkerPool(workers: threads - 1)
        let core = String(cString: synapse_blas_core()).lowercased()
        hasSmallMatrixKernels = ["skylakex", "cooperlake", "sapphirerapids"].contains(core)
        let config = String(cString: synapse_blas_config()).trimmingCharacters(in: .whitespaces)
        let chosen = synapse_blas_chosen_core().map { ", \(String(cString: $0)) kernels for this AVX-512 processor" } ?? ""
        blasDescription = config + chosen
    }

    let pool: WorkerPool

    /// Whether OpenBLAS's kernels include those that multiply small matrices without packing them first (its
    /// SkylakeX-class kernels); see `unpackedColumns`.
    let hasSmallMatrixKernels: Bool

    /// The most threads a backend starts: each is an OS thread of its own.
    public static let maximumThreads = 1024

    public var name: String { "cpu" }

    /// GEMMs with m * n * k below this run on the calling thread alone.
    static let singleThreadedGemmVolume = 1 << 20

    public var properties: DeviceProperties {
        DeviceProperties(execution: .immediate, maxBufferBytes: Int(clamping: ProcessInfo.processInfo.physicalMemory),
                         concurrentParts: threads)
    }

    public var deviceDescription: String {
        "CPU, \(blasDescription), loops in \(Self.vectorInstructions), \(threads) thread\(threads == 1 ? "" : "s")"
    }

    /// The instructions of the backend's loops in C (the random draws, the exp-based activations, the LSTM cell, a
    /// dense layer's bias gradient): "AVX-512", "AVX2" or "baseline", the best the processor has unless
    /// `useVectorInstructions` chose others.
    public static var vectorInstructions: String { String(cString: synapse_vector_instructions()) }

    /// Makes the loops in C use `name`'s instructions (one of `vectorInstructions`' values), so that tests can
    /// compare them; false, changing nothing, when the processor lacks them. Every CPU backend is affected, so
    /// nothing may run on one meanwhile. Away from AVX-512 the products of `readsBInPlace` go to OpenBLAS, with
    /// other bits.
    public static func useVectorInstructions(_ name: String) -> Bool { synapse_vector_select(name) == 1 }

    /// The memory of `view`, whose buffer the front-end's checks (through `owns`) have matched to this backend.
    func floats(_ view: Tensor) -> UnsafeMutablePointer<Float> { cpuBuffer(view.buffer).floats + view.offset }

    func int32s(_ view: Tensor) -> UnsafeMutablePointer<Int32> { cpuBuffer(view.buffer).int32s + view.offset }

    func cpuBuffer(_ buffer: Buffer) -> CPUBuffer { buffer as! CPUBuffer }

    // MARK: Memory

    public func owns(_ buffer: Buffer) -> Bool { buffer.backend === self && buffer is CPUBuffer }

    public func uncheckedAllocate(_ count: Int, _ dtype: DType) throws -> Buffer {
        try CPUBuffer(count: count, dtype: dtype, backend: self)
    }

    public func uncheckedUpload(_ values: UnsafeRawBufferPointer, to view: Tensor) throws {
        guard let base = values.baseAddress else { return }
        (cpuBuffer(view.buffer).memory + view.offset * view.dtype.byteSize).copyMemory(from: base, byteCount: values.count)
    }

    public func uncheckedDownload(_ view: Tensor, into values: UnsafeMutableRawBufferPointer) throws {
        guard let base = values.baseAddress else { return }
        base.copyMemory(from: cpuBuffer(view.buffer).memory + view.offset * view.dtype.byteSize, byteCount: values.count)
    }

    public func uncheckedCopy(from source: Tensor, to destination: Tensor) throws {
        let size = source.dtype.byteSize
        memcpy(cpuBuffer(destination.buffer).memory + destination.offset * size,
               cpuBuffer(source.buffer).memory + source.offset * size, source.count * size)
    }

    public func uncheckedFill(_ view: Tensor, value: Float) throws {
        let p = floats(view)
        parallelFor(view.count) { r in (p + r.lowerBound).update(repeating: value, count: r.count) }
    }

    // MARK: Linear algebra

    public func uncheckedGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: Tensor, lda: Int,
                              b: Tensor, ldb: Int, beta: Float, c: Tensor, ldc: Int) throws {
        let sizes = try [m, n, k, lda, ldb, ldc].map { value -> Int32 in
            guard let value = Int32(exactly: value) else {
                throw SynapseError.invalidArgument(op: "gemm", message: "\(value) exceeds OpenBLAS's 32-bit sizes")
            }
            return value
        }
        let a = floats(a), b = floats(b), c = floats(c)
        // Below about 2 MFLOP a second thread costs more than it saves. Every block packs the whole operand the
        // blocks share (A when C's columns are cut, B when its rows are), so cut along C's longer side, which shares
        // the smaller one. Inner edges fall on the nearest multiple of 16, whole register tiles of OpenBLAS's kernels.
        let blocks = PartThread.isPart || m * n * k < Self.singleThreadedGemmVolume ? 1 : threads
        let byColumns = n >= m, length = byColumns ? n : m
        let edges = (0...blocks).map { $0 == blocks ? length : min(length, ($0 * length / blocks + 8) / 16 * 16) }
        let columnsPerCall = blocks == 1 && byColumns
            ? unpackedColumns(transA: transA, transB: transB, m: m, n: n, k: k) : nil
        let inPlace = readsBInPlace(transA: transA, transB: transB, m: m, n: n, k: k, ldb: ldb)
        pool.run(blocks) { i in
            let (start, end) = (edges[i], edges[i + 1])
            guard end > start else { return }
            // OpenBLAS stores zeros rather than scaling C when beta == 0, so NaN in C cannot leak through.
            if inPlace && byColumns {
                synapse_gemm_in_place(transB ? 1 : 0, m, end - start, k, alpha, a, lda,
                                      b + (transB ? start * ldb : start), ldb, beta, c + start, ldc)
            } else if byColumns {
                let step = columnsPerCall ?? (end - start)
                for first in stride(from: start, to: end, by: step) {
                    synapse_sgemm(transA ? 1 : 0, transB ? 1 : 0, sizes[0], Int32(min(end - first, step)), sizes[2],
                                  alpha, a, sizes[3], b + (transB ? first * ldb : first), sizes[4], beta, c + first,
                                  sizes[5])
                }
            } else {
                synapse_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(end - start), sizes[1], sizes[2], alpha,
                              a + (transA ? start : start * lda), sizes[3], b, sizes[4], beta, c + start * ldc, sizes[5])
            }
        }
    }

    /// How many of C's columns one OpenBLAS call should take so that it multiplies without packing (nil: all of
    /// them), for a product that runs on one thread. OpenBLAS packs both operands for every call, and for a C of
    /// a few rows packing B costs about as much as the products. Its SkylakeX-class kernels skip the packing for
    /// products it deems small (`sgemm_small_kernel_permit_skylakex.c` in OpenBLAS 0.3.21, column-major): at most
    /// 10^6 multiply-adds, and with our B transposed (its A) at most 1,200 elements of C and K >= 32. A C of at
    /// most 32 rows (a convolution with few filters, an LSTM's time step for a part of the batch) is cut into
    /// blocks that small, a multiple of 16 columns (a vector register) where they are that wide, at least 8.
    /// Measured on one thread, the unpacked blocks took LeNet's and the LSTM's products from 25-80 to 85-110
    /// GFLOP/s; they lost with B untransposed and K above 512, where a narrow block strides through all of B's
    /// rows (25x512x2048: 72 -> 48 GFLOP/s), so those stay whole (or go to `readsBInPlace`'s loops), as do products
    /// with A transposed (not measured).
    /// A product shared out over threads keeps whole calls, so that the models whose GEMMs take the whole batch
    /// (a last batch of 32 included) compute what they did.
    func unpackedColumns(transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> Int? {
        guard hasSmallMatrixKernels, !transA, (1...32).contains(m), transB ? k >= 32 : (1...512).contains(k) else {
            return nil
        }
        let width = min(1_000_000 / (m * k), transB ? 1_200 / m : Int.max)
        guard width >= 8, width < n else { return nil }
        return width >= 16 ? width / 16 * 16 : width
    }

    /// Whether a product goes to `synapse_gemm_in_place` (Sources/CVector/gemm.c), which reads B where it lies,
    /// rather than to OpenBLAS, which packs B at every call: for C of at most 64 rows and a B of at least 2^20
    /// elements (4 MB, more than a core's L2 cache), whose packing costs a pass through memory that few rows do not
    /// repay. Those are an LSTM's recurrent products at each time step (its weight is 4 hidden x hidden: forward
    /// from 512 units, backward at 512, within the bounds below) and a wide dense layer's at small batches. The
    /// bounds keep the shapes where it was faster than OpenBLAS's SkylakeX kernels on one thread (`gemm-bench`
    /// times some in the backend). With B transposed (dot products of rows): K at least 512, below which the final
    /// folding of each tile's sums costs more than packing saved (0.8x at K = 256), and A at most 2^18 elements, as
    /// every four rows of B read all of A again and it must stay in cache. Without (panels of B's columns): K at
    /// most 2,048, so that a panel of 64 columns (64 K floats) stays in L2 while every block of A's rows reads it,
    /// and B's rows at most 1,024 floats apart (4,096 apart, AlexNet's fc8 backward at batch 16, ran at 0.9x: each
    /// row of a panel on a page of its own). Only while the loops in C run AVX-512 (`vectorInstructions`).
    func readsBInPlace(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, ldb: Int) -> Bool {
        guard !transA, m <= 64, n * k >= 1 << 20, synapse_gemm_in_place_available() == 1 else { return false }
        return transB ? k >= 512 && m * k <= 1 << 18 : k <= 2048 && ldb <= 1024
    }

    public func synchronize() throws {}
}
