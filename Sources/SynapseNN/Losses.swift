import SynapseCore

/// A loss on a model output: the mean over the batch of a per-sample loss, left on the device. Objectives
/// are built from these.
public protocol Loss: AnyObject {
    /// The batch-mean loss of `output` against `targets`, in element 0 of the result (reading it is the only
    /// host synchronisation a training step needs, and the trainer does it only every few steps).
    func forward(_ output: Tensor, targets: Tensor) throws -> Tensor
    /// The gradient of the last `forward`'s loss with respect to its `output`.
    func backward() throws -> Tensor
}

/// Softmax followed by cross-entropy, fused for stability: `J = -(1/m) sum_i log p(y_i | x_i)`,
/// `dJ/dz = (p - onehot(y)) / m`, for logits `[m, classes]` and int32 class indices `[m]`.
public final class SoftmaxCrossEntropy: Loss {
    private let call: LayerCall
    private var last: (shape: [Int], labels: Tensor)?

    /// A loss whose buffers live on `backend`, allocated when first needed and reused after.
    public init(backend: Backend) { call = LayerCall(backend: backend) }

    /// The softmax probabilities of the last forward, `[batch, classes]`.
    public var lastProbabilities: Tensor? { last.flatMap { try? call.tensor("probabilities", shape: $0.shape) } }

    public func forward(_ logits: Tensor, targets labels: Tensor) throws -> Tensor {
        guard logits.shape.count == 2 else {
            throw NNError.invalidModel("SoftmaxCrossEntropy expects logits [batch, classes], got \(describe(logits.shape))")
        }
        let backend = call.backend, rows = logits.batch, cols = logits.shape[1]
        let p = try call.tensor("probabilities", shape: logits.shape), losses = try call.tensor("losses", shape: [rows])
        let result = try call.tensor("total", shape: [1])
        try backend.softmaxCrossEntropyForward(logits: logits, labels: labels, probabilities: p, losses: losses,
                                               rows: rows, cols: cols)
        try backend.sum(losses, result: result)
        try backend.scale(result, by: 1 / Float(rows))
        last = (logits.shape, labels)
        return result
    }

    public func backward() throws -> Tensor {
        guard let last else { throw NNError.invalidModel("SoftmaxCrossEntropy: backward called before forward") }
        let p = try call.tensor("probabilities", shape: last.shape), g = try call.tensor("gradient", shape: last.shape)
        try call.backend.softmaxCrossEntropyBackward(probabilities: p, labels: last.labels, gradLogits: g,
                                                     rows: last.shape[0], cols: last.shape[1])
        return g
    }
}

/// Squared error `C = (1/m) sum_i 1/2 ||a_i - y_i||^2`, so `dC/da = (a - y) / m`. Targets are float
/// tensors of the output's shape.
public final class SquaredError: Loss {
    private let call: LayerCall
    private var lastShape: [Int] = []

    /// A loss whose buffers live on `backend`, allocated when first needed and reused after.
    public init(backend: Backend) { call = LayerCall(backend: backend) }

    public func forward(_ output: Tensor, targets: Tensor) throws -> Tensor {
        let backend = call.backend
        guard targets.count == output.count else {
            throw NNError.invalidModel("SquaredError: targets hold \(targets.count) values for an output of shape \(describe(output.shape))")
        }
        let d = try call.tensor("difference", shape: output.shape), result = try call.tensor("total", shape: [1])
        try backend.copy(from: output, to: d)
        try backend.axpy(alpha: -1, x: targets.reshaped(output.shape), y: d)
        try backend.sumOfSquares(d, result: result)
        try backend.scale(result, by: 0.5 / Float(output.batch))
        lastShape = output.shape
        return result
    }

    public func backward() throws -> Tensor {
        guard !lastShape.isEmpty else { throw NNError.invalidModel("SquaredError: backward called before forward") }
        // The difference is needed only once, so the gradient is made in place from it.
        let d = try call.tensor("difference", shape: lastShape)
        try call.backend.scale(d, by: 1 / Float(lastShape[0]))
        lastShape = []
        return d
    }
}
