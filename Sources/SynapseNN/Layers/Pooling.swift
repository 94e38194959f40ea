import SynapseCore

/// Max or average pooling over each channel of NCHW input (PyTorch's `nn.MaxPool2d` / `nn.AvgPool2d`,
/// floor mode). Windows may overlap, as in AlexNet's 3x3 stride-2 pooling.
public final class Pool2D: UnaryLayer {
    /// Max or average pooling; the raw value names the layer in summaries.
    public enum Kind: String { case max = "MaxPool2D", average = "AvgPool2D" }

    public var name: String
    /// Whether each window gives its maximum or its mean.
    public let kind: Kind
    /// Side of the square window, in pixels.
    public let kernel: Int
    /// The step between neighbouring windows, in both directions.
    public let stride: Int
    /// Implicit padding on each side, at most half the window.
    public let padding: Int
    private var channels = 0
    private var geometry: PoolGeometry!   // planes is set per batch

    /// `stride` defaults to the window size (non-overlapping pooling).
    public init(_ kind: Kind, kernel: Int, stride: Int? = nil, padding: Int = 0, name: String = "") {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.name = name
    }

    /// Max pooling over `kernel x kernel` windows; `stride` defaults to the window size.
    public static func max(_ kernel: Int, stride: Int? = nil, padding: Int = 0, name: String = "") -> Pool2D {
        Pool2D(.max, kernel: kernel, stride: stride, padding: padding, name: name)
    }

    /// Average pooling over `kernel x kernel` windows; `stride` defaults to the window size.
    public static func average(_ kernel: Int, stride: Int? = nil, padding: Int = 0, name: String = "") -> Pool2D {
        Pool2D(.average, kernel: kernel, stride: stride, padding: padding, name: name)
    }

    public var summary: String {
        "\(kind.rawValue)(\(kernel)x\(kernel)\(stride != kernel ? ", stride \(stride)" : "")\(padding > 0 ? ", pad \(padding)" : ""))"
    }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 3 else { throw UnexpectedInputShape(expected: "[channels, height, width]") }
        channels = inputShape[0]
        geometry = PoolGeometry(planes: channels, height: inputShape[1], width: inputShape[2], kernelH: kernel,
                                kernelW: kernel, strideH: stride, strideW: stride, padH: padding, padW: padding)
        do {
            try geometry.validate(op: name)
        } catch let SynapseError.invalidArgument(_, message) {
            throw UnexpectedInputShape(expected: "a plane the window fits (\(message))")
        }
        return [channels, geometry.outputH, geometry.outputW]
    }

    private func geometry(batch: Int) -> PoolGeometry {
        var g = geometry!
        g.planes = batch * channels
        return g
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let g = geometry(batch: x.batch), backend = call.backend
        let y = try call.tensor("output", shape: [x.batch, channels, g.outputH, g.outputW])
        switch kind {
        case .max:
            let argmax = try call.tensor("argmax", shape: y.shape, dtype: .int32)
            try backend.maxPoolForward(input: x, output: y, argmax: argmax, geometry: g)
        case .average:
            try backend.avgPoolForward(input: x, output: y, geometry: g)
        }
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        guard call.needsInputGradient else { return nil }
        let x = call.input, g = geometry(batch: x.batch), backend = call.backend
        let dx = try call.tensor("gradInput", shape: x.shape)
        switch kind {
        case .max:
            let argmax = try call.tensor("argmax", shape: dy.shape, dtype: .int32)
            try backend.maxPoolBackward(gradOutput: dy, argmax: argmax, gradInput: dx, geometry: g)
        case .average:
            try backend.avgPoolBackward(gradOutput: dy, gradInput: dx, geometry: g)
        }
        return dx
    }
}
