import SynapseCore

/// 2-D convolution over NCHW input (PyTorch's `nn.Conv2d`): weight `[outC, inC/groups, kH, kW]`, bias `[outC]`.
/// Each image and group is one im2col and one GEMM (Caffe's scheme); a 1x1 kernel with stride 1 and no
/// padding multiplies the image directly, skipping im2col.
public final class Conv2D: Layer {
    public var name: String
    public let outChannels: Int
    public let kernel: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: (h: Int, w: Int)
    public let dilation: (h: Int, w: Int)
    public let groups: Int
    public let weightInit: Initializer
    public let biasInit: Initializer
    public private(set) var weight: Parameter!
    public private(set) var bias: Parameter!
    private var geometry: ConvGeometry!   // one group of one image
    private var inChannels = 0
    private var input: Tensor?
    private var output: Buffer?
    private var gradInput: Buffer?
    private var columns: Buffer?

    public convenience init(_ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                groups: Int = 1, name: String = "", weightInit: Initializer = .xavierUniform,
                biasInit: Initializer = .constant(0)) {
        self.init(outChannels, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding),
                  dilation: (dilation, dilation), groups: groups, name: name, weightInit: weightInit, biasInit: biasInit)
    }

    public init(_ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                dilation: (Int, Int) = (1, 1), groups: Int = 1, name: String = "",
                weightInit: Initializer = .xavierUniform, biasInit: Initializer = .constant(0)) {
        self.outChannels = outChannels
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.padding = (padding.0, padding.1)
        self.dilation = (dilation.0, dilation.1)
        self.groups = groups
        self.name = name
        self.weightInit = weightInit
        self.biasInit = biasInit
    }

    public var summary: String {
        var s = "Conv2D(\(inChannels > 0 ? "\(inChannels)" : "?")->\(outChannels), \(kernel.h)x\(kernel.w)"
        if stride != (1, 1) { s += ", stride \(pair(stride))" }
        if padding != (0, 0) { s += ", pad \(pair(padding))" }
        if dilation != (1, 1) { s += ", dilation \(pair(dilation))" }
        if groups != 1 { s += ", groups \(groups)" }
        return s + ")"
    }

    public var parameters: [Parameter] { weight.map { [$0, bias] } ?? [] }

    private var isPointwise: Bool { kernel == (1, 1) && stride == (1, 1) && padding == (0, 0) }
    private var outPerGroup: Int { outChannels / groups }
    private var outputPlane: Int { geometry.outputH * geometry.outputW }

    public func build(inputShape: [Int], context: BuildContext) throws -> [Int] {
        guard inputShape.count == 3 else { throw UnexpectedInputShape(expected: "[channels, height, width]") }
        guard groups > 0, outChannels > 0, outChannels % groups == 0 else {
            throw NNError.invalidModel("layer '\(name)': \(outChannels) output channels cannot be split into \(groups) groups")
        }
        guard inputShape[0] % groups == 0 else {
            throw UnexpectedInputShape(expected: "[channels, height, width] with channels divisible by the \(groups) groups")
        }
        inChannels = inputShape[0]
        geometry = ConvGeometry(channels: inChannels / groups, height: inputShape[1], width: inputShape[2],
                                kernelH: kernel.h, kernelW: kernel.w, padH: padding.h, padW: padding.w,
                                strideH: stride.h, strideW: stride.w, dilationH: dilation.h, dilationW: dilation.w)
        do {
            try geometry.validate(op: name)
        } catch let SynapseError.invalidArgument(_, message) {
            throw UnexpectedInputShape(expected: "an image the kernel fits (\(message))")
        }
        let receptive = kernel.h * kernel.w
        weight = try context.parameter("\(name).weight", shape: [outChannels, inChannels / groups, kernel.h, kernel.w],
                                       initializer: weightInit, fanIn: geometry.channels * receptive,
                                       fanOut: outChannels * receptive)
        bias = try context.parameter("\(name).bias", shape: [outChannels], initializer: biasInit,
                                     fanIn: geometry.channels * receptive, fanOut: outChannels * receptive)
        return [outChannels, geometry.outputH, geometry.outputW]
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let backend = x.backend, batch = x.batch
        let y = try reuse(&output, count: batch * outChannels * outputPlane, on: backend)
        let cols = isPointwise ? x.buffer : try reuse(&columns, count: geometry.columnCount, on: backend)
        for n in 0..<batch {
            for g in 0..<groups {
                let imageOffset = inputOffset(n, g)
                if !isPointwise {
                    try backend.im2col(image: x.buffer, imageOffset: imageOffset, geometry: geometry,
                                       columns: cols, columnsOffset: 0)
                }
                try backend.gemm(transA: false, transB: false, m: outPerGroup, n: outputPlane, k: geometry.columnRows,
                                 alpha: 1, a: weight.value, aOffset: g * outPerGroup * geometry.columnRows,
                                 lda: geometry.columnRows, b: cols, bOffset: isPointwise ? imageOffset : 0,
                                 ldb: outputPlane, beta: 0, c: y, cOffset: outputOffset(n, g), ldc: outputPlane)
            }
        }
        try backend.biasAdd(data: y, bias: bias.value, outer: batch, channels: outChannels, inner: outputPlane)
        input = x
        return Tensor(y, shape: [batch, outChannels, geometry.outputH, geometry.outputW])
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try lastInput(input, layer: name)
        let backend = x.backend, batch = x.batch
        let dx = try reuse(&gradInput, count: x.count, on: backend)
        let cols = isPointwise ? x.buffer : try reuse(&columns, count: geometry.columnCount, on: backend)
        try backend.biasGradient(gradOutput: dy.buffer, gradBias: bias.gradient, outer: batch,
                                 channels: outChannels, inner: outputPlane)
        for n in 0..<batch {
            for g in 0..<groups {
                let imageOffset = inputOffset(n, g)
                let weightOffset = g * outPerGroup * geometry.columnRows
                // dW_g += dY_g cols^T, with the columns recomputed rather than stored for the whole batch.
                if !isPointwise {
                    try backend.im2col(image: x.buffer, imageOffset: imageOffset, geometry: geometry,
                                       columns: cols, columnsOffset: 0)
                }
                try backend.gemm(transA: false, transB: true, m: outPerGroup, n: geometry.columnRows, k: outputPlane,
                                 alpha: 1, a: dy.buffer, aOffset: outputOffset(n, g), lda: outputPlane,
                                 b: cols, bOffset: isPointwise ? imageOffset : 0, ldb: outputPlane,
                                 beta: n == 0 ? 0 : 1, c: weight.gradient, cOffset: weightOffset, ldc: geometry.columnRows)
                // dcols = W_g^T dY_g, folded back into the image gradient.
                let dcols = isPointwise ? dx : cols
                try backend.gemm(transA: true, transB: false, m: geometry.columnRows, n: outputPlane, k: outPerGroup,
                                 alpha: 1, a: weight.value, aOffset: weightOffset, lda: geometry.columnRows,
                                 b: dy.buffer, bOffset: outputOffset(n, g), ldb: outputPlane,
                                 beta: 0, c: dcols, cOffset: isPointwise ? imageOffset : 0, ldc: outputPlane)
                if !isPointwise {
                    try backend.col2im(columns: cols, columnsOffset: 0, geometry: geometry, image: dx, imageOffset: imageOffset)
                }
            }
        }
        return Tensor(dx, shape: x.shape)
    }

    /// Where group `g` of image `n` starts in the input and in the output.
    private func inputOffset(_ n: Int, _ g: Int) -> Int {
        (n * groups + g) * geometry.imageCount
    }

    private func outputOffset(_ n: Int, _ g: Int) -> Int {
        (n * outChannels + g * outPerGroup) * outputPlane
    }
}

private func pair(_ p: (h: Int, w: Int)) -> String { p.h == p.w ? "\(p.h)" : "\(p.h)x\(p.w)" }
