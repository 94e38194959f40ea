import SynapseCore

/// A buffer seen as an NCHW (or `[batch, features]`) array. The first dimension is always the batch.
/// Tensors are views: several may share one buffer (Flatten reshapes without copying).
public struct Tensor {
    public let buffer: Buffer
    public let shape: [Int]

    public init(_ buffer: Buffer, shape: [Int]) {
        precondition(shape.reduce(1, *) <= buffer.count, "shape \(shape) exceeds a buffer of \(buffer.count) elements")
        self.buffer = buffer
        self.shape = shape
    }

    public var batch: Int { shape[0] }
    /// The shape of one sample (everything after the batch dimension).
    public var sampleShape: [Int] { Array(shape.dropFirst()) }
    public var count: Int { shape.reduce(1, *) }
    public var backend: Backend { buffer.backend }

    public func reshaped(_ shape: [Int]) -> Tensor { Tensor(buffer, shape: shape) }
}

/// Formats a shape the way error messages and summaries show it: `[6, 14, 14]`.
public func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

/// Returns `buffer` when it already holds exactly `count` elements, else a fresh one. Layers keep their
/// outputs between steps and reallocate only when the batch size changes.
func reuse(_ buffer: inout Buffer?, count: Int, dtype: DType = .float32, on backend: Backend) throws -> Buffer {
    if let existing = buffer, existing.count == count, existing.dtype == dtype, existing.backend === backend {
        return existing
    }
    let fresh = try backend.allocate(count, dtype)
    buffer = fresh
    return fresh
}
