import SynapseCore

/// The elementwise sum of its inputs, which must all have one shape: a residual connection, or the merge of
/// two branches. Its backward pass hands the output gradient to every input.
public final class Add: Layer {
    public var name: String

    /// A sum of two or more inputs; without a `name` it is named after its kind (`add1`) when built.
    public init(name: String = "") { self.name = name }

    public var summary: String { "Add" }

    public func build(inputShapes: [[Int]], context: BuildContext) throws -> [[Int]] {
        guard inputShapes.count >= 2, inputShapes.allSatisfy({ $0 == inputShapes[0] }) else {
            throw UnexpectedInputShape(expected: "two or more inputs of one shape, got \(inputShapes.map(describe).joined(separator: ", "))")
        }
        return [inputShapes[0]]
    }

    public func forward(_ call: LayerCall) throws -> [Tensor] {
        let y = try call.tensor("output", shape: call.input.shape)
        try call.backend.copy(from: call.inputs[0], to: y)
        for x in call.inputs.dropFirst() { try call.backend.axpy(alpha: 1, x: x, y: y) }
        return [y]
    }

    public func backward(_ call: LayerCall, outputGradients: [Tensor?]) throws -> [Tensor?] {
        guard let dy = outputGradients[0] else { return call.inputs.map { _ in nil } }
        return call.needsInputGradients.map { $0 ? dy : nil }
    }
}
