import SynapseCore

/// One node of a `Graph`: a layer applied to named tensors, producing named tensors. A layer may appear in
/// several nodes (a recurrent cell unrolled over time, weights shared by two branches): it is built once,
/// runs once per node with its own `LayerCall`, and its parameters receive the sum of the nodes' gradients.
public struct Node {
    /// The layer this node runs; the same layer may run in several nodes.
    public let layer: Layer
    /// The names of the tensors the layer reads, in the order of its inputs.
    public let inputs: [String]
    /// The names the layer's outputs are given, in order; each must be new to the graph.
    public let outputs: [String]

    /// A node running `layer` on the tensors named `inputs`, naming its outputs `outputs`.
    public init(_ layer: Layer, inputs: [String], outputs: [String]) {
        self.layer = layer
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// A static graph of named nodes with several inputs and outputs (Caffe's `Net`). Nodes run in the order
/// given, each reading tensors that the model inputs or earlier nodes provide. Building checks every shape and
/// allocates every parameter in one `ParameterArena`. A tensor read by several nodes receives the sum of their
/// gradients; gradients are computed only where they are needed (a layer whose input is data computes none
/// for it).
public class Graph {
    /// The names of the model inputs, in the order given.
    public let inputNames: [String]
    /// The nodes, in the order they run.
    public let nodes: [Node]
    /// The names of the tensors `forward` returns.
    public let outputNames: [String]
    /// The device the model runs on.
    public let backend: Backend
    /// The run's seed: the initial parameters, the dropout masks and each epoch's sample order come from it.
    public let seed: UInt64
    /// The model's parameter values and gradients, in one allocation each.
    public let arena: ParameterArena
    /// In data-parallel training, the rows of the global batch the next forward pass runs (the trainer sets it).
    public var batchShard: BatchShard?
    /// Called during `backward` with the parameters whose gradients the pass has just completed (every node that
    /// uses them is done), so that data-parallel training can all-reduce them while the rest of backward runs.
    public var gradientsComplete: (([Parameter]) throws -> Void)?
    /// Per node, the parameters it is the last in backward order to use (the first in forward order).
    private lazy var completing: [[Parameter]] = {
        var first: [ObjectIdentifier: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for p in node.layer.parameters where first[ObjectIdentifier(p)] == nil { first[ObjectIdentifier(p)] = index }
        }
        var completing = [[Parameter]](repeating: [], count: nodes.count)
        for p in arena.parameters {
            if let index = first[ObjectIdentifier(p)] { completing[index].append(p) }
        }
        return completing
    }()
    /// The per-sample shape of every tensor, inputs included.
    public let shapes: [String: [Int]]
    /// Every distinct layer, in the order of its first node.
    public let distinctLayers: [Layer]

    /// What produces each tensor, for error messages.
    private let producers: [String: String]
    /// How many node inputs read each tensor.
    private let readers: [String: Int]
    private let calls: [LayerCall]
    /// Sums of the gradients of tensors read by several nodes, by tensor name.
    private var accumulators: [String: Buffer] = [:]
    private var lastForward: [String: Tensor] = [:]
    private var lastBatch = 0

    /// Builds `nodes` on `backend` for the per-sample `inputs` shapes. Layers without a name are named after
    /// their kind (`dense1`, `conv2d2`); two different layers may not share a name.
    public init(inputs: [(name: String, shape: [Int])], nodes: [Node], outputs: [String], backend: Backend,
                seed: UInt64) throws {
        guard !nodes.isEmpty else { throw NNError.invalidModel("a model needs at least one layer") }
        guard !inputs.isEmpty else { throw NNError.invalidModel("a model needs at least one input") }
        var layers: [Layer] = []
        var seenLayers = Set<ObjectIdentifier>()
        for node in nodes where seenLayers.insert(ObjectIdentifier(node.layer)).inserted { layers.append(node.layer) }
        Self.nameUnnamed(layers)
        var layerNames = Set<String>()
        for layer in layers where !layerNames.insert(layer.name).inserted {
            throw NNError.invalidModel("two layers are named '\(layer.name)'; parameter names must be unique")
        }

        var shapes: [String: [Int]] = [:], producers: [String: String] = [:], readers: [String: Int] = [:]
        for (name, shape) in inputs {
            guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else {
                throw NNError.invalidModel("input '\(name)' has shape \(describe(shape)); dimensions must be positive")
            }
            guard shapes[name] == nil else { throw NNError.invalidModel("two inputs are named '\(name)'") }
            shapes[name] = shape
            producers[name] = inputs.count == 1 ? "the model input" : "model input '\(name)'"
        }
        let context = BuildContext(backend: backend, seed: seed)
        var built: [ObjectIdentifier: (inputs: [[Int]], outputs: [[Int]])] = [:]
        for node in nodes {
            let layer = node.layer
            let inputShapes = try node.inputs.map { name -> [Int] in
                guard let shape = shapes[name] else {
                    throw NNError.invalidModel("layer '\(layer.name)' reads '\(name)', which neither a model input nor an earlier layer provides")
                }
                readers[name, default: 0] += 1
                return shape
            }
            let outputShapes: [[Int]]
            if let previous = built[ObjectIdentifier(layer)] {
                guard previous.inputs == inputShapes else {
                    throw NNError.layerShape(layer: layer.name, summary: layer.summary,
                                             expected: previous.inputs.map(describe).joined(separator: ", ") + " (as where it is first used)",
                                             got: inputShapes.first ?? [], producer: producers[node.inputs.first ?? ""] ?? "")
                }
                outputShapes = previous.outputs
            } else {
                do {
                    outputShapes = try layer.build(inputShapes: inputShapes, context: context)
                } catch let error as UnexpectedInputShape {
                    let described = node.inputs.map { producers[$0] ?? $0 }
                    throw NNError.layerShape(layer: layer.name, summary: layer.summary, expected: error.expected,
                                             got: inputShapes.first ?? [],
                                             producer: described.count == 1 ? described[0] : described.joined(separator: " and "))
                } catch let error as SynapseError {
                    throw NNError.layerFailed(layer: layer.name, phase: "build", cause: error)
                }
                built[ObjectIdentifier(layer)] = (inputShapes, outputShapes)
            }
            guard outputShapes.count == node.outputs.count else {
                throw NNError.invalidModel("layer '\(layer.name)' (\(layer.summary)) has \(outputShapes.count) outputs, the node names \(node.outputs.count)")
            }
            for (name, shape) in zip(node.outputs, outputShapes) {
                guard shapes[name] == nil else {
                    throw NNError.invalidModel("two tensors are named '\(name)' (layer '\(layer.name)' produces it again)")
                }
                shapes[name] = shape
                producers[name] = "layer '\(layer.name)' (\(layer.summary))"
            }
        }
        for name in outputs where shapes[name] == nil {
            throw NNError.invalidModel("the model output '\(name)' is neither an input nor produced by a layer")
        }
        do {
            arena = try context.allocateArena()
        } catch let error as SynapseError {
            throw NNError.layerFailed(layer: "parameters", phase: "build", cause: error)
        }
        inputNames = inputs.map(\.name)
        self.nodes = nodes
        outputNames = outputs
        self.backend = backend
        self.seed = seed
        self.shapes = shapes
        self.producers = producers
        self.readers = readers
        distinctLayers = layers
        calls = nodes.map { _ in LayerCall(backend: backend) }
    }

    /// Names each unnamed layer after its kind and its position among layers of that kind: `dense1`, `dense2`.
    static func nameUnnamed(_ layers: [Layer]) {
        var kindCounts: [String: Int] = [:]
        for layer in layers where layer.name.isEmpty {
            let kind = String(describing: type(of: layer)).lowercased()
            kindCounts[kind, default: 0] += 1
            layer.name = "\(kind)\(kindCounts[kind]!)"
        }
    }

    /// Every parameter, in the order the layers created them (model order).
    public var parameters: [Parameter] { arena.parameters }
    /// The number of trainable values in all parameters together.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// One line per node, for checkpoints: two models with the same architecture have the same text.
    public var architecture: String {
        inputNames.map { "input \($0) \(describe(shapes[$0]!))" }.joined(separator: "\n") + "\n"
            + nodes.map { "\($0.layer.name): \($0.layer.summary) (\($0.inputs.joined(separator: ", ")) -> \($0.outputs.joined(separator: ", ")))" }
                .joined(separator: "\n")
    }

    /// Starts a new sum of parameter gradients: from here, `backward` passes add up, and after each one every
    /// `Parameter.gradient` holds the sum of all contributions since this call. It fills nothing.
    public func zeroGradients() {
        arena.zeroGradients()
    }

    /// Runs every node on `inputs` (batch first; every input's first dimension is the batch) and returns the
    /// model outputs. What `backward` needs stays in the nodes' calls until the next `forward`.
    public func forward(_ inputs: [String: Tensor], training: Bool) throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        var batch: Int?
        for name in inputNames {
            guard let x = inputs[name] else { throw NNError.invalidModel("forward needs the model input '\(name)'") }
            guard x.sampleShape == shapes[name]!, x.batch > 0, batch == nil || batch == x.batch else {
                let first = nodes.first { $0.inputs.contains(name) }?.layer ?? nodes[0].layer
                throw NNError.layerShape(layer: first.name, summary: first.summary,
                                         expected: "a batch of \(describe(shapes[name]!))\(batch.map { " (batch \($0))" } ?? "")",
                                         got: x.shape, producer: "the caller")
            }
            batch = x.batch
            tensors[name] = x
        }
        for (node, call) in zip(nodes, calls) {
            call.prepare(inputs: node.inputs.map { tensors[$0]! }, training: training,
                         needsInputGradients: node.inputs.map { _ in false })
            call.batchShard = batchShard
            let outputs = try failing(node.layer, phase: "forward") { try node.layer.forward(call) }
            for (name, y) in zip(node.outputs, outputs) {
                guard y.sampleShape == shapes[name]! else {
                    throw NNError.invalidModel("layer '\(node.layer.name)' produced \(describe(y.shape)) for '\(name)', built for a batch of \(describe(shapes[name]!))")
                }
                tensors[name] = y
            }
        }
        lastForward = tensors
        lastBatch = batch ?? 0
        return Dictionary(uniqueKeysWithValues: outputNames.map { ($0, tensors[$0]!) })
    }

    /// Backpropagates from the gradients of model outputs (those not given count as zero), adding every
    /// parameter's gradient to `Parameter.gradient`; returns the gradients of the model inputs named in
    /// `inputGradients`. Call `zeroGradients` first, once per step.
    @discardableResult
    public func backward(_ outputGradients: [String: Tensor], inputGradients: Set<String> = []) throws -> [String: Tensor] {
        guard lastBatch > 0 else { throw NNError.invalidModel("backward called before forward") }
        for name in inputGradients where !inputNames.contains(name) {
            throw NNError.invalidModel("'\(name)' is not a model input")
        }
        var gradients: [String: Tensor] = [:]
        for (name, g) in outputGradients {
            guard let y = lastForward[name], outputNames.contains(name) else {
                throw NNError.invalidModel("'\(name)' is not a model output")
            }
            guard g.shape == y.shape else {
                throw NNError.invalidModel("the gradient of '\(name)' has shape \(describe(g.shape)), the output \(describe(y.shape))")
            }
            try accumulate(g, into: name, gradients: &gradients)
        }
        let needed = neededGradients(inputs: inputGradients)
        for index in nodes.indices.reversed() {
            let (node, call) = (nodes[index], calls[index])
            let outputs = node.outputs.map { gradients[$0] }
            let needs = node.inputs.map { needed.contains($0) }
            if outputs.contains(where: { $0 != nil }), node.layer.trains || needs.contains(true) {
                call.needsInputGradients = needs
                let inputs = try failing(node.layer, phase: "backward") { try node.layer.backward(call, outputGradients: outputs) }
                for (i, name) in node.inputs.enumerated() where needs[i] {
                    guard i < inputs.count, let g = inputs[i] else {
                        throw NNError.invalidModel("layer '\(node.layer.name)' returned no gradient for its input '\(name)'")
                    }
                    try accumulate(g, into: name, gradients: &gradients)
                }
            }
            if let gradientsComplete, !completing[index].isEmpty {
                for p in completing[index] where !p.gradientStarted {
                    try backend.fill(p.gradient, value: 0)
                    p.gradientStarted = true
                }
                try gradientsComplete(completing[index])
            }
        }
        try arena.completeGradients()
        return gradients.filter { inputGradients.contains($0.key) }
    }

    /// The tensors whose gradients the parameters or the requested inputs need: everything downstream of a
    /// parameter or of a requested input.
    private func neededGradients(inputs: Set<String>) -> Set<String> {
        var needed = inputs
        for node in nodes where node.layer.trains || node.inputs.contains(where: needed.contains) {
            needed.formUnion(node.outputs)
        }
        return needed
    }

    /// Adds `g` to the gradient of tensor `name`. A tensor read by several nodes sums in a buffer of the
    /// graph's own, so that no layer's buffer is written by another.
    private func accumulate(_ g: Tensor, into name: String, gradients: inout [String: Tensor]) throws {
        if let existing = gradients[name] {
            try backend.axpy(alpha: 1, x: g, y: existing)
            return
        }
        guard (readers[name] ?? 0) + (outputNames.contains(name) ? 1 : 0) > 1 else {
            gradients[name] = g
            return
        }
        if accumulators[name].map({ $0.count < g.count }) ?? true {
            accumulators[name] = try backend.allocate(g.count, .float32)
        }
        let sum = Tensor(accumulators[name]!, shape: g.shape)
        try backend.copy(from: g, to: sum)
        gradients[name] = sum
    }

    /// Runs one layer's pass, naming the layer in a device error.
    private func failing<T>(_ layer: Layer, phase: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SynapseError {
            throw NNError.layerFailed(layer: layer.name, phase: phase, cause: error)
        }
    }

    /// The tensor `name` (a model input or a layer's output) of the last forward pass, as Caffe's `blob_by_name`;
    /// it holds its values until the next forward pass. Nil before the first.
    public func lastTensor(_ name: String) -> Tensor? { lastForward[name] }

    /// Adds to element 0 of `loss` the terms every `PenaltyLayer` computed in the last training forward pass (a
    /// sparsity penalty); their gradients flow in `backward` without further ado.
    public func addPenalties(to loss: Tensor) throws {
        for (node, call) in zip(nodes, calls) {
            guard let layer = node.layer as? PenaltyLayer, let term = try layer.penalty(call) else { continue }
            try backend.axpy(alpha: 1, x: term, y: loss.elements(0..<1))
        }
    }

    /// Makes every recurrent layer start its next forward pass from a zero state rather than from where its
    /// last one ended: at the start of an epoch, of an evaluation, of a generated text.
    public func resetCarriedState() {
        for call in calls { call.resetCarriedState() }
    }

    /// Positions of the dropout layers in their random streams, keyed by layer name.
    public var randomCounters: [String: UInt64] {
        get {
            var counters: [String: UInt64] = [:]
            for case let layer as RandomizedLayer in distinctLayers { counters[layer.name] = layer.randomCounter }
            return counters
        }
        set {
            for case let layer as RandomizedLayer in distinctLayers {
                if let value = newValue[layer.name] { layer.randomCounter = value }
            }
        }
    }

    /// Bytes of device memory the parameters (values and gradients) and the layers' calls hold.
    public var memoryBytes: (parameters: Int, activations: Int) {
        (arena.bytes, calls.reduce(0) { $0 + $1.bytes } + accumulators.values.reduce(0) { $0 + $1.byteCount })
    }
}
