import SynapseCore

/// Every primitive of `Backend` as a launch of a kernel in Kernels/. Each validates with `Check` first.
extension OpenCLBackend {
    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: Buffer, aOffset: Int, lda: Int, b: Buffer, bOffset: Int, ldb: Int,
                     beta: Float, c: Buffer, cOffset: Int, ldc: Int) throws {
        try Check.gemm(on: self, transA: transA, transB: transB, m: m, n: n, k: k, a: a, aOffset: aOffset, lda: lda,
                       b: b, bOffset: bOffset, ldb: ldb, c: c, cOffset: cOffset, ldc: ldc)
        try gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, aOffset: aOffset, lda: lda,
                 b: b, bOffset: bOffset, ldb: ldb, beta: beta, c: c, cOffset: cOffset, ldc: ldc,
                 parameters: gemmPlan[GemmPlan.shape(m: m, n: n)])
    }

    /// The GEMM launch with explicit tile parameters (the tuner tries its candidates through this), for
    /// arguments `Check.gemm` has accepted. When the output has too few tiles to keep every compute unit
    /// busy, K is split across work-groups and the slices' partial products are added afterwards.
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: Buffer, aOffset: Int, lda: Int, b: Buffer, bOffset: Int, ldb: Int,
              beta: Float, c: Buffer, cOffset: Int, ldc: Int, parameters p: GemmParameters) throws {
        let program = try program(.gemm, options: p.buildOptions(transA: transA, transB: transB))
        let (rowTiles, columnTiles) = ((m + p.mwg - 1) / p.mwg, (n + p.nwg - 1) / p.nwg)
        let kSlice = sliceDepth(m: m, n: n, k: k, tiles: rowTiles * columnTiles, kwg: p.kwg)
        let slices = (k + kSlice - 1) / kSlice
        func launchGemm(alpha: Float, beta: Float, c: Argument, cOffset: Int, ldc: Int) throws {
            try launch(program, "gemm", global: [columnTiles * p.ndimc, rowTiles * p.mdimc, slices], local: [p.ndimc, p.mdimc, 1],
                       [.int(m), .int(n), .int(k), .float(alpha), .buffer(a), .int(aOffset), .int(lda),
                        .buffer(b), .int(bOffset), .int(ldb), .float(beta), c, .int(cOffset), .int(ldc),
                        .int(kSlice), .int(m * n)])
        }
        guard slices > 1 else {
            return try launchGemm(alpha: alpha, beta: beta, c: .buffer(c), cOffset: cOffset, ldc: ldc)
        }
        // The scratch is shared by every caller: held from its allocation until the slices are added.
        try serialized {
            if (splitScratch?.count ?? 0) < slices * m * n {
                splitScratch = ScratchMemory(mem: try createMemory(slices * m * n, .float32), count: slices * m * n)
            }
            let partial = splitScratch!
            try launchGemm(alpha: 1, beta: 0, c: .scratch(partial), cOffset: 0, ldc: n)
            try launch(program, "gemm_sum_slices", global: [m * n],
                       [.scratch(partial), .int(slices), .int(m), .int(n), .float(alpha), .float(beta),
                        .buffer(c), .int(cOffset), .int(ldc)])
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

    public func im2col(image: Buffer, imageOffset: Int, geometry g: ConvGeometry, columns: Buffer,
                       columnsOffset: Int) throws {
        try Check.im2col(on: self, image: image, imageOffset: imageOffset, geometry: g, columns: columns,
                         columnsOffset: columnsOffset)
        try launch(program(.im2col), "im2col", elements: g.columnCount,
                   [.buffer(image), .int(imageOffset)] + geometryArguments(g) + [.buffer(columns), .int(columnsOffset)])
    }

    public func col2im(columns: Buffer, columnsOffset: Int, geometry g: ConvGeometry, image: Buffer,
                       imageOffset: Int) throws {
        try Check.col2im(on: self, columns: columns, columnsOffset: columnsOffset, geometry: g, image: image,
                         imageOffset: imageOffset)
        try launch(program(.im2col), "col2im", elements: g.images * g.imageCount,
                   [.buffer(columns), .int(columnsOffset)] + geometryArguments(g) + [.buffer(image), .int(imageOffset)])
    }

    private func geometryArguments(_ g: ConvGeometry) -> [Argument] {
        [g.channels, g.height, g.width, g.kernelH, g.kernelW, g.padH, g.padW, g.strideH, g.strideW,
         g.dilationH, g.dilationW, g.outputH, g.outputW, g.images, g.imageStride].map { .int($0) }
    }

    public func transposeBlocks(input: Buffer, inputOffset: Int, output: Buffer, outputOffset: Int,
                                rows: Int, columns: Int, blockSize: Int) throws {
        try Check.transposeBlocks(on: self, input: input, inputOffset: inputOffset, output: output,
                                  outputOffset: outputOffset, rows: rows, columns: columns, blockSize: blockSize)
        try launch(program(.im2col), "transpose_blocks", elements: rows * columns * blockSize,
                   [.buffer(input), .int(inputOffset), .buffer(output), .int(outputOffset),
                    .int(rows), .int(columns), .int(blockSize)])
    }

    // MARK: Pooling

    public func maxPoolForward(input: Buffer, output: Buffer, argmax: Buffer, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "maxPoolForward", geometry: g, inputSized: ["input": input],
                       outputSized: ["output": output], argmax: argmax)
        try launch(program(.pooling), "max_pool_forward", elements: g.outputCount,
                   [.buffer(input), .buffer(output), .buffer(argmax)] + poolArguments(g))
    }

    public func maxPoolBackward(gradOutput: Buffer, argmax: Buffer, gradInput: Buffer, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "maxPoolBackward", geometry: g, inputSized: ["gradInput": gradInput],
                       outputSized: ["gradOutput": gradOutput], argmax: argmax)
        try launch(program(.pooling), "max_pool_backward", elements: g.inputCount,
                   [.buffer(gradOutput), .buffer(argmax), .buffer(gradInput)] + poolArguments(g))
    }

    public func avgPoolForward(input: Buffer, output: Buffer, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "avgPoolForward", geometry: g, inputSized: ["input": input],
                       outputSized: ["output": output])
        try launch(program(.pooling), "avg_pool_forward", elements: g.outputCount,
                   [.buffer(input), .buffer(output)] + poolArguments(g))
    }

    public func avgPoolBackward(gradOutput: Buffer, gradInput: Buffer, geometry g: PoolGeometry) throws {
        try Check.pool(on: self, op: "avgPoolBackward", geometry: g, inputSized: ["gradInput": gradInput],
                       outputSized: ["gradOutput": gradOutput])
        try launch(program(.pooling), "avg_pool_backward", elements: g.inputCount,
                   [.buffer(gradOutput), .buffer(gradInput)] + poolArguments(g))
    }

    private func poolArguments(_ g: PoolGeometry) -> [Argument] {
        [g.planes, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW, g.padH, g.padW,
         g.outputH, g.outputW].map { .int($0) }
    }

    // MARK: Activations

    public func activationForward(_ activation: Activation, input: Buffer, output: Buffer, count: Int) throws {
        try Check.elementwise(on: self, op: "activationForward", count: count, ["input": input, "output": output])
        let (kind, slope) = activationCode(activation)
        try launch(program(.activation), "activation_forward", elements: count,
                   [.int(kind), .float(slope), .buffer(input), .buffer(output), .int(count)])
    }

    public func activationBackward(_ activation: Activation, input: Buffer, output: Buffer, gradOutput: Buffer,
                                   gradInput: Buffer, count: Int) throws {
        try Check.elementwise(on: self, op: "activationBackward", count: count,
                              ["input": input, "output": output, "gradOutput": gradOutput, "gradInput": gradInput])
        let (kind, slope) = activationCode(activation)
        try launch(program(.activation), "activation_backward", elements: count,
                   [.int(kind), .float(slope), .buffer(input), .buffer(output), .buffer(gradOutput),
                    .buffer(gradInput), .int(count)])
    }

    /// The `kind` argument of activation.cl.
    private func activationCode(_ activation: Activation) -> (Int, Float) {
        switch activation {
        case .relu: return (0, 0)
        case .leakyReLU(let slope): return (1, slope)
        case .sigmoid: return (2, 0)
        case .tanh: return (3, 0)
        }
    }

    // MARK: Bias

    public func biasAdd(data: Buffer, bias: Buffer, outer: Int, channels: Int, inner: Int) throws {
        try Check.bias(on: self, op: "biasAdd", data: ("data", data), bias: ("bias", bias), outer: outer,
                       channels: channels, inner: inner)
        try launch(program(.bias, options: groupSizeOption), "bias_add", elements: outer * channels * inner,
                   [.buffer(data), .buffer(bias), .int(outer), .int(channels), .int(inner)])
    }

    public func biasGradient(gradOutput: Buffer, gradBias: Buffer, outer: Int, channels: Int, inner: Int) throws {
        try Check.bias(on: self, op: "biasGradient", data: ("gradOutput", gradOutput), bias: ("gradBias", gradBias),
                       outer: outer, channels: channels, inner: inner)
        guard inner > 1 else {
            return try launch(program(.bias, options: groupSizeOption), "bias_gradient_columns", global: [channels],
                              [.buffer(gradOutput), .buffer(gradBias), .int(outer), .int(channels)])
        }
        try launch(program(.bias, options: groupSizeOption), "bias_gradient", global: [channels * reductionGroupSize],
                   local: [reductionGroupSize],
                   [.buffer(gradOutput), .buffer(gradBias), .int(outer), .int(channels), .int(inner)])
    }

    /// The largest power of two up to 256 that the device allows in one work-group.
    var reductionGroupSize: Int {
        var size = 256
        while size > device.maxWorkGroupSize { size /= 2 }
        return size
    }

    private var groupSizeOption: String { "-DGROUP_SIZE=\(reductionGroupSize)" }

    // MARK: Softmax

    public func softmaxForward(input: Buffer, output: Buffer, rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxForward", rows: rows, cols: cols, matrices: ["input": input, "output": output])
        try launch(program(.softmax), "softmax_forward", global: [rows],
                   [.buffer(input), .buffer(output), .int(rows), .int(cols)])
    }

    public func softmaxBackward(output: Buffer, gradOutput: Buffer, gradInput: Buffer, rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxBackward", rows: rows, cols: cols,
                       matrices: ["output": output, "gradOutput": gradOutput, "gradInput": gradInput])
        try launch(program(.softmax), "softmax_backward", global: [rows],
                   [.buffer(output), .buffer(gradOutput), .buffer(gradInput), .int(rows), .int(cols)])
    }

    public func softmaxCrossEntropyForward(logits: Buffer, labels: Buffer, probabilities: Buffer, losses: Buffer,
                                           rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxCrossEntropyForward", rows: rows, cols: cols,
                       matrices: ["logits": logits, "probabilities": probabilities], labels: labels, losses: losses)
        try launch(program(.softmax), "softmax_cross_entropy_forward", global: [rows],
                   [.buffer(logits), .buffer(labels), .buffer(probabilities), .buffer(losses), .int(rows), .int(cols)])
    }

    public func softmaxCrossEntropyBackward(probabilities: Buffer, labels: Buffer, gradLogits: Buffer,
                                            rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxCrossEntropyBackward", rows: rows, cols: cols,
                       matrices: ["probabilities": probabilities, "gradLogits": gradLogits], labels: labels)
        try launch(program(.softmax), "softmax_cross_entropy_backward", elements: rows * cols,
                   [.buffer(probabilities), .buffer(labels), .buffer(gradLogits), .int(rows), .int(cols)])
    }

    // MARK: Dropout

    public func dropoutForward(input: Buffer, output: Buffer, count: Int, probability: Float,
                               address: PhiloxAddress) throws {
        try Check.dropout(on: self, op: "dropoutForward", count: count, probability: probability,
                          ["input": input, "output": output])
        try applyDropout(input, output, count, probability, address)
    }

    public func dropoutBackward(gradOutput: Buffer, gradInput: Buffer, count: Int, probability: Float,
                                address: PhiloxAddress) throws {
        try Check.dropout(on: self, op: "dropoutBackward", count: count, probability: probability,
                          ["gradOutput": gradOutput, "gradInput": gradInput])
        try applyDropout(gradOutput, gradInput, count, probability, address)
    }

    private func applyDropout(_ input: Buffer, _ output: Buffer, _ count: Int, _ probability: Float,
                              _ address: PhiloxAddress) throws {
        let blocks = (Int(address.counter % 4) + count + 3) / 4
        try launch(program(.dropout), "dropout", global: [blocks],
                   [.buffer(input), .buffer(output), .int(count), .float(probability), .float(1 / (1 - probability)),
                    .ulong(address.seed), .ulong(address.stream), .ulong(address.counter)])
    }

    /// Philox blocks computed on the device, for known-answer tests of philox.cl:
    /// each input is `(c0, c1, c2, c3, k0, k1)`.
    public func philoxBlocks(_ inputs: [[UInt32]]) throws -> [[UInt32]] {
        guard inputs.allSatisfy({ $0.count == 6 }) else {
            throw SynapseError.invalidArgument(op: "philoxBlocks", message: "each input needs 4 counter and 2 key words")
        }
        let input = try buffer(int32: inputs.flatMap { $0.map { Int32(bitPattern: $0) } })
        let output = try allocate(4 * inputs.count, .int32)
        try launch(program(.dropout), "philox_blocks", global: [inputs.count],
                   [.buffer(input), .buffer(output), .int(inputs.count)])
        let words = try downloadInt32(output).map { UInt32(bitPattern: $0) }
        return (0..<inputs.count).map { Array(words[4 * $0 ..< 4 * $0 + 4]) }
    }

    // MARK: Local response normalisation

    public func lrnForward(input: Buffer, output: Buffer, scale: Buffer, geometry g: LRNGeometry) throws {
        try Check.lrn(on: self, op: "lrnForward", geometry: g, ["input": input, "output": output, "scale": scale])
        try launch(program(.lrn), "lrn_forward", elements: g.count,
                   [.buffer(input), .buffer(output), .buffer(scale), .int(g.batch), .int(g.channels), .int(g.spatial),
                    .int(g.size), .float(g.alpha), .float(g.beta), .float(g.k)])
    }

    public func lrnBackward(input: Buffer, output: Buffer, scale: Buffer, gradOutput: Buffer, gradInput: Buffer,
                            geometry g: LRNGeometry) throws {
        try Check.lrn(on: self, op: "lrnBackward", geometry: g, ["input": input, "output": output, "scale": scale,
                                                                 "gradOutput": gradOutput, "gradInput": gradInput])
        try launch(program(.lrn), "lrn_backward", elements: g.count,
                   [.buffer(input), .buffer(output), .buffer(scale), .buffer(gradOutput), .buffer(gradInput),
                    .int(g.batch), .int(g.channels), .int(g.spatial), .int(g.size), .float(g.alpha), .float(g.beta)])
    }

    // MARK: Elementwise

    public func axpy(alpha: Float, x: Buffer, y: Buffer, count: Int) throws {
        try Check.elementwise(on: self, op: "axpy", count: count, ["x": x, "y": y])
        try launch(program(.elementwise), "axpy", elements: count, [.float(alpha), .buffer(x), .buffer(y), .int(count)])
    }

    public func scale(_ x: Buffer, by alpha: Float, count: Int) throws {
        try Check.elementwise(on: self, op: "scale", count: count, ["x": x])
        try launch(program(.elementwise), "scale", elements: count, [.buffer(x), .float(alpha), .int(count)])
    }

    public func multiply(_ a: Buffer, _ b: Buffer, output: Buffer, count: Int) throws {
        try Check.elementwise(on: self, op: "multiply", count: count, ["a": a, "b": b, "output": output])
        try launch(program(.elementwise), "multiply", elements: count,
                   [.buffer(a), .buffer(b), .buffer(output), .int(count)])
    }

    // MARK: Reductions

    public func sum(_ x: Buffer, count: Int, result: Buffer) throws {
        try reduce(x, count: count, result: result, squares: false)
    }

    public func sumOfSquares(_ x: Buffer, count: Int, result: Buffer) throws {
        try reduce(x, count: count, result: result, squares: true)
    }

    private func reduce(_ x: Buffer, count: Int, result: Buffer, squares: Bool) throws {
        try Check.reduction(on: self, op: squares ? "sumOfSquares" : "sum", x: x, count: count, result: result)
        let group = reductionGroupSize
        let groups = min(64, (count + group - 1) / group)
        let partials = try allocate(groups, .float32)
        let program = try program(.reduce, options: "\(groupSizeOption) -DSQUARE=\(squares ? 1 : 0)")
        try launch(program, "reduce_partial", global: [groups * group], local: [group],
                   [.buffer(x), .int(count), .buffer(partials)])
        try launch(program, "reduce_final", global: [group], local: [group],
                   [.buffer(partials), .int(groups), .buffer(result)])
    }

    // MARK: Optimizers

    public func sgdMomentumUpdate(weights: Buffer, gradients: Buffer, velocity: Buffer, count: Int,
                                  parameters p: SGDParameters) throws {
        try Check.elementwise(on: self, op: "sgdMomentumUpdate", count: count,
                              ["weights": weights, "gradients": gradients, "velocity": velocity])
        try launch(program(.sgd), "sgd_momentum", elements: count,
                   [.buffer(weights), .buffer(gradients), .buffer(velocity), .int(count), .float(p.learningRate),
                    .float(p.momentum), .float(p.weightDecay), .int(p.nesterov ? 1 : 0)])
    }

    public func adamUpdate(weights: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer,
                           count: Int, parameters p: AdamParameters) throws {
        try Check.adam(on: self, weights: weights, gradients: gradients, firstMoment: firstMoment,
                       secondMoment: secondMoment, count: count, parameters: p)
        // Bias corrections come from the host so every device uses the same Float32 values.
        try launch(program(.adam), "adam", elements: count,
                   [.buffer(weights), .buffer(gradients), .buffer(firstMoment), .buffer(secondMoment), .int(count),
                    .float(p.learningRate), .float(p.beta1), .float(p.beta2), .float(p.epsilon),
                    .float(p.weightDecay), .float(p.biasCorrection1), .float(p.sqrtBiasCorrection2)])
    }
}
