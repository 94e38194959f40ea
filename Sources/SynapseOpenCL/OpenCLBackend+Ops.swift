import SynapseCore

/// Every kernel of `Backend` as a launch of a kernel in Kernels/, for arguments the front-end has checked.
extension OpenCLBackend {
    public func uncheckedGEMM(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: Tensor, lda: Int,
                              b: Tensor, ldb: Int, beta: Float, c: Tensor, ldc: Int) throws {
        try gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc, parameters: gemmPlan[GemmPlan.shape(m: m, n: n)])
    }

    /// The GEMM launch with explicit tile parameters (the tuner tries its candidates through this), for
    /// arguments the front-end has accepted. When the output has too few tiles to keep every compute unit
    /// busy, K is split across work-groups and the slices' partial products are added afterwards.
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: Tensor, lda: Int, b: Tensor, ldb: Int, beta: Float, c: Tensor, ldc: Int,
              parameters p: GemmParameters) throws {
        let program = try program(.gemm, options: p.buildOptions(transA: transA, transB: transB))
        let (rowTiles, columnTiles) = ((m + p.mwg - 1) / p.mwg, (n + p.nwg - 1) / p.nwg)
        let kSlice = sliceDepth(m: m, n: n, k: k, tiles: rowTiles * columnTiles, kwg: p.kwg)
        let slices = (k + kSlice - 1) / kSlice
        func launchGemm(alpha: Float, beta: Float, c: Argument, ldc: Int) throws {
            try launch(program, "gemm", global: [columnTiles * p.ndimc, rowTiles * p.mdimc, slices], local: [p.ndimc, p.mdimc, 1],
                       [.int(m), .int(n), .int(k), .float(alpha), .view(a), .int(lda),
                        .view(b), .int(ldb), .float(beta), c, .int(ldc),
                        .int(kSlice), .int(m * n)])
        }
        guard slices > 1 else {
            return try launchGemm(alpha: alpha, beta: beta, c: .view(c), ldc: ldc)
        }
        // The scratch is shared by every caller: held from its allocation until the slices are added.
        try serialized {
            let partial = try scratch(.splitK, count: slices * m * n)
            try launchGemm(alpha: 1, beta: 0, c: .scratch(partial), ldc: n)
            try launch(program, "gemm_sum_slices", global: [m * n],
                       [.scratch(partial), .int(slices), .int(m), .int(n), .float(alpha), .float(beta),
                        .view(c), .int(ldc)])
        }
    }

    /// How deep a slice of K each work-group takes: all of K, unless the output has fewer tiles than two
    /// per compute unit; then enough slices to make up the difference, each at least 256 deep (shallower
    /// slices cost more in adding partial products than they gain), with the partials within 64 MiB.
    private func sliceDepth(m: Int, n: Int, k: Int, tiles: Int, kwg: Int) -> Int {
        let wanted = 2 * device.computeUnits
        let slices = min((wanted + tiles - 1) / tiles, k / 256, (16 << 20) / (m * n))
        guard tiles < wanted, slices > 1 else { return k }
        return ((k + slices - 1) / slices + kwg - 1) / kwg * kwg
    }

    // MARK: Convolution support

    public func uncheckedIm2col(image: Tensor, geometry g: ConvGeometry, columns: Tensor) throws {
        try launch(program(.im2col), "im2col", elements: g.columnCount,
                   [.view(image)] + geometryArguments(g) + [.view(columns), .float(g.padValue)])
    }

    public func uncheckedCol2im(columns: Tensor, geometry g: ConvGeometry, image: Tensor) throws {
        try launch(program(.im2col), "col2im", elements: g.images * g.imageCount,
                   [.view(columns)] + geometryArguments(g) + [.view(image)])
    }

    private func geometryArguments(_ g: ConvGeometry) -> [Argument] {
        [g.channels, g.height, g.width, g.kernelH, g.kernelW, g.padH, g.padW, g.strideH, g.strideW,
         g.dilationH, g.dilationW, g.outputH, g.outputW, g.images, g.imageStride].map { .int($0) }
    }

    public func uncheckedTransposeBlocks(input: Tensor, output: Tensor, rows: Int, columns: Int, blockSize: Int) throws {
        try launch(program(.im2col), "transpose_blocks", elements: rows * columns * blockSize,
                   [.view(input), .view(output), .int(rows), .int(columns), .int(blockSize)])
    }

    // MARK: Pooling

    public func uncheckedMaxPoolForward(input: Tensor, output: Tensor, argmax: Tensor, geometry g: PoolGeometry) throws {
        try launch(program(.pooling), "max_pool_forward", elements: g.outputCount,
                   [.view(input), .view(output), .view(argmax)] + poolArguments(g))
    }

    public func uncheckedMaxPoolBackward(gradOutput: Tensor, argmax: Tensor, gradInput: Tensor,
                                         geometry g: PoolGeometry) throws {
        try launch(program(.pooling), "max_pool_backward", elements: g.inputCount,
                   [.view(gradOutput), .view(argmax), .view(gradInput)] + poolArguments(g))
    }

    public func uncheckedAvgPoolForward(input: Tensor, output: Tensor, geometry g: PoolGeometry) throws {
        try launch(program(.pooling), "avg_pool_forward", elements: g.outputCount,
                   [.view(input), .view(output)] + poolArguments(g))
    }

    public func uncheckedAvgPoolBackward(gradOutput: Tensor, gradInput: Tensor, geometry g: PoolGeometry) throws {
        try launch(program(.pooling), "avg_pool_backward", elements: g.inputCount,
                   [.view(gradOutput), .view(gradInput)] + poolArguments(g))
    }

    private func poolArguments(_ g: PoolGeometry) -> [Argument] {
        [g.planes, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW, g.padH, g.padW,
         g.outputH, g.outputW].map { .int($0) }
    }

    // MARK: Activations

    public func uncheckedActivationForward(_ activation: Activation, input: Tensor, output: Tensor) throws {
        let (kind, slope) = activationCode(activation)
        try launch(program(.activation), "activation_forward", elements: input.count,
                   [.int(kind), .float(slope), .view(input), .view(output), .int(input.count)])
    }

    public func uncheckedActivationBackward(_ activation: Activation, input: Tensor, output: Tensor, gradOutput: Tensor,
                                           gradInput: Tensor) throws {
        let (kind, slope) = activationCode(activation)
        try launch(program(.activation), "activation_backward", elements: input.count,
                   [.int(kind), .float(slope), .view(input), .view(output), .view(gradOutput),
                    .view(gradInput), .int(input.count)])
    }

    /// The `kind` argument of activation.cl.
    private func activationCode(_ activation: Activation) -> (Int, Float) {
        switch activation {
        case .relu: return (0, 0)
        case .leakyReLU(let slope): return (1, slope)
        case .sigmoid: return (2, 0)
        case .tanh: return (3, 0)
        case .step: return (4, 0)
        case .softplus: return (5, 0)
        case .scaledTanh: return (6, 0)
        }
    }

    // MARK: Bias

    public func uncheckedBiasAdd(data: Tensor, bias: Tensor, outer: Int, channels: Int, inner: Int) throws {
        try launch(program(.bias, options: groupSizeOption), "bias_add", elements: outer * channels * inner,
                   [.view(data), .view(bias), .int(outer), .int(channels), .int(inner)])
    }

    public func uncheckedBiasGradient(gradOutput: Tensor, gradBias: Tensor, outer: Int, channels: Int, inner: Int,
                                      accumulate: Bool) throws {
        guard inner > 1 else {
            return try launch(program(.bias, options: groupSizeOption), "bias_gradient_columns", global: [channels],
                              [.view(gradOutput), .view(gradBias), .int(outer), .int(channels), .int(accumulate ? 1 : 0)])
        }
        try launch(program(.bias, options: groupSizeOption), "bias_gradient", global: [channels * reductionGroupSize],
                   local: [reductionGroupSize],
                   [.view(gradOutput), .view(gradBias), .int(outer), .int(channels), .int(inner),
                    .int(accumulate ? 1 : 0)])
    }

    /// The largest power of two up to 256 that the device allows in one work-group.
    var reductionGroupSize: Int {
        var size = 256
        while size > device.maxWorkGroupSize { size /= 2 }
        return size
    }

    private var groupSizeOption: String { "-DGROUP_SIZE=\(reductionGroupSize)" }

    // MARK: Softmax

    public func uncheckedSoftmaxForward(input: Tensor, output: Tensor, rows: Int, cols: Int) throws {
        try launch(program(.softmax), "softmax_forward", global: [rows],
                   [.view(input), .view(output), .int(rows), .int(cols)])
    }

    public func uncheckedSoftmaxBackward(output: Tensor, gradOutput: Tensor, gradInput: Tensor, rows: Int, cols: Int) throws {
        try launch(program(.softmax), "softmax_backward", global: [rows],
                   [.view(output), .view(gradOutput), .view(gradInput), .int(rows), .int(cols)])
    }

    public func uncheckedSoftmaxCrossEntropyForward(logits: Tensor, labels: Tensor, probabilities: Tensor, losses: Tensor,
                                           rows: Int, cols: Int) throws {
        try launch(program(.softmax), "softmax_cross_entropy_forward", global: [rows],
                   [.view(logits), .view(labels), .view(probabilities), .view(losses), .int(rows), .int(cols)])
    }

    public func uncheckedSoftmaxCrossEntropyBackward(probabilities: Tensor, labels: Tensor, gradLogits: Tensor,
                                            rows: Int, cols: Int) throws {
        try launch(program(.softmax), "softmax_cross_entropy_backward", elements: rows * cols,
                   [.view(probabilities), .view(labels), .view(gradLogits), .int(rows), .int(cols)])
    }

    // MARK: Dropout

    public func uncheckedDropout(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws {
        try launchRandom("dropout", count: input.count, address: address,
                         [.view(input), .view(output), .int(input.count), .float(probability),
                          .float(1 / (1 - probability))])
    }

    public func uncheckedUniform(output: Tensor, low: Float, high: Float, address: PhiloxAddress) throws {
        try launchRandom("uniform", count: output.count, address: address,
                         [.view(output), .int(output.count), .float(low), .float(high)])
    }

    public func uncheckedBernoulli(probabilities: Tensor, output: Tensor, address: PhiloxAddress) throws {
        try launchRandom("bernoulli", count: output.count, address: address,
                         [.view(probabilities), .view(output), .int(output.count)])
    }

    /// A kernel of random.cl: one work-item per Philox block the `count` elements from `address` touch; the
    /// address follows the kernel's own `arguments`.
    private func launchRandom(_ kernel: String, count: Int, address: PhiloxAddress, _ arguments: [Argument]) throws {
        let blocks = (Int(address.counter % 4) + count + 3) / 4
        try launch(program(.random), kernel, global: [blocks],
                   arguments + [.ulong(address.seed), .ulong(address.stream), .ulong(address.counter)])
    }

    /// Philox blocks computed on the device, for known-answer tests of philox.cl:
    /// each input is `(c0, c1, c2, c3, k0, k1)`.
    public func philoxBlocks(_ inputs: [[UInt32]]) throws -> [[UInt32]] {
        guard inputs.allSatisfy({ $0.count == 6 }) else {
            throw SynapseError.invalidArgument(op: "philoxBlocks", message: "each input needs 4 counter and 2 key words")
        }
        let input = try tensor(int32: inputs.flatMap { $0.map { Int32(bitPattern: $0) } })
        let output = try tensor(shape: [4 * inputs.count], dtype: .int32)
        try launch(program(.random), "philox_blocks", global: [inputs.count],
                   [.view(input), .view(output), .int(inputs.count)])
        let words = try downloadInt32(output).map { UInt32(bitPattern: $0) }
        return (0..<inputs.count).map { Array(words[4 * $0 ..< 4 * $0 + 4]) }
    }

    // MARK: Indexing

    public func uncheckedGatherRows(table: Tensor, indices: Tensor, output: Tensor, rows: Int, width: Int) throws {
        try launch(program(.indexing), "gather_rows", elements: indices.count * width,
                   [.view(table), .int(rows), .int(width), .view(indices), .view(output), .int(indices.count)])
    }

    public func uncheckedScatterAddRows(gradients: Tensor, indices: Tensor, order: Tensor?, table: Tensor, rows: Int,
                                        width: Int) throws {
        if let order {
            try launch(program(.indexing), "scatter_add_ordered_rows", global: [indices.count * width],
                       [.view(gradients), .view(indices), .view(order), .int(indices.count), .view(table), .int(rows), .int(width)])
        } else {
            // One work-item per row and run of eight columns (SCATTER_COLUMNS in indexing.cl).
            try launch(program(.indexing), "scatter_add_rows", global: [rows * ((width + 7) / 8)],
                       [.view(gradients), .view(indices), .int(indices.count), .view(table), .int(rows), .int(width)])
        }
    }

    public func uncheckedRowDots(_ a: Tensor, _ b: Tensor, output: Tensor, rows: Int, width: Int) throws {
        try launch(program(.indexing), "row_dots", elements: rows, [.view(a), .view(b), .view(output), .int(rows), .int(width)])
    }

    public func uncheckedScaleRows(_ x: Tensor, scales: Tensor, output: Tensor, rows: Int, width: Int) throws {
        try launch(program(.indexing), "scale_rows", elements: rows * width,
                   [.view(x), .view(scales), .view(output), .int(rows), .int(width)])
    }

    // MARK: Recurrent cells

    public func uncheckedLSTMCellForward(gates: Tensor, previousCell: Tensor, cell: Tensor, cellTanh: Tensor,
                                         hidden: Tensor, batch: Int, width: Int) throws {
        try launch(program(.lstm), "lstm_cell_forward", elements: batch * width,
                   [.view(gates), .view(previousCell), .view(cell), .view(cellTanh), .view(hidden), .int(batch),
                    .int(width)])
    }

    public func uncheckedLSTMCellBackward(gates: Tensor, previousCell: Tensor, cellTanh: Tensor, gradHidden: Tensor,
                                          gradCell: Tensor, gradGates: Tensor, batch: Int, width: Int) throws {
        try launch(program(.lstm), "lstm_cell_backward", elements: batch * width,
                   [.view(gates), .view(previousCell), .view(cellTanh), .view(gradHidden), .view(gradCell),
                    .view(gradGates), .int(batch), .int(width)])
    }

    // MARK: Local response normalisation

    public func uncheckedLRNForward(input: Tensor, output: Tensor, scale: Tensor, geometry g: LRNGeometry) throws {
        try launch(program(.lrn), "lrn_forward", elements: g.count,
                   [.view(input), .view(output), .view(scale), .int(g.batch), .int(g.channels), .int(g.spatial),
                    .int(g.size), .float(g.alpha), .float(g.beta), .float(g.k)])
    }

    public func uncheckedLRNBackward(input: Tensor, output: Tensor, scale: Tensor, gradOutput: Tensor, gradInput: Tensor,
                            geometry g: LRNGeometry) throws {
        try launch(program(.lrn), "lrn_backward", elements: g.count,
                   [.view(input), .view(output), .view(scale), .view(gradOutput), .view(gradInput),
                    .int(g.batch), .int(g.channels), .int(g.spatial), .int(g.size), .float(g.alpha), .float(g.beta)])
    }

    // MARK: Elementwise

    public func uncheckedAxpy(alpha: Float, x: Tensor, y: Tensor) throws {
        try launch(program(.elementwise), "axpy", elements: x.count, [.float(alpha), .view(x), .view(y), .int(x.count)])
    }

    public func uncheckedScale(_ x: Tensor, by alpha: Float) throws {
        try launch(program(.elementwise), "scale", elements: x.count, [.view(x), .float(alpha), .int(x.count)])
    }

    public func uncheckedMultiply(_ a: Tensor, _ b: Tensor, output: Tensor) throws {
        try launch(program(.elementwise), "multiply", elements: a.count,
                   [.view(a), .view(b), .view(output), .int(a.count)])
    }

    public func uncheckedSparsityPenalty(meanActivation: Tensor, target: Float, divergence: Tensor,
                                         gradient: Tensor) throws {
        try launch(program(.elementwise), "sparsity_penalty", elements: meanActivation.count,
                   [.view(meanActivation), .float(target), .view(divergence), .view(gradient), .int(meanActivation.count)])
    }

    public func uncheckedSoftThreshold(_ x: Tensor, threshold: Float, output: Tensor) throws {
        try launch(program(.elementwise), "soft_threshold", elements: x.count,
                   [.view(x), .float(threshold), .view(output), .int(x.count)])
    }

    public func uncheckedSigmoidCrossEntropy(logits: Tensor, labels: Tensor, losses: Tensor, gradients: Tensor) throws {
        try launch(program(.elementwise), "sigmoid_cross_entropy", elements: logits.count,
                   [.view(logits), .view(labels), .view(losses), .view(gradients), .int(logits.count)])
    }

    public func uncheckedClipToNorm(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        try launch(program(.elementwise), "clip_to_norm", elements: x.count,
                   [.view(x), .view(sumOfSquares), .float(maxNorm), .int(x.count)])
    }

    // MARK: Reductions

    /// Two launches: partial sums per work-group into scratch memory, then their total into `result`.
    public func uncheckedSum(_ x: Tensor, squares: Bool, result: Tensor) throws {
        let group = reductionGroupSize
        let groups = min(64, (x.count + group - 1) / group)
        let program = try program(.reduce, options: "\(groupSizeOption) -DSQUARE=\(squares ? 1 : 0)")
        // The partials are shared by every caller: held from the first launch until the second has read them.
        try serialized {
            let partials = try scratch(.reduction, count: groups)
            try launch(program, "reduce_partial", global: [groups * group], local: [group],
                       [.view(x), .int(x.count), .scratch(partials)])
            try launch(program, "reduce_final", global: [group], local: [group],
                       [.scratch(partials), .int(groups), .view(result)])
        }
    }

    // MARK: Optimizers

    public func uncheckedSGDUpdate(weights: Tensor, gradients: Tensor, velocity: Tensor, parameters p: SGDParameters,
                                   segments: UpdateSegments) throws {
        try launch(program(.sgd), "sgd_momentum", elements: weights.count,
                   [.view(weights), .view(gradients), .view(velocity), .int(weights.count), .float(p.learningRate),
                    .float(p.momentum), .float(p.weightDecay), .int(p.nesterov ? 1 : 0)] + segmentArguments(segments))
    }

    public func uncheckedAdamUpdate(weights: Tensor, gradients: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                                    parameters p: AdamParameters, segments: UpdateSegments) throws {
        // Bias corrections come from the host so every device uses the same Float32 values.
        try launch(program(.adam), "adam", elements: weights.count,
                   [.view(weights), .view(gradients), .view(firstMoment), .view(secondMoment), .int(weights.count),
                    .float(p.learningRate), .float(p.beta1), .float(p.beta2), .float(p.epsilon),
                    .float(p.weightDecay), .float(p.biasCorrection1), .float(p.sqrtBiasCorrection2)]
                   + segmentArguments(segments))
    }

    private func segmentArguments(_ s: UpdateSegments) -> [Argument] {
        [.view(s.ends), .view(s.learningRateMultipliers), .view(s.weightDecayMultipliers), .int(s.runs.count)]
    }
}
