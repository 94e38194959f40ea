import SynapseCore

/// Which taps of a convolution's weight are free parameters: the dense weight `[outC, inC/groups, kH, kW]`, read as
/// rows of `width` taps, takes each row from a row of a smaller parameter or leaves it zero. LeNet-5 uses it twice:
/// C3's connection table (each output map reads only some input maps, one kernel per connection) and the trainable
/// subsampling of S2 and S4 (one coefficient per map, shared by the four taps of its window).
public struct WeightSharing: Equatable, Sendable {
    /// Rows of the parameter.
    public let rows: Int
    /// Taps per row: a whole kernel (`kH * kW`), or 1.
    public let width: Int
    /// For each row of the dense weight, the parameter row it takes, or -1 for a row of zeros.
    public let sources: [Int32]

    /// Dense rows `sources` taking parameter rows of `width` taps (-1: zero).
    public init(rows: Int, width: Int, sources: [Int32]) {
        self.rows = rows
        self.width = width
        self.sources = sources
    }

    /// A connection table: output map `o` reads the input maps `table[o]`, each through a kernel of its own.
    public static func connections(_ table: [[Int]], inputs: Int, kernelTaps: Int) -> WeightSharing {
        var sources: [Int32] = [], next: Int32 = 0
        for maps in table {
            for input in 0..<inputs {
                if maps.contains(input) { sources.append(next); next += 1 } else { sources.append(-1) }
            }
        }
        return WeightSharing(rows: Int(next), width: kernelTaps, sources: sources)
    }

    /// One coefficient per output channel, shared by every tap of its kernel (a depthwise convolution, groups equal
    /// to channels, that sums its window times the coefficient).
    public static func onePerChannel(_ channels: Int, taps: Int) -> WeightSharing {
        WeightSharing(rows: channels, width: 1, sources: (0..<channels).flatMap { c in Array(repeating: Int32(c), count: taps) })
    }
}

/// 2-D convolution over NCHW input (PyTorch's `nn.Conv2d`): weight `[outC, inC/groups, kH, kW]`, bias `[outC]`.
/// Each group of a chunk of images is one im2col and one GEMM, whose `[outC, images, H, W]` result one
/// transpose turns into NCHW: a few large GEMMs per layer rather than Caffe's one small GEMM per image.
/// With `sharing`, the weight parameter holds only the free taps (`[rows, kH, kW]`, or `[rows]` for one per
/// row), gathered into the dense weight for each pass; its gradient is the sum over the taps that share it.
public final class Conv2D: UnaryLayer {
    public var name: String
    /// Filters, and so output channels; a multiple of `groups`.
    public let outChannels: Int
    /// The window's height and width in taps, before dilation.
    public let kernel: (h: Int, w: Int)
    /// The step between neighbouring window positions, vertically and horizontally.
    public let stride: (h: Int, w: Int)
    /// Padding added to each side: above and below (`h`), left and right (`w`).
    public let padding: (h: Int, w: Int)
    /// The value the padding reads as: 0 unless given.
    public let paddingValue: Float
    /// Which taps are free parameters; nil when every tap is.
    public let sharing: WeightSharing?
    /// The spacing between neighbouring taps of the window; 1 is an ordinary convolution.
    public let dilation: (h: Int, w: Int)
    /// Channel groups convolved separately (AlexNet's two towers); must divide both channel counts.
    public let groups: Int
    /// How the weight is initialised (fan-in `inC/groups * kH * kW`).
    public let weightInit: Initializer
    /// How the bias is initialised; zeros unless given.
    public let biasInit: Initializer
    /// `[outChannels, inChannels / groups, kernel.h, kernel.w]`; nil until the layer is built.
    public private(set) var weight: Parameter!
    /// `[outChannels]`, added to every output pixel of its channel; nil until the layer is built.
    public private(set) var bias: Parameter!
    private var geometry: ConvGeometry!   // one group of one image
    private var inChannels = 0

    /// A convolution with `outChannels` filters of a square `kernel x kernel` window, with the same stride,
    /// padding and dilation in both directions. The input channels are learnt from the input when built.
    public convenience init(_ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, paddingValue: Float = 0,
                dilation: Int = 1, groups: Int = 1, sharing: WeightSharing? = nil, name: String = "",
                weightInit: Initializer = .pytorchDefault, biasInit: Initializer = .constant(0)) {
        self.init(outChannels, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding),
                  paddingValue: paddingValue, dilation: (dilation, dilation), groups: groups, sharing: sharing, name: name,
                  weightInit: weightInit, biasInit: biasInit)
    }

    /// A convolution with `outChannels` filters of a `kernel` (height, width) window, with stride, padding and
    /// dilation given per direction. The input channels are learnt from the input when built.
    public init(_ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                paddingValue: Float = 0, dilation: (Int, Int) = (1, 1), groups: Int = 1, sharing: WeightSharing? = nil,
                name: String = "", weightInit: Initializer = .pytorchDefault, biasInit: Initializer = .constant(0)) {
        self.outChannels = outChannels
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.padding = (padding.0, padding.1)
        self.paddingValue = paddingValue
        self.sharing = sharing
        self.dilation = (dilation.0, dilation.1)
        self.groups = groups
        self.name = name
        self.weightInit = weightInit
        self.biasInit = biasInit
    }

    public var summary: String {
        var s = "Conv2D(\(inChannels > 0 ? "\(inChannels)" : "?")->\(outChannels), \(kernel.h)x\(kernel.w)"
        if stride != (1, 1) { s += ", stride \(pair(stride))" }
        if padding != (0, 0) { s += ", pad \(pair(padding))\(paddingValue != 0 ? " of \(paddingValue)" : "")" }
        if dilation != (1, 1) { s += ", dilation \(pair(dilation))" }
        if groups != 1 { s += ", groups \(groups)" }
        if let sharing { s += ", \(sharing.rows) free \(sharing.width == 1 ? "taps" : "kernels")" }
        return s + ")"
    }

    public var parameters: [Parameter] { weight.map { [$0, bias] } ?? [] }

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
                                kernelH: kernel.h, kernelW: kernel.w, padH: padding.h, padW: padding.w, padValue: paddingValue,
                                strideH: stride.h, strideW: stride.w, dilationH: dilation.h, dilationW: dilation.w)
        do {
            try geometry.validate(op: name)
        } catch let SynapseError.invalidArgument(_, message) {
            throw UnexpectedInputShape(expected: "an image the kernel fits (\(message))")
        }
        let receptive = kernel.h * kernel.w
        var shape = [outChannels, inChannels / groups, kernel.h, kernel.w], fanIn = geometry.channels * receptive
        if let sharing {
            let dense = shape.reduce(1, *)
            guard sharing.rows > 0, sharing.width == receptive || sharing.width == 1, sharing.sources.count * sharing.width == dense,
                  sharing.sources.allSatisfy({ (-1..<Int32(sharing.rows)).contains($0) }) else {
                throw NNError.invalidModel("layer '\(name)': its weight sharing (\(sharing.rows) rows of \(sharing.width) taps, \(sharing.sources.count) sources) does not fit a weight of \(describe(shape))")
            }
            // A unit's inputs: the taps of its map's connections (on average, when maps differ).
            fanIn = sharing.sources.filter { $0 >= 0 }.count * sharing.width / outChannels
            shape = sharing.width == 1 ? [sharing.rows] : [sharing.rows, kernel.h, kernel.w]
        }
        weight = context.parameter("\(name).weight", shape: shape, initializer: weightInit, fanIn: fanIn,
                                   fanOut: outChannels * receptive)
        bias = context.parameter("\(name).bias", shape: [outChannels], initializer: biasInit,
                                 fanIn: fanIn, fanOut: outChannels * receptive)
        return [outChannels, geometry.outputH, geometry.outputW]
    }

    /// The weight as the GEMMs read it: the parameter itself, or its taps gathered into a dense weight.
    private func denseWeight(_ call: LayerCall) throws -> Tensor {
        guard let sharing else { return weight.value }
        let backend = call.backend
        let dense = try call.tensor("denseWeight", shape: [outChannels, inChannels / groups, kernel.h, kernel.w])
        // The parameter's rows, then a row of zeros for the taps no parameter feeds.
        let rows = try call.tensor("sharedRows", shape: [sharing.rows + 1, sharing.width])
        try backend.copy(from: weight.value.reshaped([sharing.rows, sharing.width]), to: rows.rows(0..<sharing.rows))
        try backend.fill(rows.rows(sharing.rows..<sharing.rows + 1), value: 0)
        let sources = try call.tensor("sources", shape: [sharing.sources.count], dtype: .int32)
        try backend.upload(int32: sharing.sources.map { $0 < 0 ? Int32(sharing.rows) : $0 }, to: sources)
        try backend.gatherRows(table: rows, indices: sources, output: dense.reshaped([sharing.sources.count, sharing.width]),
                               rows: sharing.rows + 1, width: sharing.width)
        return dense
    }

    public func forward(_ x: Tensor, _ call: LayerCall) throws -> Tensor {
        let backend = call.backend, batch = x.batch, weight = try denseWeight(call)
        let y = try call.tensor("output", shape: [batch, outChannels, geometry.outputH, geometry.outputW])
        try forEachChunk(of: x, parts: partCount(batch: batch, backend), call) { _, first, g, cols, yT in
            for group in 0..<groups {
                try backend.im2col(image: x.elements(inputOffset(first, group)..<x.count), geometry: g, columns: cols)
                try backend.gemm(transA: false, transB: false, m: outPerGroup, n: g.columnWidth, k: g.columnRows,
                                 alpha: 1, a: weight.elements(weightOffset(group)..<weight.count),
                                 lda: g.columnRows, b: cols, ldb: g.columnWidth, beta: 0,
                                 c: yT.elements(group * outPerGroup * g.columnWidth..<yT.count), ldc: g.columnWidth)
            }
            try backend.transposeBlocks(input: yT, output: y.elements(first * outChannels * outputPlane..<y.count),
                                        rows: outChannels, columns: g.images, blockSize: outputPlane)
        }
        try backend.biasAdd(data: y, bias: bias.value, outer: batch, channels: outChannels, inner: outputPlane)
        return y
    }

    public func backward(_ dy: Tensor, _ call: LayerCall) throws -> Tensor? {
        let backend = call.backend, x = call.input
        let dx = call.needsInputGradient ? try call.tensor("gradInput", shape: x.shape) : nil
        try backend.biasGradient(gradOutput: dy, gradBias: bias.gradient, outer: x.batch, channels: outChannels,
                                 inner: outputPlane, accumulate: bias.gradientBeta() == 1)
        // With shared taps, the dense gradient is made here and summed into the parameter's after.
        let weightValue = try denseWeight(call)
        let weightGradient = sharing == nil ? weight.gradient : try call.tensor("denseGradient", shape: weightValue.shape)
        let firstBeta = sharing == nil ? weight.gradientBeta() : 0
        // Parts after the first sum their images' share of the weight gradient apart, added in part order after.
        let parts = partCount(batch: x.batch, call.backend)
        let partGradients = parts > 1 ? try call.tensor("partGradients", shape: [parts - 1, weightValue.count]) : nil
        if let partGradients { try backend.fill(partGradients, value: 0) }
        try forEachChunk(of: x, parts: parts, call) { part, first, g, cols, dyT in
            try backend.transposeBlocks(input: dy.elements(first * outChannels * outputPlane..<dy.count), output: dyT,
                                        rows: g.images, columns: outChannels, blockSize: outputPlane)
            var (gradient, beta) = (weightGradient, first == 0 ? firstBeta : 1)
            if let partGradients, part > 0 { (gradient, beta) = (partGradients.rows(part - 1..<part), 1) }
            for group in 0..<groups {
                let dyGroup = dyT.elements(group * outPerGroup * g.columnWidth..<dyT.count)
                let image = x.elements(inputOffset(first, group)..<x.count)
                let weightGroup = weightOffset(group)..<weightValue.count
                // dW_g += dY_g cols^T, the columns recomputed rather than kept from the forward pass: the chunk's
                // stay in the cache, which the whole batch's would not.
                try backend.im2col(image: image, geometry: g, columns: cols)
                try backend.gemm(transA: false, transB: true, m: outPerGroup, n: g.columnRows, k: g.columnWidth,
                                 alpha: 1, a: dyGroup, lda: g.columnWidth, b: cols, ldb: g.columnWidth,
                                 beta: beta, c: gradient.elements(weightGroup), ldc: g.columnRows)
                guard let dx else { continue }
                // dcols = W_g^T dY_g, folded back into the image gradient.
                try backend.gemm(transA: true, transB: false, m: g.columnRows, n: g.columnWidth, k: outPerGroup,
                                 alpha: 1, a: weightValue.elements(weightGroup), lda: g.columnRows,
                                 b: dyGroup, ldb: g.columnWidth, beta: 0, c: cols, ldc: g.columnWidth)
                try backend.col2im(columns: cols, geometry: g, image: dx.elements(inputOffset(first, group)..<dx.count))
            }
        }
        if let partGradients {
            for part in 1..<parts {
                try backend.axpy(alpha: 1, x: partGradients.rows(part - 1..<part).reshaped(weightGradient.shape), y: weightGradient)
            }
        }
        if let sharing {
            if weight.gradientBeta() == 0 { try backend.fill(weight.gradient, value: 0) }
            let sources = try call.tensor("sources", shape: [sharing.sources.count], dtype: .int32)
            try backend.upload(int32: sharing.sources, to: sources)   // -1: a zero tap, which no parameter receives
            try backend.scatterAddRows(gradients: weightGradient.reshaped([sharing.sources.count, sharing.width]),
                                       indices: sources, table: weight.gradient.reshaped([sharing.rows, sharing.width]),
                                       rows: sharing.rows, width: sharing.width)
        }
        return dx
    }

    /// How many column elements to unfold at once: on a backend that runs ops on the host, 1 MiB (a chunk's
    /// columns, filter and output stay in the L2 cache between im2col and GEMM); on a queued device, few large
    /// GEMMs: 64 MiB, or a sixteenth of its largest buffer.
    static func chunkElements(_ device: DeviceProperties) -> Int {
        switch device.execution {
        case .immediate: return 1 << 18
        case .queued: return min(1 << 24, device.maxBufferBytes / 16)
        }
    }

    /// The most column elements the parts of one call unfold at once, all parts together (a chunk holds at least
    /// one image, whatever `chunkElements` says).
    static let partedColumnElements = 1 << 24

    /// Parts of the batch that run at once (`Backend.concurrently`), so that the small GEMMs and unfoldings of small
    /// images keep every core busy without handing each op out in pieces: as many as
    /// `DeviceProperties.parts(ofBatch:)` gives while their columns stay within `partedColumnElements`; else one,
    /// each op shared out over the device.
    private func partCount(batch: Int, _ backend: Backend) -> Int {
        let properties = backend.properties, parts = properties.parts(ofBatch: batch)
        let chunk = max(Self.chunkElements(properties), geometry.columnCount)
        return parts * chunk <= Self.partedColumnElements ? parts : 1
    }

    /// Calls `body(part, first image, geometry of the chunk, columns, transposed)` for each chunk of the batch:
    /// the batch cut into `parts` that run concurrently (`partCount`), each part into chunks, run in order, of as many
    /// images as keep the column matrix within `chunkElements`. Each part has its own `columns` and `transposed`;
    /// `transposed` is `[outC, images, H, W]`: the forward GEMM's output, or dY for the backward GEMMs.
    private func forEachChunk(of x: Tensor, parts: Int, _ call: LayerCall,
                              _ body: (Int, Int, ConvGeometry, Tensor, Tensor) throws -> Void) throws {
        let backend = call.backend, batch = x.batch, perImage = geometry.columnCount
        guard batch > 0 else { return }
        // Chunks of equal size: the largest part's images over as few chunks as fit.
        let largest = (batch + parts - 1) / parts, most = max(1, Self.chunkElements(backend.properties) / perImage)
        let chunks = (largest + most - 1) / most, chunk = (largest + chunks - 1) / chunks
        let cols = try call.tensor("columns", shape: [parts, chunk * perImage])
        let cnhw = try call.tensor("transposed", shape: [parts, chunk * outChannels * outputPlane])
        let imageStride = inChannels * geometry.height * geometry.width
        try backend.concurrently(parts) { part in
            let images = (part * batch / parts)..<((part + 1) * batch / parts)
            for first in Swift.stride(from: images.lowerBound, to: images.upperBound, by: chunk) {
                let g = geometry.batched(images: min(chunk, images.upperBound - first), imageStride: imageStride)
                try body(part, first, g, cols.rows(part..<part + 1).reshaped([chunk * perImage]),
                         cnhw.rows(part..<part + 1).reshaped([chunk * outChannels * outputPlane]))
            }
        }
    }

    /// Where group `g` of image `n` starts in the input.
    private func inputOffset(_ n: Int, _ g: Int) -> Int {
        (n * groups + g) * geometry.imageCount
    }

    /// Where group `g`'s filters start in the weight.
    private func weightOffset(_ g: Int) -> Int { g * outPerGroup * geometry.columnRows }
}

private func pair(_ p: (h: Int, w: Int)) -> String { p.h == p.w ? "\(p.h)" : "\(p.h)x\(p.w)" }
