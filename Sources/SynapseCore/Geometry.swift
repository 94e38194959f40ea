/// The geometry of a convolution over `images` images, shared by im2col and col2im.
/// The column matrix is `[channels * kernelH * kernelW, images * outputH * outputW]`, row-major: Caffe's
/// layout with the images side by side (column `n * outputH * outputW + y * outputW + x`), so that the
/// convolution of a whole batch is one GEMM of the `[outC, inC*kH*kW]` weight with it.
/// Image `n` starts `n * imageStride` elements after the first; a stride above `imageCount` selects one
/// group's channels out of wider images.
public struct ConvGeometry: Equatable, Sendable {
    public var channels, height, width: Int
    public var kernelH, kernelW: Int
    public var padH, padW: Int
    public var strideH, strideW: Int
    public var dilationH, dilationW: Int
    public var images: Int
    public var imageStride: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                padH: Int = 0, padW: Int = 0, strideH: Int = 1, strideW: Int = 1,
                dilationH: Int = 1, dilationW: Int = 1, images: Int = 1, imageStride: Int? = nil) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW; self.padH = padH; self.padW = padW
        self.strideH = strideH; self.strideW = strideW; self.dilationH = dilationH; self.dilationW = dilationW
        self.images = images
        self.imageStride = imageStride ?? channels * height * width
    }

    /// The same convolution over `images` images `imageStride` apart.
    public func batched(images: Int, imageStride: Int) -> ConvGeometry {
        var g = self
        g.images = images
        g.imageStride = imageStride
        return g
    }

    public var outputH: Int { (height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1 }
    public var outputW: Int { (width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1 }
    /// Elements of one image.
    public var imageCount: Int { channels * height * width }
    /// Elements from the first image's start to the last one's end.
    public var imageSpan: Int { (images - 1) * imageStride + imageCount }
    public var columnRows: Int { channels * kernelH * kernelW }
    public var columnWidth: Int { images * outputH * outputW }
    public var columnCount: Int { columnRows * columnWidth }

    public func validate(op: String) throws {
        try Check.positive(op: op, ["channels": channels, "height": height, "width": width,
                                    "kernelH": kernelH, "kernelW": kernelW, "strideH": strideH,
                                    "strideW": strideW, "dilationH": dilationH, "dilationW": dilationW])
        try Check.nonNegative(op: op, ["padH": padH, "padW": padW])
        try Check.sizes(op: op, ["channels": channels, "height": height, "width": width, "kernelH": kernelH,
                                 "kernelW": kernelW, "padH": padH, "padW": padW, "strideH": strideH, "strideW": strideW,
                                 "dilationH": dilationH, "dilationW": dilationW],
                        products: [[dilationH, kernelH], [dilationW, kernelW]])
        // The spans are checked before dividing: integer division would round a negative span up to 0.
        let spanH = height + 2 * padH - dilationH * (kernelH - 1) - 1
        let spanW = width + 2 * padW - dilationW * (kernelW - 1) - 1
        guard spanH >= 0, spanW >= 0 else {
            throw SynapseError.invalidArgument(op: op, message:
                "a \(kernelH)x\(kernelW) kernel (dilation \(dilationH)x\(dilationW), padding \(padH)x\(padW)) does not fit a \(height)x\(width) image")
        }
        try Check.positive(op: op, ["images": images])
        guard images == 1 || imageStride >= imageCount else {
            throw SynapseError.invalidArgument(op: op, message:
                "images \(imageStride) elements apart overlap: each holds \(imageCount) (\(channels)x\(height)x\(width))")
        }
        try Check.sizes(op: op, ["imageStride": imageStride],
                        products: [[channels, height, width], [columnRows, images, outputH, outputW], [images, imageStride]])
    }
}

/// Max or average pooling over `planes` independent `height x width` planes (batch * channels).
/// Output size uses floor division, as PyTorch does.
public struct PoolGeometry: Equatable, Sendable {
    public var planes, height, width: Int
    public var kernelH, kernelW: Int
    public var strideH, strideW: Int
    public var padH, padW: Int

    public init(planes: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int, strideW: Int, padH: Int = 0, padW: Int = 0) {
        self.planes = planes; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW; self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
    }

    public var outputH: Int { (height + 2 * padH - kernelH) / strideH + 1 }
    public var outputW: Int { (width + 2 * padW - kernelW) / strideW + 1 }
    public var inputCount: Int { planes * height * width }
    public var outputCount: Int { planes * outputH * outputW }

    public func validate(op: String) throws {
        try Check.positive(op: op, ["planes": planes, "height": height, "width": width, "kernelH": kernelH,
                                    "kernelW": kernelW, "strideH": strideH, "strideW": strideW])
        try Check.nonNegative(op: op, ["padH": padH, "padW": padW])
        try Check.sizes(op: op, ["planes": planes, "height": height, "width": width, "kernelH": kernelH,
                                 "kernelW": kernelW, "strideH": strideH, "strideW": strideW, "padH": padH, "padW": padW],
                        products: [[planes, height, width]])
        try Check.sizes(op: op, ["height x width (argmax indices are 32-bit)": height * width], products: [])
        // Like PyTorch: a window must always overlap the real image, so every max has a real argmax.
        guard padH <= kernelH / 2, padW <= kernelW / 2 else {
            throw SynapseError.invalidArgument(op: op, message:
                "padding \(padH)x\(padW) must be at most half the \(kernelH)x\(kernelW) window")
        }
        guard height + 2 * padH >= kernelH, width + 2 * padW >= kernelW else {
            throw SynapseError.invalidArgument(op: op, message:
                "a \(kernelH)x\(kernelW) window does not fit a \(height)x\(width) plane padded by \(padH)x\(padW)")
        }
    }
}

/// Local response normalisation across channels (AlexNet, Caffe's ACROSS_CHANNELS):
/// `scale = k + alpha/size * sum(x^2 over size neighbouring channels)`, `y = x * scale^-beta`.
public struct LRNGeometry: Equatable, Sendable {
    public var batch, channels, spatial: Int
    public var size: Int
    public var alpha, beta, k: Float

    public init(batch: Int, channels: Int, spatial: Int, size: Int = 5,
                alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        self.batch = batch; self.channels = channels; self.spatial = spatial
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }

    public var count: Int { batch * channels * spatial }

    public func validate(op: String) throws {
        try Check.positive(op: op, ["batch": batch, "channels": channels, "spatial": spatial, "size": size])
        try Check.sizes(op: op, ["size": size], products: [[batch, channels, spatial]])
        guard size % 2 == 1 else {
            throw SynapseError.invalidArgument(op: op, message: "LRN size must be odd, got \(size)")
        }
        guard k > 0, alpha >= 0, beta >= 0 else {
            throw SynapseError.invalidArgument(op: op, message: "LRN needs k > 0, alpha >= 0, beta >= 0 (got k \(k), alpha \(alpha), beta \(beta))")
        }
    }
}

/// Elementwise nonlinearities and their derivatives.
public enum Activation: Equatable, Sendable {
    case relu
    case leakyReLU(slope: Float)
    case sigmoid
    case tanh
}

/// SGD with momentum in PyTorch's form: `v = mu*v + (g + wd*w); w -= lr*v`;
/// with Nesterov, `w -= lr*(g + wd*w + mu*v)` after the velocity update.
public struct SGDParameters: Equatable, Sendable {
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var nesterov: Bool

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate; self.momentum = momentum
        self.weightDecay = weightDecay; self.nesterov = nesterov
    }
}

/// Hyper-parameters of one Adam step (Kingma & Ba), in PyTorch's form with L2 weight decay folded into
/// the gradient (not AdamW's decoupled decay). At step `t` (1-based), for each element:
/// ```
/// g' = g + weightDecay * w
/// m  = beta1 * m + (1 - beta1) * g'
/// v  = beta2 * v + (1 - beta2) * g'^2
/// w -= (learningRate / bc1) * m / (sqrt(v) / sqrt(bc2) + epsilon),   bc1 = 1 - beta1^t, bc2 = 1 - beta2^t
/// ```
/// The bias corrections are computed here, on the host, once per step as Float32, so that every device
/// uses the same values instead of each evaluating `pow` with its own rounding. They are powers of the
/// Float32 betas the devices use in the moment updates (PyTorch raises the Python double instead), so at
/// t = 1 the corrected moments are exactly g' and g'^2.
public struct AdamParameters: Equatable, Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// The 1-based step count `t`: the first update is step 1.
    public var step: Int

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, step: Int) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
        self.epsilon = epsilon; self.weightDecay = weightDecay; self.step = step
    }

    /// `1 - beta1^t`, the first moment's bias correction (computed in Double, rounded once to Float).
    public var biasCorrection1: Float { Float(1 - Self.power(Double(beta1), step)) }

    /// `sqrt(1 - beta2^t)`, the square root of the second moment's bias correction.
    public var sqrtBiasCorrection2: Float { Float((1 - Self.power(Double(beta2), step)).squareRoot()) }

    /// `base^exponent` by repeated squaring: O(log t) and free of the platform's `pow`, whose last-bit
    /// rounding differs between C libraries (this module does not import Foundation).
    static func power(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0, square = base, e = max(exponent, 0)
        while e > 0 {
            if e & 1 == 1 { result *= square }
            square *= square
            e >>= 1
        }
        return result
    }
}
