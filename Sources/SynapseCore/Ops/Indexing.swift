/// Rows of a table picked by int32 indices: an embedding's lookup and its gradient.
public protocol IndexingKernels {
    func uncheckedGatherRows(table: Tensor, indices: Tensor, output: Tensor, rows: Int, width: Int) throws
    func uncheckedScatterAddRows(gradients: Tensor, indices: Tensor, table: Tensor, rows: Int, width: Int) throws
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
    /// indices outside `0..<rows`. The OpenCL kernel reads every index once per table element, which suits small
    /// tables (a character vocabulary).
    public func scatterAddRows(gradients: Tensor, indices: Tensor, table: Tensor, rows: Int, width: Int) throws {
        try Check.table(on: self, op: "scatterAddRows", table: ("table", table), rows: rows, width: width,
                       indices: indices, data: ("gradients", gradients))
        try uncheckedScatterAddRows(gradients: gradients, indices: indices, table: table, rows: rows, width: width)
    }
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
