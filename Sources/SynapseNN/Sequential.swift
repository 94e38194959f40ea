import SynapseCore

/// A chain of layers, the `Graph` whose nodes each read the previous one's output. Building checks every
/// layer's input shape and names the layer and both shapes when one does not fit.
public final class Sequential: Graph {
    /// The layers in the order they run.
    public let layers: [Layer]
    /// The per-sample input shape, e.g. `[1, 28, 28]` for Fashion-MNIST images.
    public let inputShape: [Int]

    /// The name of the chain's input tensor; every layer's output tensor is named after the layer.
    public static let inputName = "input"

    /// Builds `layers` into a chain for per-sample inputs of `inputShape`, naming unnamed layers after their kind.
    public init(inputShape: [Int], layers: [Layer], backend: Backend, seed: UInt64) throws {
        guard !layers.isEmpty else { throw NNError.invalidModel("a model needs at least one layer") }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw NNError.invalidModel("input shape \(describe(inputShape)) must have positive dimensions")
        }
        Graph.nameUnnamed(layers)
        var previous = Self.inputName
        let nodes = layers.map { layer -> Node in
            defer { previous = layer.name }
            return Node(layer, inputs: [previous], outputs: [layer.name])
        }
        self.layers = layers
        self.inputShape = inputShape
        try super.init(inputs: [(Self.inputName, inputShape)], nodes: nodes, outputs: [layers.last!.name],
                       backend: backend, seed: seed)
    }

    /// Per-sample output shape of each layer, in order.
    public var layerShapes: [[Int]] { layers.map { shapes[$0.name]! } }
    /// The per-sample output shape of the last layer.
    public var outputShape: [Int] { shapes[layers.last!.name]! }

    /// One line per layer, for checkpoints: two models with the same architecture have the same text.
    public override var architecture: String {
        "input \(describe(inputShape))\n" + layers.map { "\($0.name): \($0.summary)" }.joined(separator: "\n")
    }

    /// A table of layers, output shapes and parameter counts; a parameter shared with an earlier layer (a tied
    /// decoder's weight) counts where it is first used.
    public var summary: String {
        var lines = ["input \(describe(inputShape))"]
        let nameWidth = max(10, layers.map(\.name.count).max() ?? 0)
        let kindWidth = max(34, layers.map(\.summary.count).max() ?? 0)
        var counted = Set<ObjectIdentifier>()
        for (layer, shape) in zip(layers, layerShapes) {
            let count = layer.parameters.filter { counted.insert(ObjectIdentifier($0)).inserted }.reduce(0) { $0 + $1.count }
            let name = layer.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            let kind = layer.summary.padding(toLength: kindWidth, withPad: " ", startingAt: 0)
            lines.append("\(name) \(kind) -> \(describe(shape))\(count > 0 ? "  \(count) parameters" : "")")
        }
        lines.append("\(parameterCount) parameters")
        return lines.joined(separator: "\n")
    }

    /// The output of the last layer for a batch of inputs.
    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        try forward([Self.inputName: input], training: training)[layers.last!.name]!
    }

    /// Backpropagates from the gradient of the loss with respect to the last output, adding every
    /// parameter's gradient to `Parameter.gradient` (call `zeroGradients` first), and returns the gradient
    /// for the input.
    @discardableResult
    public func backward(_ gradOutput: Tensor) throws -> Tensor {
        try backward([layers.last!.name: gradOutput], inputGradients: [Self.inputName])[Self.inputName]!
    }

    /// `backward` without the gradient for the input, which training does not need: the first layer skips
    /// that work (for a convolution, a GEMM and a col2im).
    public func backwardParameters(_ gradOutput: Tensor) throws {
        try backward([layers.last!.name: gradOutput])
    }
}
