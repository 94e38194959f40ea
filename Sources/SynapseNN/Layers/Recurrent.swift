import SynapseCore

/// A stack of recurrent layers over sequences `[steps, features]` (PyTorch's `nn.RNN` / `nn.LSTM` with
/// `batch_first=True`): output `[steps, hidden]`, the top layer's hidden state at every step. `RNN` and `LSTM`
/// are its two cells. Parameters carry PyTorch's names and layouts (`weight_ih_l0` `[gates * hidden, in]`,
/// `weight_hh_l0` `[gates * hidden, hidden]`, `bias_ih_l0`, `bias_hh_l0`; LSTM gates in the order i, f, g, o),
/// so weights move to and from `torch.nn.LSTM` through safetensors.
///
/// Each layer makes the input part of every step's gates with one GEMM over the whole sequence, then runs the
/// steps in time order (a GEMM with the recurrent weight and the cell). Dropout applies to the outputs of
/// every layer but the last, in training. Each forward pass starts from a zero state, unless the layer
/// `carriesState`: then it starts from where its previous pass ended (truncated backpropagation through time,
/// as char-rnn trains: the state is carried, its gradient is not) when the batch is the same and the model has
/// not reset it (`Graph.resetCarriedState`).
///
/// Given an `embedding`, the stack reads token ids `[steps]` (int32) and looks them up in that table itself; its
/// parameters are then the table's and its own, each under its own name. A batch with more tokens than the table
/// has rows gets the first layer's input part of the gates from a table of its own, `embedding · W_ih^T` plus the
/// biases, one row per token id, made once per pass; and in backward the gates' gradient is summed per token id
/// before the two GEMMs that carry it to `W_ih` and to the table. The sums are the same, but those three GEMMs run
/// over the vocabulary rather than over every token of the batch.
public class Recurrent: UnaryLayer, RandomizedLayer {
    /// The cell every layer of the stack runs at each step.
    public enum Cell: Sendable {
        /// `h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)`
        case tanh
        /// The long short-term memory cell (Hochreiter & Schmidhuber), gates i, f, g, o.
        case lstm
    }

    public var name: String
    /// Which cell the layers run: plain tanh (`RNN`) or long short-term memory (`LSTM`).
    public let cell: Cell
    /// Units of each layer's hidden state, and so the width of the output at each step.
    public let hidden: Int
    /// Recurrent layers stacked, each reading the outputs of the one below.
    public let layers: Int
    /// Dropout probability on the outputs of every layer but the last, in training; 0 for none.
    public let dropout: Float
    /// Whether each forward pass starts from the state the previous one ended in rather than from zeros.
    public let carriesState: Bool
    /// The table the inputs, token ids, are looked up in; nil when the inputs are vectors `[steps, features]`.
    public let embedding: Embedding?
    /// The next Philox word of the dropout between layers; checkpoints store it.
    public var randomCounter: UInt64 = 0
    public private(set) var parameters: [Parameter] = []
    private typealias LayerWeights = (inputs: Parameter, recurrent: Parameter, inputBias: Parameter, recurrentBias: Parameter)
    private var weights: [LayerWeights] = []
    private var steps = 0, inputWidth = 0
    private var stream = PhiloxAddress(seed: 0)

    init(_ cell: Cell, hidden: Int, layers: Int, dropout: Float, carriesState: Bool, embedding: Embedding?, name: String) {
        self.cell = cell
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.carriesState = carriesState
        self.embedding = embedding
        self.name = name
    }

    private var gates: Int { cell == .lstm ? 4 * hidden : hidden }

    public var summary: String {
        let kind = cell == .lstm ? "LSTM" : "RNN"
        let width = inputWidth > 0 ? "\(inputWidth)" : "?"
        var parts = [(embedding.map { "\($0.count) tokens->" } ?? "") + "\(width)->\(hidden)"]
        if layers > 1 { parts.append("\(layers) layers") }
        if dropout > 0 { parts.append("dropout \(dropout)") }
        if carriesState { parts.append("carries state") }
        return "\(kind)(" + parts.joined(separator: ", ") + ")"
    }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        var inputShape = inputShape
        if let embedding {
            guard inputShape.count == 1 else { throw UnexpectedInputShape(expected: "a sequence of token ids [steps]") }
            // Named after this layer when unnamed, as PyTorch names a submodule: its parameter needs a name of its own.
            if embedding.name.isEmpty { embedding.name = "\(name).embedding" }
            inputShape = try embedding.build(inputShape: inputShape, context: context)
        }
        guard inputShape.count == 2 else { throw UnexpectedInputShape(expected: "a sequence [steps, features]") }
        guard hidden > 0, layers > 0, dropout >= 0, dropout < 1 else {
            throw NNError.invalidModel("layer '\(name)': needs a positive hidden size and layer count and a dropout in "
                + "[0, 1), got \(hidden), \(layers) and \(dropout)")
        }
        (steps, inputWidth) = (inputShape[0], inputShape[1])
        // PyTorch's initialisation: every weight and bias from U(-1/sqrt(hidden), 1/sqrt(hidden)).
        func parameter(_ kind: String, _ layer: Int, _ shape: [Int]) -> Parameter {
            context.parameter("\(name).\(kind)_l\(layer)", shape: shape, initializer: .pytorchDefault, fanIn: hidden,
                              fanOut: gates)
        }
        weights = (0..<layers).map { l in
            (parameter("weight_ih", l, [gates, l == 0 ? inputWidth : hidden]), parameter("weight_hh", l, [gates, hidden]),
             parameter("bias_ih", l, [gates]), parameter("bias_hh", l, [gates]))
        }
        parameters = (embedding?.parameters ?? []) + weights.flatMap { [$0.inputs, $0.recurrent, $0.inputBias, $0.recurrentBias] }
        if dropout > 0, layers > 1 { stream = context.dropoutAddress() }
        return [steps, hidden]
    }

    /// Whether the first layer's input gates are looked up per token id (see the type's documentation): when the
    /// batch has more tokens than the vocabulary has ids.
    private func looksUpGates(batch: Int) -> Bool { embedding.map { $0.count < steps * batch } ?? false }

    /// Where layer `l`'s dropout draws, from the call's base address.
    private func dropoutAddress(_ base: PhiloxAddress, layer l: Int, batch: Int) -> PhiloxAddress {
        base.advanced(by: l * steps * batch * hidden)
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let backend = call.backend, batch = x.batch, rows = steps * batch
        let drops = call.training && dropout > 0 && layers > 1
        call.randomAddress = drops ? PhiloxAddress(seed: stream.seed, stream: stream.stream, counter: randomCounter) : nil
        let carried = carriesState && call.carriedBatch == batch
        // Time-major, so that a step is a contiguous [batch, features] block. A first layer whose gates are looked up
        // per token id reads no vectors.
        var input = x, tokens: Tensor?
        if let embedding {
            let ids = try call.tensor("timeMajorTokens", shape: [steps, batch], dtype: .int32)
            try backend.transposeBlocks(input: x, output: ids, rows: batch, columns: steps, blockSize: 1)
            tokens = ids
            if !looksUpGates(batch: batch) {
                input = try call.tensor("timeMajorInput", shape: [steps, batch, inputWidth])
                try backend.gatherRows(table: embedding.weight.value, indices: ids, output: input, rows: embedding.count,
                                       width: inputWidth)
            }
        } else {
            input = try call.tensor("timeMajorInput", shape: [steps, batch, inputWidth])
            try backend.transposeBlocks(input: x, output: input, rows: batch, columns: steps, blockSize: inputWidth)
        }
        var width = inputWidth
        for (l, w) in weights.enumerated() {
            let pre = try call.tensor("gates\(l)", shape: [steps, batch, gates])
            if l == 0, let embedding, let tokens, looksUpGates(batch: batch) {
                let table = try call.tensor("tokenGates", shape: [embedding.count, gates])
                try backend.gemm(transA: false, transB: true, m: embedding.count, n: gates, k: width, alpha: 1,
                                 a: embedding.weight.value, lda: width, b: w.inputs.value, ldb: width, beta: 0, c: table,
                                 ldc: gates)
                try addBiases(w, to: table, rows: embedding.count, backend)
                try backend.gatherRows(table: table, indices: tokens, output: pre, rows: embedding.count, width: gates)
            } else {
                try backend.gemm(transA: false, transB: true, m: rows, n: gates, k: width, alpha: 1, a: input, lda: width,
                                 b: w.inputs.value, ldb: width, beta: 0, c: pre, ldc: gates)
                try addBiases(w, to: pre, rows: rows, backend)
            }
            let hs = try call.tensor("hidden\(l)", shape: [steps + 1, batch, hidden])
            let cs = cell == .lstm ? try call.tensor("cell\(l)", shape: [steps + 1, batch, hidden]) : nil
            let cellTanhs = cell == .lstm ? try call.tensor("cellTanh\(l)", shape: [steps, batch, hidden]) : nil
            try startState(hs.rows(0..<1), carry: "carriedHidden\(l)", carried: carried, call)
            if let cs { try startState(cs.rows(0..<1), carry: "carriedCell\(l)", carried: carried, call) }
            try forEachPart(batch: batch, backend) { r in
                for t in 0..<steps {
                    let gatesNow = step(pre, t, r)
                    try backend.gemm(transA: false, transB: true, m: r.count, n: gates, k: hidden, alpha: 1, a: step(hs, t, r),
                                     lda: hidden, b: w.recurrent.value, ldb: hidden, beta: 1, c: gatesNow, ldc: gates)
                    if let cs, let cellTanhs {
                        try backend.lstmCellForward(gates: gatesNow, previousCell: step(cs, t, r), cell: step(cs, t + 1, r),
                                                    cellTanh: step(cellTanhs, t, r), hidden: step(hs, t + 1, r),
                                                    batch: r.count, width: hidden)
                    } else {
                        try backend.activationForward(.tanh, input: gatesNow, output: step(hs, t + 1, r))
                    }
                }
            }
            if carriesState {
                try backend.copy(from: hs.rows(steps..<steps + 1), to: call.tensor("carriedHidden\(l)", shape: [batch, hidden]))
                if let cs {
                    try backend.copy(from: cs.rows(steps..<steps + 1), to: call.tensor("carriedCell\(l)", shape: [batch, hidden]))
                }
            }
            input = hs.rows(1..<steps + 1)
            if drops, l < layers - 1, let base = call.randomAddress {
                let dropped = try call.tensor("dropped\(l)", shape: input.shape)
                try backend.dropoutForward(input: input, output: dropped, probability: dropout,
                                           address: dropoutAddress(base, layer: l, batch: batch))
                input = dropped
            }
            width = hidden
        }
        if drops { randomCounter &+= UInt64((layers - 1) * rows * hidden) }
        call.carriedBatch = carriesState ? batch : nil
        let y = try call.tensor("output", shape: [batch, steps, hidden])
        try backend.transposeBlocks(input: input, output: y, rows: steps, columns: batch, blockSize: hidden)
        return y
    }

    private func addBiases(_ w: LayerWeights, to gates: Tensor, rows: Int, _ backend: Backend) throws {
        try backend.biasAdd(data: gates, bias: w.inputBias.value, outer: rows, channels: self.gates, inner: 1)
        try backend.biasAdd(data: gates, bias: w.recurrentBias.value, outer: rows, channels: self.gates, inner: 1)
    }

    /// The state a layer starts from: what the call carried from its last forward pass, or zeros.
    private func startState(_ state: Tensor, carry: String, carried: Bool, _ call: LayerCall) throws {
        if carried {
            try call.backend.copy(from: call.tensor(carry, shape: [state.count / hidden, hidden]), to: state)
        } else {
            try call.backend.fill(state, value: 0)
        }
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        if embedding != nil, call.needsInputGradient {
            throw NNError.invalidModel("layer '\(name)': its input is token ids, which have no gradient")
        }
        let backend = call.backend, batch = dy.batch, rows = steps * batch
        var gradOutput = try call.tensor("gradTimeMajor", shape: [steps, batch, hidden])
        try backend.transposeBlocks(input: dy, output: gradOutput, rows: batch, columns: steps, blockSize: hidden)
        var gradInput: Tensor?
        for (l, w) in weights.enumerated().reversed() {
            let width = l == 0 ? inputWidth : hidden
            let pre = try call.tensor("gates\(l)", shape: [steps, batch, gates])
            let hs = try call.tensor("hidden\(l)", shape: [steps + 1, batch, hidden])
            let gradGates = try call.tensor("gradGates\(l)", shape: [steps, batch, gates])
            let gradCell = cell == .lstm ? try call.tensor("gradCell\(l)", shape: [1, batch, hidden]) : nil
            let cs = cell == .lstm ? try call.tensor("cell\(l)", shape: [steps + 1, batch, hidden]) : nil
            let cellTanhs = cell == .lstm ? try call.tensor("cellTanh\(l)", shape: [steps, batch, hidden]) : nil
            if let gradCell { try backend.fill(gradCell, value: 0) }
            let gradHiddens = gradOutput
            try forEachPart(batch: batch, backend) { r in
                for t in (0..<steps).reversed() {
                    let gradHidden = step(gradHiddens, t, r), gradGatesNow = step(gradGates, t, r)
                    if let gradCell, let cs, let cellTanhs {
                        try backend.lstmCellBackward(gates: step(pre, t, r), previousCell: step(cs, t, r),
                                                     cellTanh: step(cellTanhs, t, r), gradHidden: gradHidden,
                                                     gradCell: step(gradCell, 0, r), gradGates: gradGatesNow,
                                                     batch: r.count, width: hidden)
                    } else {
                        try backend.activationBackward(.tanh, input: step(pre, t, r), output: step(hs, t + 1, r),
                                                       gradOutput: gradHidden, gradInput: gradGatesNow)
                    }
                    // The previous step's hidden state also fed this step: its gradient adds to that step's output
                    // gradient (this layer's own buffer). The carried initial state is a constant: nothing flows past
                    // the first step.
                    if t > 0 {
                        try backend.gemm(transA: false, transB: false, m: r.count, n: hidden, k: gates, alpha: 1,
                                         a: gradGatesNow, lda: gates, b: w.recurrent.value, ldb: hidden, beta: 1,
                                         c: step(gradHiddens, t - 1, r), ldc: hidden)
                    }
                }
            }
            try backend.gemm(transA: true, transB: false, m: gates, n: hidden, k: rows, alpha: 1, a: gradGates, lda: gates,
                             b: hs.rows(0..<steps), ldb: hidden, beta: w.recurrent.gradientBeta(), c: w.recurrent.gradient,
                             ldc: hidden)
            if l == 0, let embedding, looksUpGates(batch: batch) {
                try lookedUpGatesBackward(embedding, w, gradGates: gradGates, batch: batch, call)
                continue
            }
            try backend.gemm(transA: true, transB: false, m: gates, n: width, k: rows, alpha: 1, a: gradGates, lda: gates,
                             b: layerInput(l, call, batch: batch), ldb: width, beta: w.inputs.gradientBeta(),
                             c: w.inputs.gradient, ldc: width)
            try biasGradients(w, gradGates: gradGates, rows: rows, backend)
            guard l > 0 || call.needsInputGradient || embedding != nil else { continue }
            let gradLayerInput = try call.tensor("gradInput\(l)", shape: [steps, batch, width])
            try backend.gemm(transA: false, transB: false, m: rows, n: width, k: gates, alpha: 1, a: gradGates, lda: gates,
                             b: w.inputs.value, ldb: width, beta: 0, c: gradLayerInput, ldc: width)
            if l == 0, let embedding {
                // The token vectors' gradient goes to the table's rows. A scatter touches only the rows its ids
                // name: a first contribution starts from zero.
                let table = embedding.weight!
                if table.gradientBeta() == 0 { try backend.fill(table.gradient, value: 0) }
                try backend.scatterAddRows(gradients: gradLayerInput,
                                           indices: call.tensor("timeMajorTokens", shape: [steps, batch], dtype: .int32),
                                           table: table.gradient, rows: embedding.count, width: width)
                continue
            }
            gradInput = gradLayerInput
            if l > 0, let base = call.randomAddress {
                let undropped = try call.tensor("gradDropped\(l - 1)", shape: gradLayerInput.shape)
                try backend.dropoutBackward(gradOutput: gradLayerInput, gradInput: undropped, probability: dropout,
                                            address: dropoutAddress(base, layer: l - 1, batch: batch))
                gradOutput = undropped
            } else {
                gradOutput = gradLayerInput
            }
        }
        guard call.needsInputGradient, let gradInput else { return nil }
        let dx = try call.tensor("gradInput", shape: [batch, steps, inputWidth])
        try backend.transposeBlocks(input: gradInput, output: dx, rows: steps, columns: batch, blockSize: inputWidth)
        return dx
    }

    private func biasGradients(_ w: LayerWeights, gradGates: Tensor, rows: Int, _ backend: Backend) throws {
        for bias in [w.inputBias, w.recurrentBias] {
            try backend.biasGradient(gradOutput: gradGates, gradBias: bias.gradient, outer: rows, channels: gates, inner: 1,
                                     accumulate: bias.gradientBeta() == 1)
        }
    }

    /// The first layer's input gradients when its gates were looked up per token id: the gates' gradient summed per
    /// id, then carried to `W_ih`, its biases and the embedding table by GEMMs over the vocabulary.
    private func lookedUpGatesBackward(_ embedding: Embedding, _ w: LayerWeights, gradGates: Tensor, batch: Int,
                                       _ call: LayerCall) throws {
        let backend = call.backend, (count, width) = (embedding.count, inputWidth), table = embedding.weight!
        let gradTable = try call.tensor("gradTokenGates", shape: [count, gates])
        try backend.fill(gradTable, value: 0)
        try backend.scatterAddRows(gradients: gradGates, indices: call.tensor("timeMajorTokens", shape: [steps, batch], dtype: .int32),
                                   table: gradTable, rows: count, width: gates)
        try backend.gemm(transA: true, transB: false, m: gates, n: width, k: count, alpha: 1, a: gradTable, lda: gates,
                         b: table.value, ldb: width, beta: w.inputs.gradientBeta(), c: w.inputs.gradient, ldc: width)
        try biasGradients(w, gradGates: gradTable, rows: count, backend)
        try backend.gemm(transA: false, transB: false, m: count, n: width, k: gates, alpha: 1, a: gradTable, lda: gates,
                         b: w.inputs.value, ldb: width, beta: table.gradientBeta(), c: table.gradient, ldc: width)
    }

    /// The largest recurrent weight, in elements, for which the batch runs in parts (`forEachPart`): every part
    /// reads all of it at each step, which pays while it stays in each core's cache.
    static let partedRecurrentWeight = 1 << 18

    /// Runs `body(rows of the batch)` for parts of the batch at once (`Backend.concurrently`): the rows of a batch
    /// are independent sequences, so each part runs every time step without waiting for the others, when a step's
    /// GEMM and cell are too small to share out between threads (`DeviceProperties.parts(ofBatch:)` says how many).
    /// Otherwise one part, each op shared out.
    private func forEachPart(batch: Int, _ backend: Backend, _ body: (Range<Int>) throws -> Void) throws {
        let parts = gates * hidden <= Self.partedRecurrentWeight ? backend.properties.parts(ofBatch: batch) : 1
        try backend.concurrently(parts) { part in try body((part * batch / parts)..<((part + 1) * batch / parts)) }
    }

    /// Rows `r` of the batch at step `t` of a time-major `[steps, batch, width]` tensor.
    private func step(_ x: Tensor, _ t: Int, _ r: Range<Int>) -> Tensor {
        let (batch, width) = (x.shape[1], x.shape[2])
        return x.elements((t * batch + r.lowerBound) * width..<(t * batch + r.upperBound) * width).reshaped([r.count, width])
    }

    /// What layer `l` read in the forward pass, time-major: the input, or the layer below's output after dropout.
    private func layerInput(_ l: Int, _ call: LayerCall, batch: Int) throws -> Tensor {
        if l == 0 { return try call.tensor("timeMajorInput", shape: [steps, batch, inputWidth]) }
        if call.randomAddress != nil { return try call.tensor("dropped\(l - 1)", shape: [steps, batch, hidden]) }
        return try call.tensor("hidden\(l - 1)", shape: [steps + 1, batch, hidden]).rows(1..<steps + 1)
    }
}

/// Elman's recurrent layer with tanh, `h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)` (PyTorch's `nn.RNN`).
public final class RNN: Recurrent {
    /// A stack of `layers` tanh layers of `hidden` units; `Recurrent` describes `dropout`, `carriesState` and
    /// `embedding`.
    public init(hidden: Int, layers: Int = 1, dropout: Float = 0, carriesState: Bool = false, embedding: Embedding? = nil,
                name: String = "") {
        super.init(.tanh, hidden: hidden, layers: layers, dropout: dropout, carriesState: carriesState, embedding: embedding,
                   name: name)
    }
}

/// Long short-term memory (PyTorch's `nn.LSTM`): gates `i, f, g, o`, `c_t = f c_(t-1) + i g`, `h_t = o tanh(c_t)`.
public final class LSTM: Recurrent {
    /// A stack of `layers` LSTM layers of `hidden` units; `Recurrent` describes `dropout`, `carriesState` and
    /// `embedding`.
    public init(hidden: Int, layers: Int = 1, dropout: Float = 0, carriesState: Bool = false, embedding: Embedding? = nil,
                name: String = "") {
        super.init(.lstm, hidden: hidden, layers: layers, dropout: dropout, carriesState: carriesState, embedding: embedding,
                   name: name)
    }
}
