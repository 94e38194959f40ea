/// A compute device. Model code is written against this protocol only.
///
/// The protocol is split by capability (`MemoryKernels`, `BLASKernels`, `ConvolutionKernels`,
/// `ElementwiseKernels`, `RandomKernels`, `IndexingKernels`, `OptimizerKernels`), each in its own file under `Ops/` together with
/// its checking front-end: the extension methods of `Backend` (`gemm`, `axpy`, ...) validate their arguments
/// with `Check` and throw `SynapseError` before any work is queued, then call the backend's `unchecked...`
/// kernel. A backend implements the unchecked kernels only, so it cannot forget a check; model code calls the
/// front-end only.
///
/// Conventions: Float32, row-major, NCHW; every op reads and writes `Tensor` views. Elementwise ops
/// (activations, dropout, axpy, scale, multiply, the optimizer updates), softmax and cross-entropy may run in
/// place on identical views; the others refuse overlapping views. Work may run asynchronously (the OpenCL
/// backend queues it in order); `download` and `synchronize` wait for it.
///
/// Threads: a backend is `Sendable`: any number of threads may call it at once; each call is atomic with respect
/// to the others, and the results are those of the same calls made one after another. What is built on a
/// backend (models, trainers, optimizers) is not `Sendable`: it belongs to one thread at a time.
public protocol Backend: AnyObject, Sendable, MemoryKernels, BLASKernels, ConvolutionKernels, ElementwiseKernels,
    RandomKernels, IndexingKernels, OptimizerKernels {
    /// A short identifier: `cpu`, `opencl:0`.
    var name: String { get }
    /// A human description of the device behind the backend.
    var deviceDescription: String { get }
    /// What layers need to know to choose their own policy (how much of a convolution to unfold at once).
    var properties: DeviceProperties { get }
    /// Whether `buffer` is memory this backend allocated (and so of its own buffer type).
    func owns(_ buffer: Buffer) -> Bool
    /// Waits until all queued work has finished.
    func synchronize() throws
    /// Runs `body(part)` for every part in `0..<parts`, up to `properties.concurrentParts` of them at once, and
    /// rethrows the error of the first part that failed. Parts must write disjoint memory; the results do not
    /// depend on how many ran at once.
    func concurrently(_ parts: Int, _ body: (Int) throws -> Void) throws
}

extension Backend {
    /// A device that runs one stream of work runs the parts one after another.
    public func concurrently(_ parts: Int, _ body: (Int) throws -> Void) throws {
        for part in 0..<max(parts, 0) { try body(part) }
    }
}

/// The facts about a device that model code bases its choices on.
public struct DeviceProperties: Sendable {
    public enum Execution: Sendable {
        /// Every op runs to completion on host threads before it returns (the CPU backend): working sets
        /// that fit the caches pay.
        case immediate
        /// Ops are queued to a device that runs them in order (OpenCL): few, large launches pay.
        case queued
    }

    public var execution: Execution
    /// The largest buffer the device allocates, in bytes.
    public var maxBufferBytes: Int
    /// How many parts of `Backend.concurrently` run at once: the CPU backend's threads; 1 for a queued device,
    /// whose parallelism is inside each kernel.
    public var concurrentParts: Int

    public init(execution: Execution, maxBufferBytes: Int, concurrentParts: Int = 1) {
        self.execution = execution
        self.maxBufferBytes = maxBufferBytes
        self.concurrentParts = concurrentParts
    }
}
