import Foundation
import SynapseCore

/// Host memory for one CPU tensor: 64-byte aligned so that every SIMD load of a row start is aligned.
final class CPUBuffer: Buffer, @unchecked Sendable {
    let memory: UnsafeMutableRawPointer

    init(count: Int, dtype: DType, backend: CPUBackend) throws {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        var memory: UnsafeMutableRawPointer?
        guard !overflow, posix_memalign(&memory, 64, bytes) == 0, let memory else {
            throw SynapseError.outOfMemory(device: "cpu", requestedBytes: overflow ? Int.max : bytes,
                                           limitBytes: Int(clamping: ProcessInfo.processInfo.physicalMemory))
        }
        // Zeroing binds the memory to its element type once, and makes a fresh buffer deterministic.
        switch dtype {
        case .float32: memory.initializeMemory(as: Float.self, repeating: 0, count: count)
        case .int32: memory.initializeMemory(as: Int32.self, repeating: 0, count: count)
        }
        self.memory = memory
        super.init(count: count, dtype: dtype, backend: backend)
    }

    deinit { free(memory) }

    var floats: UnsafeMutablePointer<Float> { memory.assumingMemoryBound(to: Float.self) }
    var int32s: UnsafeMutablePointer<Int32> { memory.assumingMemoryBound(to: Int32.self) }
}
