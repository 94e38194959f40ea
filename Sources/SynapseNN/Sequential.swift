import SynapseCore

/// A chain of layers built for one per-sample input shape on one backend. Building checks every
/// layer's input shape and names the layer and both shapes when one does not fit.
public final class Sequential {
    public let layers: [Layer]
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let backend: Backend
    public let seed: UInt64
    /// Per-sample output shape of each layer, in order.
    public let layerShapes: [[Int]]

    public init(inputShape: [Int], layers: [Layer], backend: Backend, seed: UInt64) throws {
        guard !layers.isEmpty else { throw NNError.invalidModel("a model needs at least one layer") }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw NNError.invalidModel("input shape \(describe(inputShape)) must have positive dimensions")
        }
        var kindCounts: [String: Int] = [:]
        for layer in layers where layer.name.isEmpty {
            let kind = String(describing: type(of: layer)).lowercased()
            kindCounts[kind, default: 0] += 1
            layer.name = "\(kind)\(kindCounts[kind]!)"
        }
        var seen = Set<String>()
        for layer in layers where !seen.insert(layer.name).inserted {
            throw NNError.invalidModel("two layers are named '\(layer.name)'; parameter names must be unique")
        }

        let context = BuildContext(backend: backend, seed: seed)
        var shape = inputShape
        var producer = "the model input"
        var shapes: [[Int]] = []
        for layer in layers {
            do {
                shape = try layer.build(inputShape: shape, context: context)
            } catch let error as UnexpectedInputShape {
                throw NNError.layerShape(layer: layer.name, summary: layer.summary, expected: error.expected,
                                         got: shape, producer: producer)
            } catch let error as SynapseError {
                throw NNError.layerFailed(layer: layer.name, phase: "build", error: error.description)
            }
            shapes.append(shape)
            producer = "layer '\(layer.name)' (\(layer.summary))"
        }
        self.layers = layers
        self.inputShape = inputShape
        self.outputShape = shape
        self.layerShapes = shapes
        self.backend = backend
        self.seed = seed
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// One line per layer, for checkpoints: two models with the same architecture have the same text.
    public var architecture: String {
        "input \(describe(inputShape))\n" + layers.map { "\($0.name): \($0.summary)" }.joined(separator: "\n")
    }

    /// A table of layers, output shapes and parameter counts.
    public var summary: String {
        var lines = ["input \(describe(inputShape))"]
        for (layer, shape) in zip(layers, layerShapes) {
            let count = layer.parameters.reduce(0) { $0 + $1.count }
            let name = layer.name.padding(toLength: max(10, layer.name.count), withPad: " ", startingAt: 0)
            let kind = layer.summary.padding(toLength: max(34, layer.summary.count), withPad: " ", startingAt: 0)
            lines.append("\(name) \(kind) -> \(describe(shape))\(count > 0 ? "  \(count) parameters" : "")")
        }
        lines.append("\(parameterCount) parameters")
        return lines.joined(separator: "\n")
    }

    public func forward(_ input: Tensor, training: Bool) throws -> Tensor {
        guard input.sampleShape == inputShape, input.batch > 0 else {
            throw NNError.layerShape(layer: layers[0].name, summary: layers[0].summary,
                                     expected: "a batch of \(describe(inputShape))", got: input.shape, producer: "the caller")
        }
        var x = input
        for layer in layers {
            x = try failing(layer, phase: "forward") { try layer.forward(x, training: training) }
        }
        return x
    }

    /// Backpropagates from the gradient of the loss with respect to the last output; afterwards every
    /// parameter's `gradient` holds the gradient of this step. Returns the gradient for the input.
    @discardableResult
    public func backward(_ gradOutput: Tensor) throws -> Tensor {
        var g = gradOutput
        for layer in layers.reversed() {
            g = try failing(layer, phase: "backward") { try layer.backward(g) }
        }
        return g
    }

    /// `backward` without the gradient for the input, which training does not need: the first layer
    /// skips that work (for a convolution, a GEMM and a col2im).
    public func backwardParameters(_ gradOutput: Tensor) throws {
        var g = gradOutput
        for layer in layers.dropFirst().reversed() {
            g = try failing(layer, phase: "backward") { try layer.backward(g) }
        }
        try failing(layers[0], phase: "backward") { try layers[0].backwardParameters(g) }
    }

    /// Runs one layer's pass, naming the layer in a device error.
    private func failing<T>(_ layer: Layer, phase: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SynapseError {
            throw NNError.layerFailed(layer: layer.name, phase: phase, error: error.description)
        }
    }

    /// Positions of the dropout layers in their random streams, keyed by layer name.
    public var randomCounters: [String: UInt64] {
        get {
            var counters: [String: UInt64] = [:]
            for case let layer as RandomizedLayer in layers { counters[layer.name] = layer.randomCounter }
            return counters
        }
        set {
            for case let layer as RandomizedLayer in layers {
                if let value = newValue[layer.name] { layer.randomCounter = value }
            }
        }
    }
}
