import SynapseCore

/// Max or average pooling over each channel of NCHW input (PyTorch's `nn.MaxPool2d` / `nn.AvgPool2d`,
/// floor mode). Windows may overlap, as in AlexNet's 3x3 stride-2 pooling.
public final class Pool2D: Layer {
    public enum Kind: String { case max = "MaxPool2D", average = "AvgPool2D" }

    public var name: String
    public let kind: Kind
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    private var channels = 0
    private var geometry: PoolGeometry!   // planes is set per batch
    private var input: Tensor?
    private var output: Buffer?
    private var argmax: Buffer?
    private var gradInput: Buffer?

    /// `stride` defaults to the window size (non-overlapping pooling).
    public init(_ kind: Kind, kernel: Int, stride: Int? = nil, padding: Int = 0, name: String = "") {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.name = name
    }

    public static func max(_ kernel: Int, stride: Int? = nil, padding: Int = 0, name: String = "") -> Pool2D {
        Pool2D(.max, kernel: kernel, stride: stride, padding: padding, name: name)
    }

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

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let backend = x.backend
        var g = geometry!
        g.planes = x.batch * channels
        let y = try reuse(&output, count: g.outputCount, on: backend)
        switch kind {
        case .max:
            let indices = try reuse(&argmax, count: g.outputCount, dtype: .int32, on: backend)
            try backend.maxPoolForward(input: x.buffer, output: y, argmax: indices, geometry: g)
        case .average:
            try backend.avgPoolForward(input: x.buffer, output: y, geometry: g)
        }
        input = x
        return Tensor(y, shape: [x.batch, channels, g.outputH, g.outputW])
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try lastInput(input, layer: name)
        var g = geometry!
        g.planes = x.batch * channels
        let dx = try reuse(&gradInput, count: x.count, on: x.backend)
        switch kind {
        case .max:
            try x.backend.maxPoolBackward(gradOutput: dy.buffer, argmax: argmax!, gradInput: dx, geometry: g)
        case .average:
            try x.backend.avgPoolBackward(gradOutput: dy.buffer, gradInput: dx, geometry: g)
        }
        return Tensor(dx, shape: x.shape)
    }
}
