/// Elementwise ops, biases, softmax and reductions.
public protocol ElementwiseKernels {
    func uncheckedActivationForward(_ activation: Activation, input: Tensor, output: Tensor) throws
    func uncheckedActivationBackward(_ activation: Activation, input: Tensor, output: Tensor, gradOutput: Tensor,
                                     gradInput: Tensor) throws
    func uncheckedBiasAdd(data: Tensor, bias: Tensor, outer: Int, channels: Int, inner: Int) throws
    func uncheckedBiasGradient(gradOutput: Tensor, gradBias: Tensor, outer: Int, channels: Int, inner: Int,
                               accumulate: Bool) throws
    func uncheckedSoftmaxForward(input: Tensor, output: Tensor, rows: Int, cols: Int) throws
    func uncheckedSoftmaxBackward(output: Tensor, gradOutput: Tensor, gradInput: Tensor, rows: Int, cols: Int) throws
    func uncheckedSoftmaxCrossEntropyForward(logits: Tensor, labels: Tensor, probabilities: Tensor, losses: Tensor,
                                             rows: Int, cols: Int) throws
    func uncheckedSoftmaxCrossEntropyBackward(probabilities: Tensor, labels: Tensor, gradLogits: Tensor,
                                              rows: Int, cols: Int) throws
    func uncheckedAxpy(alpha: Float, x: Tensor, y: Tensor) throws
    func uncheckedScale(_ x: Tensor, by alpha: Float) throws
    func uncheckedMultiply(_ a: Tensor, _ b: Tensor, output: Tensor) throws
    func uncheckedClipToNorm(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws
    func uncheckedSparsityPenalty(meanActivation: Tensor, target: Float, divergence: Tensor, gradient: Tensor) throws
    func uncheckedSoftThreshold(_ x: Tensor, threshold: Float, output: Tensor) throws
    func uncheckedSigmoidCrossEntropy(logits: Tensor, labels: Tensor, losses: Tensor, gradients: Tensor) throws
    /// The total of `x` (of its squares when `squares`) into element 0 of `result`.
    func uncheckedSum(_ x: Tensor, squares: Bool, result: Tensor) throws
    func uncheckedLSTMCellForward(gates: Tensor, previousCell: Tensor, cell: Tensor, cellTanh: Tensor, hidden: Tensor,
                                  batch: Int, width: Int) throws
    func uncheckedLSTMCellBackward(gates: Tensor, previousCell: Tensor, cellTanh: Tensor, gradHidden: Tensor,
                                   gradCell: Tensor, gradGates: Tensor, batch: Int, width: Int) throws
}

extension Backend {
    public func activationForward(_ activation: Activation, input: Tensor, output: Tensor) throws {
        try Check.elementwise(on: self, op: "activationForward", ["input": input, "output": output])
        try uncheckedActivationForward(activation, input: input, output: output)
    }

    /// `gradInput = gradOutput * f'(input)`; sigmoid and tanh read the derivative from `output`.
    public func activationBackward(_ activation: Activation, input: Tensor, output: Tensor, gradOutput: Tensor,
                                   gradInput: Tensor) throws {
        try Check.elementwise(on: self, op: "activationBackward",
                              ["input": input, "output": output, "gradOutput": gradOutput, "gradInput": gradInput])
        try uncheckedActivationBackward(activation, input: input, output: output, gradOutput: gradOutput,
                                        gradInput: gradInput)
    }

    /// `data[o, c, i] += bias[c]` for a `[outer, channels, inner]` tensor.
    public func biasAdd(data: Tensor, bias: Tensor, outer: Int, channels: Int, inner: Int) throws {
        try Check.bias(on: self, op: "biasAdd", data: ("data", data), bias: ("bias", bias), outer: outer,
                       channels: channels, inner: inner)
        try uncheckedBiasAdd(data: data, bias: bias, outer: outer, channels: channels, inner: inner)
    }

    /// `gradBias[c] (+)= sum over o, i of gradOutput[o, c, i]`: added to what `gradBias` holds when `accumulate`,
    /// else overwriting it.
    public func biasGradient(gradOutput: Tensor, gradBias: Tensor, outer: Int, channels: Int, inner: Int,
                             accumulate: Bool) throws {
        try Check.bias(on: self, op: "biasGradient", data: ("gradOutput", gradOutput), bias: ("gradBias", gradBias),
                       outer: outer, channels: channels, inner: inner)
        try uncheckedBiasGradient(gradOutput: gradOutput, gradBias: gradBias, outer: outer, channels: channels,
                                  inner: inner, accumulate: accumulate)
    }

    /// Row-wise softmax of a `[rows, cols]` matrix, computed stably (max subtracted).
    public func softmaxForward(input: Tensor, output: Tensor, rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxForward", rows: rows, cols: cols, matrices: ["input": input, "output": output])
        try uncheckedSoftmaxForward(input: input, output: output, rows: rows, cols: cols)
    }

    /// `gradInput = y * (gradOutput - sum(gradOutput * y))` row-wise.
    public func softmaxBackward(output: Tensor, gradOutput: Tensor, gradInput: Tensor, rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxBackward", rows: rows, cols: cols,
                       matrices: ["output": output, "gradOutput": gradOutput, "gradInput": gradInput])
        try uncheckedSoftmaxBackward(output: output, gradOutput: gradOutput, gradInput: gradInput, rows: rows, cols: cols)
    }

    /// Softmax probabilities and per-row cross-entropy `-log p[label]`; `probabilities` may be `logits`.
    /// `labels` is int32; a label outside `0..<cols` yields a NaN loss for its row (labels live on the
    /// device, so this cannot throw).
    public func softmaxCrossEntropyForward(logits: Tensor, labels: Tensor, probabilities: Tensor, losses: Tensor,
                                           rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxCrossEntropyForward", rows: rows, cols: cols,
                       matrices: ["logits": logits, "probabilities": probabilities], labels: labels, losses: losses)
        try uncheckedSoftmaxCrossEntropyForward(logits: logits, labels: labels, probabilities: probabilities,
                                                losses: losses, rows: rows, cols: cols)
    }

    /// Gradient of the batch-mean loss: `(p - onehot(label)) / rows`.
    public func softmaxCrossEntropyBackward(probabilities: Tensor, labels: Tensor, gradLogits: Tensor,
                                            rows: Int, cols: Int) throws {
        try Check.rows(on: self, op: "softmaxCrossEntropyBackward", rows: rows, cols: cols,
                       matrices: ["probabilities": probabilities, "gradLogits": gradLogits], labels: labels)
        try uncheckedSoftmaxCrossEntropyBackward(probabilities: probabilities, labels: labels, gradLogits: gradLogits,
                                                 rows: rows, cols: cols)
    }

    /// `y += alpha * x`
    public func axpy(alpha: Float, x: Tensor, y: Tensor) throws {
        try Check.elementwise(on: self, op: "axpy", ["x": x, "y": y])
        try uncheckedAxpy(alpha: alpha, x: x, y: y)
    }

    /// `x *= alpha`
    public func scale(_ x: Tensor, by alpha: Float) throws {
        try Check.elementwise(on: self, op: "scale", ["x": x])
        try uncheckedScale(x, by: alpha)
    }

    /// `output = a * b`
    public func multiply(_ a: Tensor, _ b: Tensor, output: Tensor) throws {
        try Check.elementwise(on: self, op: "multiply", ["a": a, "b": b, "output": output])
        try uncheckedMultiply(a, b, output: output)
    }

    /// `x *= min(1, maxNorm / (sqrt(sumOfSquares[0]) + 1e-6))`: PyTorch's `clip_grad_norm_` scaling, with the
    /// squared norm read on the device (from `sumOfSquares`), so clipping needs no synchronisation.
    public func clipToNorm(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        let op = "clipToNorm"
        guard maxNorm.isFinite, maxNorm > 0 else {
            throw SynapseError.invalidArgument(op: op, message: "maxNorm must be finite and positive, got \(maxNorm)")
        }
        try Check.reduction(on: self, op: op, x: x, result: sumOfSquares)
        try uncheckedClipToNorm(x, sumOfSquares: sumOfSquares, maxNorm: maxNorm)
    }

    /// The terms of the sparse autoencoder's penalty (UFLDL's) for hidden units whose mean activations over a
    /// batch are `meanActivation` (`r`), against the target activation `target` (`rho`):
    /// `divergence[j] = KL(rho || r_j) = rho log(rho / r_j) + (1 - rho) log((1 - rho) / (1 - r_j))` and its
    /// derivative `gradient[j] = -rho / r_j + (1 - rho) / (1 - r_j)`. `r_j` is clamped to `[1e-6, 1 - 1e-6]`, so a
    /// unit that is always off or always on costs a large finite penalty, not an infinite one.
    public func sparsityPenalty(meanActivation: Tensor, target: Float, divergence: Tensor, gradient: Tensor) throws {
        let op = "sparsityPenalty"
        guard target > 0, target < 1 else {
            throw SynapseError.invalidArgument(op: op, message: "the target activation must lie in (0, 1), got \(target)")
        }
        try Check.elementwise(on: self, op: op, ["meanActivation": meanActivation, "divergence": divergence,
                                                 "gradient": gradient])
        try Check.disjoint(op: op, [("divergence", divergence), ("gradient", gradient)])
        try uncheckedSparsityPenalty(meanActivation: meanActivation, target: target, divergence: divergence,
                                     gradient: gradient)
    }

    /// The proximal step of the L1 norm: `output = sign(x) * max(|x| - threshold, 0)`, which shrinks every element
    /// towards 0 by `threshold` and zeroes those within it (ISTA's and FISTA's step for sparse codes). `output` may
    /// be `x`.
    public func softThreshold(_ x: Tensor, threshold: Float, output: Tensor) throws {
        let op = "softThreshold"
        guard threshold.isFinite, threshold >= 0 else {
            throw SynapseError.invalidArgument(op: op, message: "the threshold must be finite and not negative, got \(threshold)")
        }
        try Check.elementwise(on: self, op: op, ["x": x, "output": output])
        try uncheckedSoftThreshold(x, threshold: threshold, output: output)
    }

    /// Independent logistic units (word2vec's, a binary classifier's): for logit `s` and target `y` in [0, 1],
    /// `losses = -(y log sigmoid(s) + (1 - y) log(1 - sigmoid(s)))`, computed as `max(s, 0) - s y + log(1 + exp(-|s|))`
    /// so that it stays finite, and `gradients = sigmoid(s) - y`, the loss's derivative by `s`.
    public func sigmoidCrossEntropy(logits: Tensor, labels: Tensor, losses: Tensor, gradients: Tensor) throws {
        let op = "sigmoidCrossEntropy"
        try Check.elementwise(on: self, op: op, ["logits": logits, "labels": labels, "losses": losses, "gradients": gradients])
        try Check.disjoint(op: op, [("logits", logits), ("losses", losses), ("gradients", gradients)])
        try Check.disjoint(op: op, [("labels", labels), ("losses", losses), ("gradients", gradients)])
        try uncheckedSigmoidCrossEntropy(logits: logits, labels: labels, losses: losses, gradients: gradients)
    }

    /// The sum of `x` into element 0 of `result`, which stays on the device.
    public func sum(_ x: Tensor, result: Tensor) throws {
        try Check.reduction(on: self, op: "sum", x: x, result: result)
        try uncheckedSum(x, squares: false, result: result)
    }

    /// The sum of the squares of `x` into element 0 of `result`, which stays on the device.
    public func sumOfSquares(_ x: Tensor, result: Tensor) throws {
        try Check.reduction(on: self, op: "sumOfSquares", x: x, result: result)
        try uncheckedSum(x, squares: true, result: result)
    }
}

extension Backend {
    /// One time step of an LSTM cell (PyTorch's gate order i, f, g, o) on a `[batch, width]` state. `gates`
    /// `[batch, 4 * width]` holds the pre-activations `x W_ih^T + b_ih + h W_hh^T + b_hh` and receives the
    /// activations `i = sigmoid, f = sigmoid, g = tanh, o = sigmoid` of its four blocks, which the backward pass
    /// reads; then `cell = f * previousCell + i * g`, `cellTanh = tanh(cell)` (kept for the backward pass, which
    /// would otherwise compute it again) and `hidden = o * cellTanh`.
    public func lstmCellForward(gates: Tensor, previousCell: Tensor, cell: Tensor, cellTanh: Tensor, hidden: Tensor,
                                batch: Int, width: Int) throws {
        try Check.lstm(on: self, op: "lstmCellForward", batch: batch, width: width, gates: [("gates", gates)],
                       states: ["previousCell": previousCell, "cell": cell, "cellTanh": cellTanh, "hidden": hidden])
        try uncheckedLSTMCellForward(gates: gates, previousCell: previousCell, cell: cell, cellTanh: cellTanh,
                                     hidden: hidden, batch: batch, width: width)
    }

    /// The backward pass of `lstmCellForward` for one time step: from the activated `gates`, the previous cell,
    /// this step's `cellTanh` and the gradients of this step's hidden state (`gradHidden`) and cell (`gradCell`,
    /// from the next step), the gradients of the four pre-activations into `gradGates`, and the gradient of the
    /// previous cell into `gradCell` (in place).
    public func lstmCellBackward(gates: Tensor, previousCell: Tensor, cellTanh: Tensor, gradHidden: Tensor,
                                 gradCell: Tensor, gradGates: Tensor, batch: Int, width: Int) throws {
        try Check.lstm(on: self, op: "lstmCellBackward", batch: batch, width: width,
                       gates: [("gates", gates), ("gradGates", gradGates)],
                       states: ["previousCell": previousCell, "cellTanh": cellTanh, "gradHidden": gradHidden,
                                "gradCell": gradCell])
        try uncheckedLSTMCellBackward(gates: gates, previousCell: previousCell, cellTanh: cellTanh,
                                      gradHidden: gradHidden, gradCell: gradCell, gradGates: gradGates, batch: batch,
                                      width: width)
    }
}

extension Check {
    /// `gates` views of `[batch, 4 * width]` and `states` of `[batch, width]`, no two overlapping.
    static func lstm(on b: Backend, op: String, batch: Int, width: Int, gates: [(String, Tensor)],
                     states: KeyValuePairs<String, Tensor>) throws {
        try positive(op: op, ["batch": batch, "width": width])
        try sizes(op: op, [:], products: [[4, batch, width]])
        for (name, x) in gates { try view(x, name, op: op, on: b, count: 4 * batch * width, exact: true) }
        for (name, x) in states { try view(x, name, op: op, on: b, count: batch * width, exact: true) }
        try disjoint(op: op, gates + Array(states))
    }

    /// `data` is `[outer, channels, inner]`, `bias` is `[channels]`.
    static func bias(on b: Backend, op: String, data: (String, Tensor), bias: (String, Tensor),
                     outer: Int, channels: Int, inner: Int) throws {
        try positive(op: op, ["outer": outer, "channels": channels, "inner": inner])
        try sizes(op: op, [:], products: [[outer, channels, inner]])
        try view(data.1, data.0, op: op, on: b, count: outer * channels * inner, exact: true)
        try view(bias.1, bias.0, op: op, on: b, count: channels, exact: true)
        try disjoint(op: op, [data, bias])
    }

    /// Row-wise ops on `[rows, cols]` matrices (in place or disjoint), with int32 `labels` and a per-row
    /// `losses` vector when given.
    static func rows(on b: Backend, op: String, rows: Int, cols: Int, matrices: KeyValuePairs<String, Tensor>,
                     labels: Tensor? = nil, losses: Tensor? = nil) throws {
        try positive(op: op, ["rows": rows, "cols": cols])
        try sizes(op: op, [:], products: [[rows, cols]])
        for (name, x) in matrices { try view(x, name, op: op, on: b, count: rows * cols, exact: true) }
        try inPlaceOrDisjoint(op: op, Array(matrices))
        var others = [(String, Tensor)]()
        if let labels {
            try view(labels, "labels", op: op, on: b, count: rows, exact: true, dtype: .int32)
            others.append(("labels", labels))
        }
        if let losses {
            try view(losses, "losses", op: op, on: b, count: rows, exact: true)
            others.append(("losses", losses))
        }
        for matrix in matrices { try disjoint(op: op, [matrix] + others) }
    }

    /// `sum` and `sumOfSquares`: the total goes to element 0 of `result`.
    static func reduction(on b: Backend, op: String, x: Tensor, result: Tensor) throws {
        try elementwise(on: b, op: op, ["x": x])
        try view(result, "result", op: op, on: b, count: 1)
        try disjoint(op: op, [("x", x), ("result", result.elements(0..<1))])
    }
}
