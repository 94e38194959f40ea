/// Rows of a table picked by int32 indices (an embedding's lookup and its gradient), and the row-wise products
/// word2vec's batches are made of.
public protocol IndexingKernels {
    func uncheckedGatherRows(table: Tensor, indices: Tensor, output: Tensor, rows: Int, width: Int) throws
    /// `order` nil: the kernel finds each row's positions itself.
    func uncheckedScatterAddRows(gradients: Tensor, indices: Tensor, order: Tensor?, table: Tensor, rows: Int,
                                 width: Int) throws
    func uncheckedRowDots(_ a: Tensor, _ b: Tensor, output: Tensor, rows: Int, width: Int) throws
    func uncheckedScaleRows(_ x: Tensor, scales: Tensor, output: Tensor, rows: Int, width: Int) throws
}

extension Backend {
    /// `output[n] = table[indices[n]]` for a `[rows, width]` table and int32 `indices` `[count]`, output
    /// `[count, width]`. The indices live on the device, so an index outside `0..<rows` cannot throw: it gives
    /// a row of NaN, which the loss then shows.
    public func gatherRows(table: Tensor, indices: Tensor, output: Tensor, rows: Int, width: Int) throws {
        try Check.table(on: self, op: "gatherRows", table: ("table", table), rows: rows, width: width, indices: indices,
                       data: ("output", output))
        try uncheckedGatherRows(table: table, indices: indices, output: output, rows: rows, width: width)
    }

    /// `table[indices[n]] += gradients[n]` for every n, deterministically: each table row receives the sum of
    /// its positions' gradients added in increasing n, then added once, so the result has the same bits on every
    /// run and every device, whatever the order of the indices. Rows no index names are left alone, and so are
    /// indices outside `0..<rows`. The OpenCL kernel reads every index once per table row and run of eight
    /// columns, which suits small tables (a character vocabulary).
    public func scatterAddRows(gradients: Tensor, indices: Tensor, table: Tensor, rows: Int, width: Int) throws {
        try Check.table(on: self, op: "scatterAddRows", table: ("table", table), rows: rows, width: width,
                       indices: indices, data: ("gradients", gradients))
        try uncheckedScatterAddRows(gradients: gradients, indices: indices, order: nil, table: table, rows: rows, width: width)
    }

    /// The same sums, the same bits, for a table of any size: `order` (int32 `[count]`, from
    /// `scatterOrder(indices)` on the host) lists the positions grouped by row, so the OpenCL kernel reads each
    /// gradient once instead of every index once per table row and run of columns. The caller vouches for `order`:
    /// the device cannot check it without a wait, and an order that is not `scatterOrder`'s adds wrong sums (never
    /// out of bounds).
    public func scatterAddRows(gradients: Tensor, indices: Tensor, order: Tensor, table: Tensor, rows: Int, width: Int) throws {
        let op = "scatterAddRows"
        try Check.table(on: self, op: op, table: ("table", table), rows: rows, width: width, indices: indices,
                        data: ("gradients", gradients))
        try Check.view(order, "order", op: op, on: self, count: indices.count, exact: true, dtype: .int32)
        try uncheckedScatterAddRows(gradients: gradients, indices: indices, order: order, table: table, rows: rows, width: width)
    }

    /// `output[n] = sum over k of a[n, k] * b[n, k]` for `[rows, width]` `a` and `b`: a dot product per row, added
    /// in increasing k.
    public func rowDots(_ a: Tensor, _ b: Tensor, output: Tensor, rows: Int, width: Int) throws {
        let op = "rowDots"
        try Check.positive(op: op, ["rows": rows, "width": width])
        try Check.sizes(op: op, [:], products: [[rows, width]])
        try Check.view(a, "a", op: op, on: self, count: rows * width, exact: true)
        try Check.view(b, "b", op: op, on: self, count: rows * width, exact: true)
        try Check.view(output, "output", op: op, on: self, count: rows, exact: true)
        try Check.disjoint(op: op, [("a", a), ("output", output)])
        try Check.disjoint(op: op, [("b", b), ("output", output)])
        try uncheckedRowDots(a, b, output: output, rows: rows, width: width)
    }

    /// `output[n, k] = x[n, k] * scales[n]` for a `[rows, width]` `x`; `output` may be `x`.
    public func scaleRows(_ x: Tensor, by scales: Tensor, output: Tensor, rows: Int, width: Int) throws {
        let op = "scaleRows"
        try Check.positive(op: op, ["rows": rows, "width": width])
        try Check.sizes(op: op, [:], products: [[rows, width]])
        try Check.view(x, "x", op: op, on: self, count: rows * width, exact: true)
        try Check.view(scales, "scales", op: op, on: self, count: rows, exact: true)
        try Check.view(output, "output", op: op, on: self, count: rows * width, exact: true)
        try Check.inPlaceOrDisjoint(op: op, [("x", x), ("output", output)])
        try Check.disjoint(op: op, [("scales", scales), ("output", output)])
        try uncheckedScaleRows(x, scales: scales, output: output, rows: rows, width: width)
    }
}

/// The positions of `indices` grouped by index, each group in increasing position (a stable sort): the `order`
/// `scatterAddRows` takes.
public func scatterOrder(_ indices: [Int32]) -> [Int32] {
    // Each key holds the index (its sign bit flipped, so that unsigned order is signed order) above the position:
    // sorting plain integers is several times faster than sorting by a closure.
    var keys = indices.enumerated().map { UInt64(UInt32(bitPattern: $0.element ^ Int32.min)) << 32 | UInt64($0.offset) }
    keys.sort()
    return keys.map { Int32(truncatingIfNeeded: $0 & 0xFFFF_FFFF) }
}

extension Check {
    /// A `[rows, width]` table, int32 indices `[count]`, and `[count, width]` data, none overlapping.
    static func table(on b: Backend, op: String, table: (String, Tensor), rows: Int, width: Int, indices: Tensor,
                     data: (String, Tensor)) throws {
        try positive(op: op, ["rows": rows, "width": width, "indices": indices.count])
        try sizes(op: op, [:], products: [[rows, width], [indices.count, width]])
        try view(table.1, table.0, op: op, on: b, count: rows * width, exact: true)
        try view(indices, "indices", op: op, on: b, count: indices.count, dtype: .int32)
        try view(data.1, data.0, op: op, on: b, count: indices.count * width, exact: true)
        try disjoint(op: op, [table, data])
    }
}
