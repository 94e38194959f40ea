import Synchronization

/// Element types a device buffer can hold.
public enum DType: String, Sendable {
    case float32, int32

    public var byteSize: Int { 4 }
}

/// Memory owned by one backend. Backends subclass it; model code only passes it around, through views
/// (`Tensor`). The memory is released when the last reference goes away. A fresh buffer holds zeros.
/// `Sendable` as its backend is: its own fields never change, and its contents are read and written only
/// through the backend's calls.
open class Buffer: @unchecked Sendable {
    public let count: Int
    public let dtype: DType
    /// The backend that allocated this buffer: a buffer is only valid there. Holding it keeps the
    /// backend (and its OpenCL context) alive as long as the buffer is.
    public let backend: Backend

    public init(count: Int, dtype: DType, backend: Backend) {
        self.count = count
        self.dtype = dtype
        self.backend = backend
        Self.created.add(1, ordering: .relaxed)
    }

    public var byteCount: Int { count * dtype.byteSize }

    private static let created = Atomic<Int>(0)

    /// Buffers allocated in this process so far, on every backend: benchmarks check that a training step
    /// allocates nothing after its first.
    public static var allocationCount: Int { created.load(ordering: .relaxed) }
}
