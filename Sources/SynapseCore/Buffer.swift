/// Element types a device buffer can hold.
public enum DType: String, Sendable {
    case float32, int32

    public var byteSize: Int { 4 }
}

/// Memory owned by one backend. Backends subclass it; model code only passes it around.
/// The memory is released when the last reference goes away.
open class Buffer {
    public let count: Int
    public let dtype: DType
    /// The backend that allocated this buffer: a buffer is only valid on its own backend.
    public let owner: ObjectIdentifier

    public init(count: Int, dtype: DType, owner: ObjectIdentifier) {
        self.count = count
        self.dtype = dtype
        self.owner = owner
    }

    public var byteCount: Int { count * dtype.byteSize }
}
