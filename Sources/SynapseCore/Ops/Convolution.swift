/// The spatial ops of convolutional networks: unfolding images for convolution GEMMs, pooling, and local
/// response normalisation. None runs in place.
public protocol ConvolutionKernels {
    func uncheckedIm2col(image: Tensor, geometry: ConvGeometry, columns: Tensor) throws
    func uncheckedCol2im(columns: Tensor, geometry: ConvGeometry, image: Tensor) throws
    func uncheckedTransposeBlocks(input: Tensor, output: Tensor, rows: Int, columns: Int, blockSize: Int) throws
    func uncheckedMaxPoolForward(input: Tensor, output: Tensor, argmax: Tensor, geometry: PoolGeometry) throws
    func uncheckedMaxPoolBackward(gradOutput: Tensor, argmax: Tensor, gradInput: Tensor, geometry: PoolGeometry) throws
    func uncheckedAvgPoolForward(input: Tensor, output: Tensor, geometry: PoolGeometry) throws
    func uncheckedAvgPoolBackward(gradOutput: Tensor, gradInput: Tensor, geometry: PoolGeometry) throws
    func uncheckedLRNForward(input: Tensor, output: Tensor, scale: Tensor, geometry: LRNGeometry) throws
    func uncheckedLRNBackward(input: Tensor, output: Tensor, scale: Tensor, gradOutput: Tensor, gradInput: Tensor,
                              geometry: LRNGeometry) throws
}

extension Backend {
    /// Unfolds `geometry.images` `[C, H, W]` images, the first at the start of `image`, into the column
    /// matrix of `geometry` at the start of `columns`.
    public func im2col(image: Tensor, geometry g: ConvGeometry, columns: Tensor) throws {
        let op = "im2col"
        try g.validate(op: op)
        try Check.view(image, "image", op: op, on: self, count: g.imageSpan)
        try Check.view(columns, "columns", op: op, on: self, count: g.columnCount)
        try Check.disjoint(op: op, [("image", image.elements(0..<g.imageSpan)), ("columns", columns.elements(0..<g.columnCount))])
        try uncheckedIm2col(image: image, geometry: g, columns: columns)
    }

    /// Folds a column matrix back into its images, summing overlapping contributions; overwrites each
    /// image's `imageCount` elements and leaves the gaps between images alone.
    public func col2im(columns: Tensor, geometry g: ConvGeometry, image: Tensor) throws {
        let op = "col2im"
        try g.validate(op: op)
        try Check.view(columns, "columns", op: op, on: self, count: g.columnCount)
        try Check.view(image, "image", op: op, on: self, count: g.imageSpan)
        try Check.disjoint(op: op, [("columns", columns.elements(0..<g.columnCount)), ("image", image.elements(0..<g.imageSpan))])
        try uncheckedCol2im(columns: columns, geometry: g, image: image)
    }

    /// `output[c][r][i] = input[r][c][i]` for a `[rows, columns, blockSize]` input: swaps the batch and
    /// channel axes of an NCHW tensor, which the batched convolution's GEMM produces and consumes as CNHW, or
    /// makes a batch of sequences time-major. Float32 or int32 (both views the same); the bits move unchanged.
    public func transposeBlocks(input: Tensor, output: Tensor, rows: Int, columns: Int, blockSize: Int) throws {
        let op = "transposeBlocks"
        try Check.positive(op: op, ["rows": rows, "columns": columns, "blockSize": blockSize])
        try Check.sizes(op: op, [:], products: [[rows, columns, blockSize]])
        let count = rows * columns * blockSize
        try Check.view(input, "input", op: op, on: self, count: count, dtype: input.dtype)
        try Check.view(output, "output", op: op, on: self, count: count, dtype: input.dtype)
        try Check.disjoint(op: op, [("input", input.elements(0..<count)), ("output", output.elements(0..<count))])
        try uncheckedTransposeBlocks(input: input, output: output, rows: rows, columns: columns, blockSize: blockSize)
    }

    /// Max pooling; `argmax` (int32) receives each maximum's index within its input plane.
    public func maxPoolForward(input: Tensor, output: Tensor, argmax: Tensor, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "maxPoolForward", geometry: g, inputSized: ["input": input],
                       outputSized: ["output": output], argmax: argmax)
        try uncheckedMaxPoolForward(input: input, output: output, argmax: argmax, geometry: g)
    }

    /// Routes each output gradient to its argmax; overwrites `gradInput`.
    public func maxPoolBackward(gradOutput: Tensor, argmax: Tensor, gradInput: Tensor, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "maxPoolBackward", geometry: g, inputSized: ["gradInput": gradInput],
                       outputSized: ["gradOutput": gradOutput], argmax: argmax)
        try uncheckedMaxPoolBackward(gradOutput: gradOutput, argmax: argmax, gradInput: gradInput, geometry: g)
    }

    /// Average pooling; the divisor is the window clipped to the padded plane (PyTorch's count_include_pad).
    public func avgPoolForward(input: Tensor, output: Tensor, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "avgPoolForward", geometry: g, inputSized: ["input": input],
                       outputSized: ["output": output])
        try uncheckedAvgPoolForward(input: input, output: output, geometry: g)
    }

    public func avgPoolBackward(gradOutput: Tensor, gradInput: Tensor, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "avgPoolBackward", geometry: g, inputSized: ["gradInput": gradInput],
                       outputSized: ["gradOutput": gradOutput])
        try uncheckedAvgPoolBackward(gradOutput: gradOutput, gradInput: gradInput, geometry: g)
    }

    /// Local response normalisation across channels; `scale` receives the per-element normaliser, kept for
    /// the backward pass.
    public func lrnForward(input: Tensor, output: Tensor, scale: Tensor, geometry g: LRNGeometry) throws {
        try Check.lrn(on: self, op: "lrnForward", geometry: g, ["input": input, "output": output, "scale": scale])
        try uncheckedLRNForward(input: input, output: output, scale: scale, geometry: g)
    }

    public func lrnBackward(input: Tensor, output: Tensor, scale: Tensor, gradOutput: Tensor, gradInput: Tensor,
                            geometry g: LRNGeometry) throws {
        try Check.lrn(on: self, op: "lrnBackward", geometry: g, ["input": input, "output": output, "scale": scale,
                                                                 "gradOutput": gradOutput, "gradInput": gradInput])
        try uncheckedLRNBackward(input: input, output: output, scale: scale, gradOutput: gradOutput,
                                 gradInput: gradInput, geometry: g)
    }
}

extension Check {
    /// A pooling op: `inputSized` and `outputSized` are the float views shaped like the pool's input and
    /// output planes; `argmax` (int32, output-sized) for max pooling.
    static func pool(on b: Backend, op: String, geometry g: PoolGeometry, inputSized: KeyValuePairs<String, Tensor>,
                     outputSized: KeyValuePairs<String, Tensor>, argmax: Tensor? = nil) throws {
        try g.validate(op: op)
        for (name, x) in inputSized { try view(x, name, op: op, on: b, count: g.inputCount, exact: true) }
        for (name, x) in outputSized { try view(x, name, op: op, on: b, count: g.outputCount, exact: true) }
        if let argmax { try view(argmax, "argmax", op: op, on: b, count: g.outputCount, exact: true, dtype: .int32) }
        try disjoint(op: op, Array(inputSized) + Array(outputSized) + (argmax.map { [("argmax", $0)] } ?? []))
    }

    static func lrn(on b: Backend, op: String, geometry g: LRNGeometry, _ views: KeyValuePairs<String, Tensor>) throws {
        try g.validate(op: op)
        for (name, x) in views { try view(x, name, op: op, on: b, count: g.count, exact: true) }
        try disjoint(op: op, Array(views))
    }
}
