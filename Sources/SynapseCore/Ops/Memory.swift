/// Allocation and data movement between the host and the device, and within the device.
public protocol MemoryKernels {
    /// Zeroed memory for `count > 0` elements.
    func uncheckedAllocate(_ count: Int, _ dtype: DType) throws -> Buffer
    func uncheckedUpload(_ values: UnsafeRawBufferPointer, to view: Tensor) throws
    func uncheckedDownload(_ view: Tensor, into values: UnsafeMutableRawBufferPointer) throws
    /// `source` and `destination` hold the same element type and count and do not overlap.
    func uncheckedCopy(from source: Tensor, to destination: Tensor) throws
    func uncheckedFill(_ view: Tensor, value: Float) throws
}

extension Backend {
    /// Zeroed memory for `count` elements.
    public func allocate(_ count: Int, _ dtype: DType) throws -> Buffer {
        try Check.positive(op: "allocate", ["count": count])
        return try uncheckedAllocate(count, dtype)
    }

    /// A zeroed tensor of `shape`, in a buffer of its own.
    public func tensor(shape: [Int], dtype: DType = .float32) throws -> Tensor {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard dimension > 0, !overflow else {
                throw SynapseError.invalidArgument(op: "allocate", message:
                    "shape \(describe(shape)) must have positive dimensions whose product fits an Int")
            }
            count = product
        }
        return Tensor(try allocate(count, dtype), shape: shape)
    }

    /// A tensor holding `values`, of `shape` (by default a vector).
    public func tensor(_ values: [Float], shape: [Int]? = nil) throws -> Tensor {
        let view = try tensor(shape: shape ?? [values.count])
        try upload(values, to: view)
        return view
    }

    /// An int32 tensor holding `values`, of `shape` (by default a vector).
    public func tensor(int32 values: [Int32], shape: [Int]? = nil) throws -> Tensor {
        let view = try tensor(shape: shape ?? [values.count], dtype: .int32)
        try upload(int32: values, to: view)
        return view
    }

    public func upload(_ values: [Float], to view: Tensor) throws {
        try Check.view(view, "destination", op: "upload", on: self, count: values.count, exact: true)
        try values.withUnsafeBytes { try uncheckedUpload($0, to: view) }
    }

    public func upload(int32 values: [Int32], to view: Tensor) throws {
        try Check.view(view, "destination", op: "upload", on: self, count: values.count, exact: true, dtype: .int32)
        try values.withUnsafeBytes { try uncheckedUpload($0, to: view) }
    }

    /// The view's elements; waits for the work queued before.
    public func download(_ view: Tensor) throws -> [Float] {
        try Check.view(view, "source", op: "download", on: self, count: view.count)
        return try [Float](unsafeUninitializedCapacity: view.count) { values, initialized in
            try uncheckedDownload(view, into: UnsafeMutableRawBufferPointer(values))
            initialized = view.count
        }
    }

    public func downloadInt32(_ view: Tensor) throws -> [Int32] {
        try Check.view(view, "source", op: "download", on: self, count: view.count, dtype: .int32)
        return try [Int32](unsafeUninitializedCapacity: view.count) { values, initialized in
            try uncheckedDownload(view, into: UnsafeMutableRawBufferPointer(values))
            initialized = view.count
        }
    }

    /// Element 0 of `view` (a reduction's result); this waits for the device.
    public func readScalar(_ view: Tensor) throws -> Float {
        try download(view.elements(0..<1))[0]
    }

    /// Copies `source` into `destination`, two views of one element type and count that share no element.
    public func copy(from source: Tensor, to destination: Tensor) throws {
        let op = "copy"
        try Check.view(source, "source", op: op, on: self, count: source.count, dtype: source.dtype)
        try Check.positive(op: op, ["count": source.count])
        try Check.view(destination, "destination", op: op, on: self, count: source.count, exact: true,
                       dtype: source.dtype)
        try Check.disjoint(op: op, [("source", source), ("destination", destination)])
        try uncheckedCopy(from: source, to: destination)
    }

    public func fill(_ view: Tensor, value: Float) throws {
        try Check.positive(op: "fill", ["count": view.count])
        try Check.view(view, "view", op: "fill", on: self, count: view.count)
        try uncheckedFill(view, value: value)
    }
}
