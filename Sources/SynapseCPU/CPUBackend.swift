import CBLAS
import Foundation
import SynapseCore

/// The reference backend: host memory, OpenBLAS for GEMM, every other op a multi-threaded loop.
/// Safe to share between threads: the ops keep no state between calls, and OpenBLAS, whose thread count
/// is process-wide, is entered by one call at a time (`blasLock`).
public final class CPUBackend: Backend {
    /// Worker threads for OpenBLAS and for this backend's own loops.
    public let threads: Int
    /// OpenBLAS's build configuration: version, target CPU, thread limit.
    public let blasDescription: String

    public init(threads: Int? = nil) throws {
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard threads > 0 else {
            throw SynapseError.invalidArgument(op: "CPUBackend", message: "needs at least one thread, got \(threads)")
        }
        self.threads = threads
        blasDescription = String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
    }

    /// OpenBLAS's thread count is one setting for the whole process, which a call changes while another
    /// thread's call may be running; so every backend's GEMMs take turns.
    private static let blasLock = NSLock()

    public var name: String { "cpu" }

    /// GEMMs with m * n * k below this run on the calling thread alone.
    static let singleThreadedGemmVolume = 1 << 20

    /// 1 MiB of columns: a chunk's columns, filter and output stay in the L2 cache between im2col and GEMM.
    public var convolutionChunkElements: Int { 1 << 18 }

    public var deviceDescription: String {
        "CPU, \(blasDescription), \(threads) thread\(threads == 1 ? "" : "s")"
    }

    /// The memory behind `buffer`, which `Check.buffer` (through `owns`) has matched to this backend.
    func floats(_ buffer: Buffer) -> UnsafeMutablePointer<Float> { cpuBuffer(buffer).floats }

    func int32s(_ buffer: Buffer) -> UnsafeMutablePointer<Int32> { cpuBuffer(buffer).int32s }

    func cpuBuffer(_ buffer: Buffer) -> CPUBuffer { buffer as! CPUBuffer }

    // MARK: Memory

    public func owns(_ buffer: Buffer) -> Bool { buffer.backend === self && buffer is CPUBuffer }

    public func allocate(_ count: Int, _ dtype: DType) throws -> Buffer {
        try Check.positive(op: "allocate", ["count": count])
        return try CPUBuffer(count: count, dtype: dtype, backend: self)
    }

    public func upload(_ values: [Float], to buffer: Buffer, offset: Int) throws {
        try Check.buffer(buffer, "buffer", op: "upload", on: self, count: values.count, offset: offset)
        let p = floats(buffer)
        values.withUnsafeBufferPointer { values in
            if let base = values.baseAddress { (p + offset).update(from: base, count: values.count) }
        }
    }

    public func uploadInt32(_ values: [Int32], to buffer: Buffer, offset: Int) throws {
        try Check.buffer(buffer, "buffer", op: "upload", on: self, count: values.count, offset: offset, dtype: .int32)
        let p = int32s(buffer)
        values.withUnsafeBufferPointer { values in
            if let base = values.baseAddress { (p + offset).update(from: base, count: values.count) }
        }
    }

    public func download(_ buffer: Buffer, offset: Int, count: Int) throws -> [Float] {
        try Check.buffer(buffer, "buffer", op: "download", on: self, count: count, offset: offset)
        return Array(UnsafeBufferPointer(start: floats(buffer) + offset, count: count))
    }

    public func downloadInt32(_ buffer: Buffer, offset: Int, count: Int) throws -> [Int32] {
        try Check.buffer(buffer, "buffer", op: "downloadInt32", on: self, count: count, offset: offset, dtype: .int32)
        return Array(UnsafeBufferPointer(start: int32s(buffer) + offset,
                                         count: count))
    }

    public func copy(from source: Buffer, offset sourceOffset: Int, to destination: Buffer,
                     offset destinationOffset: Int, count: Int) throws {
        try Check.copy(on: self, source: source, sourceOffset: sourceOffset, destination: destination,
                       destinationOffset: destinationOffset, count: count)
        let from = cpuBuffer(source).memory
        let to = cpuBuffer(destination).memory
        let size = source.dtype.byteSize
        memcpy(to + destinationOffset * size, from + sourceOffset * size, count * size)
    }

    public func fill(_ buffer: Buffer, value: Float, offset: Int, count: Int) throws {
        try Check.fill(on: self, buffer: buffer, offset: offset, count: count)
        let p = floats(buffer) + offset
        parallelFor(count) { r in (p + r.lowerBound).update(repeating: value, count: r.count) }
    }

    // MARK: Linear algebra

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: Buffer, aOffset: Int, lda: Int, b: Buffer, bOffset: Int, ldb: Int,
                     beta: Float, c: Buffer, cOffset: Int, ldc: Int) throws {
        let op = "gemm"
        try Check.gemm(on: self, transA: transA, transB: transB, m: m, n: n, k: k, a: a, aOffset: aOffset, lda: lda,
                       b: b, bOffset: bOffset, ldb: ldb, c: c, cOffset: cOffset, ldc: ldc)
        let sizes = try [m, n, k, lda, ldb, ldc].map { value -> Int32 in
            guard let value = Int32(exactly: value) else {
                throw SynapseError.invalidArgument(op: op, message: "\(value) exceeds OpenBLAS's 32-bit sizes")
            }
            return value
        }
        let a = floats(a), b = floats(b), c = floats(c)
        // Below about 2 MFLOP, waking OpenBLAS's threads (which then spin in sched_yield until the next call)
        // costs more than the second core saves: LeNet spent a quarter of its step in the scheduler.
        // The count is process-wide in OpenBLAS, so it is set on every call.
        let wanted = m * n * k < Self.singleThreadedGemmVolume ? 1 : Int32(clamping: threads)
        Self.blasLock.lock()
        defer { Self.blasLock.unlock() }
        if openblas_get_num_threads() != wanted { openblas_set_num_threads(wanted) }
        // OpenBLAS stores zeros rather than scaling C when beta == 0, so NaN in C cannot leak through.
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    sizes[0], sizes[1], sizes[2], alpha, a + aOffset, sizes[3], b + bOffset, sizes[4],
                    beta, c + cOffset, sizes[5])
    }

    public func synchronize() throws {}
}
