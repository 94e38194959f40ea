import SynapseCore

/// A lookup table of `count` vectors of `dimension` (PyTorch's `nn.Embedding`, weight `[count, dimension]`):
/// int32 indices of any shape `[...]` become vectors `[..., dimension]`. Its gradient is a deterministic
/// scatter-add of rows; the indices themselves get none. An index outside the table gives a row of NaN.
public final class Embedding: UnaryLayer {
    public var name: String
    /// Rows of the table: valid indices are `0..<count` (for text, the vocabulary size).
    public let count: Int
    /// Width of each vector.
    public let dimension: Int
    /// How the table is initialised.
    public let weightInit: Initializer
    /// The table, `[count, dimension]`; nil until the layer is built.
    public private(set) var weight: Parameter!

    /// PyTorch draws embeddings from N(0, 1).
    public init(_ count: Int, dimension: Int, name: String = "", weightInit: Initializer = .gaussian(mean: 0, std: 1)) {
        self.count = count
        self.dimension = dimension
        self.name = name
        self.weightInit = weightInit
    }

    public var summary: String { "Embedding(\(count)->\(dimension))" }
    public var parameters: [Parameter] { weight.map { [$0] } ?? [] }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard count > 0, dimension > 0 else {
            throw NNError.invalidModel("layer '\(name)': Embedding needs a positive size and dimension, got \(count) and \(dimension)")
        }
        weight = context.parameter("\(name).weight", shape: [count, dimension], initializer: weightInit, fanIn: count,
                                   fanOut: dimension)
        return inputShape + [dimension]
    }

    public func forward(_ indices: Tensor, _ call: LayerCall) throws -> Tensor {
        let y = try call.tensor("output", shape: indices.shape + [dimension])
        try call.backend.gatherRows(table: weight.value, indices: indices, output: y, rows: count, width: dimension)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard !call.needsInputGradient else {
            throw NNError.invalidModel("layer '\(name)': an embedding's input is indices, which have no gradient")
        }
        // A first contribution starts from zero: a scatter touches only the rows its indices name.
        if weight.gradientBeta() == 0 { try call.backend.fill(weight.gradient, value: 0) }
        try call.backend.scatterAddRows(gradients: dy, indices: call.input, table: weight.gradient, rows: count,
                                        width: dimension)
        return nil
    }
}
