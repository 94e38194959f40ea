import SynapseCore

/// A training objective: the mean over the batch of a per-sample loss.
public protocol Loss: AnyObject {
    /// The batch-mean loss of `output` against `targets`, left on the device in element 0 of the result
    /// (reading it is the only host synchronisation a training step needs).
    func forward(_ output: Tensor, targets: Buffer) throws -> Buffer
    /// The gradient of the last `forward`'s loss with respect to its `output`.
    func backward() throws -> Tensor
}

/// Softmax followed by cross-entropy, fused for stability: `J = -(1/m) sum_i log p(y_i | x_i)`,
/// `dJ/dz = (p - onehot(y)) / m`. Targets are int32 class indices.
public final class SoftmaxCrossEntropy: Loss {
    private var probabilities: Buffer?
    private var rowLosses: Buffer?
    private var total: Buffer?
    private var gradient: Buffer?
    private var last: (shape: [Int], labels: Buffer)?

    public init() {}

    /// The softmax probabilities of the last forward, `[batch, classes]`.
    public var lastProbabilities: Tensor? { last.flatMap { l in probabilities.map { Tensor($0, shape: l.shape) } } }

    public func forward(_ logits: Tensor, targets labels: Buffer) throws -> Buffer {
        guard logits.shape.count == 2 else {
            throw NNError.invalidModel("SoftmaxCrossEntropy expects logits [batch, classes], got \(describe(logits.shape))")
        }
        let backend = logits.backend, rows = logits.batch, cols = logits.shape[1]
        let p = try reuse(&probabilities, count: logits.count, on: backend)
        let losses = try reuse(&rowLosses, count: rows, on: backend)
        let result = try reuse(&total, count: 1, on: backend)
        try backend.softmaxCrossEntropyForward(logits: logits.buffer, labels: labels, probabilities: p, losses: losses,
                                               rows: rows, cols: cols)
        try backend.sum(losses, count: rows, result: result)
        try backend.scale(result, by: 1 / Float(rows), count: 1)
        last = (logits.shape, labels)
        return result
    }

    public func backward() throws -> Tensor {
        guard let last, let p = probabilities else { throw NNError.invalidModel("SoftmaxCrossEntropy: backward called before forward") }
        let g = try reuse(&gradient, count: p.count, on: p.backend)
        try p.backend.softmaxCrossEntropyBackward(probabilities: p, labels: last.labels, gradLogits: g,
                                                   rows: last.shape[0], cols: last.shape[1])
        return Tensor(g, shape: last.shape)
    }
}

/// Squared error `C = (1/m) sum_i 1/2 ||a_i - y_i||^2`, so `dC/da = (a - y) / m`. Targets are float
/// tensors of the output's shape.
public final class SquaredError: Loss {
    private var difference: Buffer?
    private var total: Buffer?
    private var lastShape: [Int] = []

    public init() {}

    public func forward(_ output: Tensor, targets: Buffer) throws -> Buffer {
        let backend = output.backend, count = output.count
        guard targets.count >= count else {
            throw NNError.invalidModel("SquaredError: targets hold \(targets.count) values for an output of shape \(describe(output.shape))")
        }
        let d = try reuse(&difference, count: count, on: backend)
        let result = try reuse(&total, count: 1, on: backend)
        try backend.copy(from: output.buffer, offset: 0, to: d, offset: 0, count: count)
        try backend.axpy(alpha: -1, x: targets, y: d, count: count)
        try backend.sumOfSquares(d, count: count, result: result)
        try backend.scale(result, by: 0.5 / Float(output.batch), count: 1)
        lastShape = output.shape
        return result
    }

    public func backward() throws -> Tensor {
        guard let d = difference, !lastShape.isEmpty else { throw NNError.invalidModel("SquaredError: backward called before forward") }
        // The difference is needed only once, so the gradient is made in place from it.
        try d.backend.scale(d, by: 1 / Float(lastShape[0]), count: d.count)
        let gradient = Tensor(d, shape: lastShape)
        lastShape = []
        return gradient
    }
}
