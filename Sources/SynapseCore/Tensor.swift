/// A view of a buffer: the `shape.product` elements from `offset`, row-major. Every `Backend` op reads and
/// writes views, so a time step's slice, one gate block of an LSTM or one row range is passed without a copy,
/// and several views may share one buffer. Making a view is free and never fails; the op that receives it
/// checks that it lies within its buffer (see `Check.view`).
public struct Tensor: Sendable {
    public let buffer: Buffer
    /// Where the view starts in `buffer`, in elements.
    public let offset: Int
    public let shape: [Int]
    /// `shape`'s product; `Int.max` when that overflows or a dimension is negative, so that every op refuses it.
    public let count: Int

    /// A view of `shape` from `offset`; by default the whole buffer as a vector.
    public init(_ buffer: Buffer, offset: Int = 0, shape: [Int]? = nil) {
        self.buffer = buffer
        self.offset = offset
        self.shape = shape ?? [buffer.count]
        var product = 1
        for dimension in self.shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow || dimension < 0 {
                product = Int.max
                break
            }
            product = next
        }
        count = product
    }

    public var dtype: DType { buffer.dtype }
    public var backend: Backend { buffer.backend }
    /// The elements of `buffer` this view covers.
    public var range: Range<Int> { offset..<(offset.addingReportingOverflow(count).overflow ? Int.max : offset + count) }

    /// The first dimension: the batch of an activation, the rows of a matrix.
    public var batch: Int { shape.first ?? 1 }
    /// The shape of one sample (everything after the first dimension).
    public var sampleShape: [Int] { Array(shape.dropFirst()) }

    /// The same elements seen with another shape (Flatten, a batch of vectors as a matrix).
    public func reshaped(_ shape: [Int]) -> Tensor { Tensor(buffer, offset: offset, shape: shape) }

    /// Elements `range` of this view (counted from the view's start), as a vector.
    public func elements(_ range: Range<Int>) -> Tensor {
        Tensor(buffer, offset: offset + range.lowerBound, shape: [range.count])
    }

    /// Rows `range` of the first dimension, keeping the others: a time step of `[steps, batch, features]`,
    /// a row range of a matrix.
    public func rows(_ range: Range<Int>) -> Tensor {
        let rowSize = shape.dropFirst().reduce(1, *)
        return Tensor(buffer, offset: offset + range.lowerBound * rowSize, shape: [range.count] + shape.dropFirst())
    }

    /// Whether the two views share an element.
    public func overlaps(_ other: Tensor) -> Bool {
        buffer === other.buffer && range.overlaps(other.range)
    }

    /// Whether the two views are the same elements (an elementwise op may then run in place).
    public func coincides(with other: Tensor) -> Bool {
        buffer === other.buffer && offset == other.offset && count == other.count
    }
}

/// Formats a shape the way error messages and summaries show it: `[6, 14, 14]`.
public func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
