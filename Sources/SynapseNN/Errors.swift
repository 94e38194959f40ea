import SynapseCore

/// Errors raised by model code: building a network, reading data and checkpoints, training.
/// Each names the layer, file or field at fault.
public enum NNError: Error, Equatable, CustomStringConvertible {
    /// A layer cannot take the shape the previous layer (or the model input) produces.
    case layerShape(layer: String, summary: String, expected: String, got: [Int], producer: String)
    /// A device error (out of memory, an OpenCL failure, a bad argument) while a layer was being built or run;
    /// `cause` is the error itself, so a caller can still match it (`.outOfMemory`).
    case layerFailed(layer: String, phase: String, cause: SynapseError)
    /// A model definition that cannot be built (duplicate layer names, no layers, bad hyper-parameters).
    case invalidModel(String)
    /// A data file that is missing, truncated, or not what its name says.
    case dataFile(path: String, message: String)
    /// A checkpoint that cannot be read, or that does not fit the model.
    case checkpoint(path: String, message: String)
    /// The loss became NaN or infinite; training stopped. `checkpoint` is the last good one, if any.
    case nonFiniteLoss(epoch: Int, step: Int, loss: Float, checkpoint: String?)
    /// After epoch `epoch` the model is no longer usable (`what`: its parameters or held-out loss are not finite);
    /// training stopped. `checkpoint` is the last good one, if any.
    case diverged(epoch: Int, what: String, checkpoint: String?)
    /// A training or command-line setting out of its domain.
    case invalidSetting(name: String, message: String)

    /// The message shown to the user, naming the layer, file or setting at fault.
    public var description: String {
        switch self {
        case let .layerShape(layer, summary, expected, got, producer):
            return "layer '\(layer)' (\(summary)) expects input \(expected) but \(producer) produces \(describe(got))"
        case let .layerFailed(layer, phase, cause):
            return "layer '\(layer)' failed in \(phase): \(cause)"
        case let .invalidModel(message):
            return "invalid model: \(message)"
        case let .dataFile(path, message):
            return "\(path): \(message)"
        case let .checkpoint(path, message):
            return "checkpoint \(path): \(message)"
        case let .nonFiniteLoss(epoch, step, loss, checkpoint):
            let kept = checkpoint.map { "; the last good checkpoint is kept at \($0)" } ?? ""
            return "training stopped: the loss became \(loss) at epoch \(epoch), step \(step)\(kept)"
        case let .diverged(epoch, what, checkpoint):
            let kept = checkpoint.map { "; the last good checkpoint is kept at \($0)" } ?? ""
            return "training stopped: the run diverged in epoch \(epoch) (\(what))\(kept)"
        case let .invalidSetting(name, message):
            return "\(name): \(message)"
        }
    }
}

/// Thrown by `Layer.build` when the input shape does not fit; the model adds the layer names.
public struct UnexpectedInputShape: Error {
    /// What the layer accepts, e.g. `[400] (a flat vector; add Flatten before Dense)`.
    public let expected: String
    /// An error saying what the layer accepts.
    public init(expected: String) { self.expected = expected }
}
