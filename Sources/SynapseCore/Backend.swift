/// The primitives every compute device implements. Model code is written against this protocol only.
///
/// Conventions: Float32, row-major, NCHW. Every method validates its arguments with `Check` and throws
/// `SynapseError` before any work is queued. Elementwise ops (activations, dropout, axpy, scale,
/// multiply, SGD), softmax and cross-entropy may run in place; the others (GEMM, im2col/col2im,
/// pooling, bias, LRN) refuse one buffer in two roles. Work may run asynchronously (the OpenCL
/// backend queues it in order); `download` and `synchronize` wait for it.
public protocol Backend: AnyObject {
    /// A short identifier: `cpu`, `opencl:0`.
    var name: String { get }
    /// A human description of the device behind the backend.
    var deviceDescription: String { get }

    /// How many elements of im2col columns a convolution should unfold at once: a CPU wants them to stay
    /// in its caches, a GPU wants few, large GEMMs.
    var convolutionChunkElements: Int { get }

    // MARK: Memory
    /// Whether `buffer` is memory this backend allocated (and so of its own buffer type).
    func owns(_ buffer: Buffer) -> Bool
    func allocate(_ count: Int, _ dtype: DType) throws -> Buffer
    func upload(_ values: [Float], to buffer: Buffer, offset: Int) throws
    func uploadInt32(_ values: [Int32], to buffer: Buffer, offset: Int) throws
    func download(_ buffer: Buffer, offset: Int, count: Int) throws -> [Float]
    func downloadInt32(_ buffer: Buffer, offset: Int, count: Int) throws -> [Int32]
    func copy(from source: Buffer, offset sourceOffset: Int, to destination: Buffer, offset destinationOffset: Int,
              count: Int) throws
    func fill(_ buffer: Buffer, value: Float, offset: Int, count: Int) throws

    // MARK: Linear algebra
    /// `C = alpha * op(A) * op(B) + beta * C`, row-major, BLAS conventions. With `beta == 0`, C is
    /// overwritten (garbage or NaN in C does not leak into the result).
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: Buffer, aOffset: Int, lda: Int, b: Buffer, bOffset: Int, ldb: Int,
              beta: Float, c: Buffer, cOffset: Int, ldc: Int) throws

    // MARK: Convolution support
    /// Unfolds `geometry.images` `[C, H, W]` images (the first at `imageOffset`) into the column matrix of
    /// `geometry`.
    func im2col(image: Buffer, imageOffset: Int, geometry: ConvGeometry, columns: Buffer, columnsOffset: Int) throws
    /// Folds a column matrix back into its images, summing overlapping contributions; overwrites each
    /// image's `imageCount` elements and leaves the gaps between images alone.
    func col2im(columns: Buffer, columnsOffset: Int, geometry: ConvGeometry, image: Buffer, imageOffset: Int) throws
    /// `output[c][r][i] = input[r][c][i]` for a `[rows, columns, blockSize]` input: swaps the batch and
    /// channel axes of an NCHW tensor, which the batched convolution's GEMM produces and consumes as CNHW.
    func transposeBlocks(input: Buffer, inputOffset: Int, output: Buffer, outputOffset: Int,
                         rows: Int, columns: Int, blockSize: Int) throws

    // MARK: Pooling
    /// Max pooling; `argmax` (int32) receives each maximum's index within its input plane.
    func maxPoolForward(input: Buffer, output: Buffer, argmax: Buffer, geometry: PoolGeometry) throws
    /// Routes each output gradient to its argmax; overwrites `gradInput`.
    func maxPoolBackward(gradOutput: Buffer, argmax: Buffer, gradInput: Buffer, geometry: PoolGeometry) throws
    /// Average pooling; the divisor is the window clipped to the padded plane (PyTorch's count_include_pad).
    func avgPoolForward(input: Buffer, output: Buffer, geometry: PoolGeometry) throws
    func avgPoolBackward(gradOutput: Buffer, gradInput: Buffer, geometry: PoolGeometry) throws

    // MARK: Activations
    func activationForward(_ activation: Activation, input: Buffer, output: Buffer, count: Int) throws
    /// `gradInput = gradOutput * f'(input)`; sigmoid and tanh read the derivative from `output`.
    func activationBackward(_ activation: Activation, input: Buffer, output: Buffer, gradOutput: Buffer,
                            gradInput: Buffer, count: Int) throws

    // MARK: Bias
    /// `data[o, c, i] += bias[c]` for a `[outer, channels, inner]` tensor.
    func biasAdd(data: Buffer, bias: Buffer, outer: Int, channels: Int, inner: Int) throws
    /// `gradBias[c] = sum over o, i of gradOutput[o, c, i]`; overwrites `gradBias`.
    func biasGradient(gradOutput: Buffer, gradBias: Buffer, outer: Int, channels: Int, inner: Int) throws

    // MARK: Softmax
    /// Row-wise softmax of a `[rows, cols]` matrix, computed stably (max subtracted).
    func softmaxForward(input: Buffer, output: Buffer, rows: Int, cols: Int) throws
    /// `gradInput = y * (gradOutput - sum(gradOutput * y))` row-wise.
    func softmaxBackward(output: Buffer, gradOutput: Buffer, gradInput: Buffer, rows: Int, cols: Int) throws
    /// Softmax probabilities and per-row cross-entropy `-log p[label]`; `probabilities` may be `logits`.
    /// `labels` is int32; a label outside `0..<cols` yields a NaN loss for its row (labels live on the
    /// device, so this cannot throw).
    func softmaxCrossEntropyForward(logits: Buffer, labels: Buffer, probabilities: Buffer, losses: Buffer,
                                    rows: Int, cols: Int) throws
    /// Gradient of the batch-mean loss: `(p - onehot(label)) / rows`.
    func softmaxCrossEntropyBackward(probabilities: Buffer, labels: Buffer, gradLogits: Buffer,
                                     rows: Int, cols: Int) throws

    // MARK: Dropout
    /// Element `i` is kept when Philox word `address.counter + i` of `address.stream`, as a uniform in [0, 1),
    /// is at least `probability`; survivors are scaled by `1 / (1 - probability)`. Bit-identical on every device.
    func dropoutForward(input: Buffer, output: Buffer, count: Int, probability: Float, address: PhiloxAddress) throws
    /// Regenerates the forward mask from the same address; no mask is stored.
    func dropoutBackward(gradOutput: Buffer, gradInput: Buffer, count: Int, probability: Float,
                         address: PhiloxAddress) throws

    // MARK: Local response normalisation
    /// `scale` receives the per-element normaliser, kept for the backward pass.
    func lrnForward(input: Buffer, output: Buffer, scale: Buffer, geometry: LRNGeometry) throws
    func lrnBackward(input: Buffer, output: Buffer, scale: Buffer, gradOutput: Buffer, gradInput: Buffer,
                     geometry: LRNGeometry) throws

    // MARK: Elementwise
    /// `y += alpha * x`
    func axpy(alpha: Float, x: Buffer, y: Buffer, count: Int) throws
    /// `x *= alpha`
    func scale(_ x: Buffer, by alpha: Float, count: Int) throws
    /// `output = a * b`
    func multiply(_ a: Buffer, _ b: Buffer, output: Buffer, count: Int) throws

    // MARK: Reductions (results stay on the device, in element 0 of `result`)
    func sum(_ x: Buffer, count: Int, result: Buffer) throws
    func sumOfSquares(_ x: Buffer, count: Int, result: Buffer) throws

    // MARK: Optimizers
    func sgdMomentumUpdate(weights: Buffer, gradients: Buffer, velocity: Buffer, count: Int,
                           parameters: SGDParameters) throws
    /// One Adam step (see `AdamParameters`): updates `weights`, `firstMoment` (m) and `secondMoment` (v) in
    /// place; the moments start zeroed.
    func adamUpdate(weights: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer, count: Int,
                    parameters: AdamParameters) throws

    /// Waits until all queued work has finished.
    func synchronize() throws
}

extension Backend {
    public func download(_ buffer: Buffer) throws -> [Float] {
        try download(buffer, offset: 0, count: buffer.count)
    }

    public func downloadInt32(_ buffer: Buffer) throws -> [Int32] {
        try downloadInt32(buffer, offset: 0, count: buffer.count)
    }

    /// A new buffer holding `values`.
    public func buffer(_ values: [Float]) throws -> Buffer {
        let b = try allocate(values.count, .float32)
        try upload(values, to: b, offset: 0)
        return b
    }

    public func buffer(int32 values: [Int32]) throws -> Buffer {
        let b = try allocate(values.count, .int32)
        try uploadInt32(values, to: b, offset: 0)
        return b
    }

    /// Reads element 0 of a reduction result; this waits for the device.
    public func readScalar(_ buffer: Buffer) throws -> Float {
        try download(buffer, offset: 0, count: 1)[0]
    }
}
