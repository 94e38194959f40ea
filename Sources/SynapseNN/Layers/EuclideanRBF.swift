import SynapseCore

/// LeNet-5's output layer: one Euclidean radial basis function unit per class, `y_i = sum_j (x_j - w_ij)^2`, the
/// squared distance from the input to the class's fixed prototype of +1 and -1 values (LeCun et al. 1998). The layer
/// outputs the scores `-y_i`, so that softmax cross-entropy on them is the paper's discriminative criterion
/// `y_D + log(e^(-j) + sum_i e^(-y_i))` with `j` large. The prototypes are not trained and not stored: they come
/// from a fixed Philox address (the paper drew them as 7x12 bitmaps of characters; these classes have none), the
/// same in every run.
public final class EuclideanRBF: UnaryLayer {
    public var name: String
    /// Output units, one per class.
    public let classes: Int
    /// The prototypes, `[classes, inputs]` row-major, each value +1 or -1; empty until built.
    public private(set) var prototypes: [Float] = []
    private var inputs = 0

    /// Where the prototypes' signs are drawn: a constant, so that they do not depend on the run's seed.
    static let prototypeAddress = PhiloxAddress(seed: 0x4C65_4E65_7435, stream: 0)

    /// `classes` RBF units over the input's features.
    public init(classes: Int, name: String = "") {
        self.classes = classes
        self.name = name
    }

    public var summary: String { "EuclideanRBF(\(inputs > 0 ? "\(inputs)" : "?")->\(classes), fixed +-1 prototypes)" }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 1 else { throw UnexpectedInputShape(expected: "a flat vector [features]") }
        guard classes > 0 else { throw NNError.invalidModel("layer '\(name)': needs at least one class, got \(classes)") }
        inputs = inputShape[0]
        prototypes = Philox.words(Self.prototypeAddress, count: classes * inputs).map { $0 & 1 == 0 ? -1 : 1 }
        return [classes]
    }

    /// The prototypes and a column of ones, on the device, in the call's buffers.
    private func constants(_ call: LayerCall) throws -> (prototypes: Tensor, ones: Tensor) {
        let w = try call.tensor("prototypes", shape: [classes, inputs]), ones = try call.tensor("ones", shape: [max(classes, inputs)])
        try call.backend.upload(prototypes, to: w)
        try call.backend.fill(ones, value: 1)
        return (w, ones)
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let backend = call.backend, rows = x.batch, (w, ones) = try constants(call)
        // -||x - w_i||^2 = 2 x.w_i - ||w_i||^2 - ||x||^2.
        let scores = try call.tensor("output", shape: [rows, classes])
        try backend.gemm(transA: false, transB: true, m: rows, n: classes, k: inputs, alpha: 2, a: x, lda: inputs,
                         b: w, ldb: inputs, beta: 0, c: scores, ldc: classes)
        let norms = try call.tensor("prototypeNorms", shape: [classes])
        try backend.upload((0..<classes).map { _ in -Float(inputs) }, to: norms)   // each prototype's squared norm
        try backend.biasAdd(data: scores, bias: norms, outer: rows, channels: classes, inner: 1)
        let squares = try call.tensor("squares", shape: [rows, inputs]), rowNorms = try call.tensor("rowNorms", shape: [rows])
        try backend.multiply(x, x, output: squares)
        try backend.gemm(transA: false, transB: false, m: rows, n: 1, k: inputs, alpha: 1, a: squares, lda: inputs,
                         b: ones.elements(0..<inputs), ldb: 1, beta: 0, c: rowNorms, ldc: 1)
        try backend.gemm(transA: false, transB: false, m: rows, n: classes, k: 1, alpha: -1, a: rowNorms, lda: 1,
                         b: ones.elements(0..<classes), ldb: classes, beta: 1, c: scores, ldc: classes)
        return scores
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        let backend = call.backend, x = call.input, rows = x.batch
        let w = try call.tensor("prototypes", shape: [classes, inputs]), ones = try call.tensor("ones", shape: [max(classes, inputs)])
        // d(-||x - w_i||^2)/dx = 2 (w_i - x): dx = 2 dy W - 2 x * (row sums of dy).
        let dx = try call.tensor("gradInput", shape: x.shape)
        try backend.gemm(transA: false, transB: false, m: rows, n: inputs, k: classes, alpha: 2, a: dy, lda: classes,
                         b: w, ldb: inputs, beta: 0, c: dx, ldc: inputs)
        let sums = try call.tensor("gradientSums", shape: [rows]), spread = try call.tensor("spread", shape: [rows, inputs])
        try backend.gemm(transA: false, transB: false, m: rows, n: 1, k: classes, alpha: 1, a: dy, lda: classes,
                         b: ones.elements(0..<classes), ldb: 1, beta: 0, c: sums, ldc: 1)
        try backend.gemm(transA: false, transB: false, m: rows, n: inputs, k: 1, alpha: 1, a: sums, lda: 1,
                         b: ones.elements(0..<inputs), ldb: inputs, beta: 0, c: spread, ldc: inputs)
        try backend.multiply(spread, x, output: spread)
        try backend.axpy(alpha: -2, x: spread, y: dx)
        return dx
    }
}
