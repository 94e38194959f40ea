/// The argument checks of each `Backend` primitive, in one place, so that every backend validates the
/// same things in the same order and throws the same errors. Backends call these first thing.
extension Check {
    public static func fill(on b: Backend, buffer: Buffer, offset: Int, count: Int) throws {
        try positive(op: "fill", ["count": count])
        try Check.buffer(buffer, "buffer", op: "fill", on: b, count: count, offset: offset)
    }

    public static func im2col(on b: Backend, image: Buffer, imageOffset: Int, geometry g: ConvGeometry,
                              columns: Buffer, columnsOffset: Int) throws {
        try g.validate(op: "im2col")
        try buffer(image, "image", op: "im2col", on: b, count: g.imageSpan, offset: imageOffset)
        try buffer(columns, "columns", op: "im2col", on: b, count: g.columnCount, offset: columnsOffset)
        try distinct(op: "im2col", [("image", image), ("columns", columns)])
    }

    public static func col2im(on b: Backend, columns: Buffer, columnsOffset: Int, geometry g: ConvGeometry,
                              image: Buffer, imageOffset: Int) throws {
        try g.validate(op: "col2im")
        try buffer(columns, "columns", op: "col2im", on: b, count: g.columnCount, offset: columnsOffset)
        try buffer(image, "image", op: "col2im", on: b, count: g.imageSpan, offset: imageOffset)
        try distinct(op: "col2im", [("columns", columns), ("image", image)])
    }

    public static func transposeBlocks(on b: Backend, input: Buffer, inputOffset: Int, output: Buffer,
                                       outputOffset: Int, rows: Int, columns: Int, blockSize: Int) throws {
        let op = "transposeBlocks"
        try positive(op: op, ["rows": rows, "columns": columns, "blockSize": blockSize])
        try sizes(op: op, [:], products: [[rows, columns, blockSize]])
        try buffer(input, "input", op: op, on: b, count: rows * columns * blockSize, offset: inputOffset)
        try buffer(output, "output", op: op, on: b, count: rows * columns * blockSize, offset: outputOffset)
        try distinct(op: op, [("input", input), ("output", output)])
    }

    /// A pooling op: `inputSized` and `outputSized` are the float buffers shaped like the pool's input and
    /// output planes; `argmax` (int32, output-sized) for max pooling.
    public static func pool(on b: Backend, op: String, geometry g: PoolGeometry,
                            inputSized: KeyValuePairs<String, Buffer>, outputSized: KeyValuePairs<String, Buffer>,
                            argmax: Buffer? = nil) throws {
        try g.validate(op: op)
        for (name, x) in inputSized { try buffer(x, name, op: op, on: b, count: g.inputCount) }
        for (name, x) in outputSized { try buffer(x, name, op: op, on: b, count: g.outputCount) }
        if let argmax { try buffer(argmax, "argmax", op: op, on: b, count: g.outputCount, dtype: .int32) }
        try distinct(op: op, Array(inputSized) + Array(outputSized) + (argmax.map { [("argmax", $0)] } ?? []))
    }

    /// `data` is `[outer, channels, inner]`, `bias` is `[channels]`.
    public static func bias(on b: Backend, op: String, data: (String, Buffer), bias: (String, Buffer),
                            outer: Int, channels: Int, inner: Int) throws {
        try positive(op: op, ["outer": outer, "channels": channels, "inner": inner])
        try sizes(op: op, [:], products: [[outer, channels, inner]])
        try buffer(data.1, data.0, op: op, on: b, count: outer * channels * inner)
        try buffer(bias.1, bias.0, op: op, on: b, count: channels)
        try distinct(op: op, [data, bias])
    }

    /// Row-wise ops on `[rows, cols]` matrices, with int32 `labels` and a per-row `losses` vector when given.
    public static func rows(on b: Backend, op: String, rows: Int, cols: Int, matrices: KeyValuePairs<String, Buffer>,
                            labels: Buffer? = nil, losses: Buffer? = nil) throws {
        try positive(op: op, ["rows": rows, "cols": cols])
        try sizes(op: op, [:], products: [[rows, cols]])
        for (name, x) in matrices { try buffer(x, name, op: op, on: b, count: rows * cols) }
        if let labels { try buffer(labels, "labels", op: op, on: b, count: rows, dtype: .int32) }
        if let losses { try buffer(losses, "losses", op: op, on: b, count: rows) }
    }

    public static func dropout(on b: Backend, op: String, count: Int, probability: Float,
                               _ buffers: KeyValuePairs<String, Buffer>) throws {
        try Check.probability(op: op, probability)
        try elementwise(on: b, op: op, count: count, buffers)
    }

    public static func lrn(on b: Backend, op: String, geometry g: LRNGeometry,
                           _ buffers: KeyValuePairs<String, Buffer>) throws {
        try g.validate(op: op)
        try elementwise(on: b, op: op, count: g.count, buffers)
        try distinct(op: op, Array(buffers))
    }

    /// `adamUpdate`: four distinct `count`-element buffers (an aliased moment would silently corrupt the
    /// update), and hyper-parameters in Adam's domain. A Float beta below 1 and a step of at least 1 keep the
    /// bias corrections `1 - beta^t` positive, so the update never divides by zero.
    public static func adam(on b: Backend, weights: Buffer, gradients: Buffer, firstMoment: Buffer,
                            secondMoment: Buffer, count: Int, parameters p: AdamParameters) throws {
        let op = "adamUpdate"
        func invalid(_ message: String) -> SynapseError { .invalidArgument(op: op, message: message) }
        guard p.step >= 1 else { throw invalid("step must be at least 1 (it is 1-based), got \(p.step)") }
        guard p.learningRate.isFinite, p.learningRate >= 0 else {
            throw invalid("learningRate must be finite and not negative, got \(p.learningRate)")
        }
        guard p.beta1 >= 0, p.beta1 < 1 else { throw invalid("beta1 must be in [0, 1), got \(p.beta1)") }
        guard p.beta2 >= 0, p.beta2 < 1 else { throw invalid("beta2 must be in [0, 1), got \(p.beta2)") }
        guard p.epsilon.isFinite, p.epsilon > 0 else {
            throw invalid("epsilon must be finite and positive, got \(p.epsilon)")
        }
        guard p.weightDecay.isFinite, p.weightDecay >= 0 else {
            throw invalid("weightDecay must be finite and not negative, got \(p.weightDecay)")
        }
        let buffers: KeyValuePairs<String, Buffer> = ["weights": weights, "gradients": gradients,
                                                      "firstMoment": firstMoment, "secondMoment": secondMoment]
        try elementwise(on: b, op: op, count: count, buffers)
        try sizes(op: op, ["count": count], products: [])
        try distinct(op: op, Array(buffers))
    }

    /// `sum` and `sumOfSquares`: the total goes to element 0 of `result`.
    public static func reduction(on b: Backend, op: String, x: Buffer, count: Int, result: Buffer) throws {
        try elementwise(on: b, op: op, count: count, ["x": x])
        try buffer(result, "result", op: op, on: b, count: 1)
    }
}
