/// The geometry of a convolution over `images` images, shared by im2col and col2im.
/// The column matrix is `[channels * kernelH * kernelW, images * outputH * outputW]`, row-major: Caffe's
/// layout with the images side by side (column `n * outputH * outputW + y * outputW + x`), so that the
/// convolution of a whole batch is one GEMM of the `[outC, inC*kH*kW]` weight with it.
/// Image `n` starts `n * imageStride` elements after the first; a stride above `imageCount` selects one
/// group's channels out of wider images.
public struct ConvGeometry: Equatable, Sendable {
    /// Channels of one image (of one group, in a grouped convolution), and its height and width in pixels.
    public var channels, height, width: Int
    /// The kernel's height and width in taps, before dilation.
    public var kernelH, kernelW: Int
    /// Padding added to each side: above and below (`padH`), left and right (`padW`).
    public var padH, padW: Int
    /// The value the padding reads as: 0 usually; LeNet-5 pads with its background, -0.1.
    public var padValue: Float
    /// The step between neighbouring kernel positions, vertically and horizontally.
    public var strideH, strideW: Int
    /// The spacing between neighbouring kernel taps; 1 is an ordinary, undilated kernel.
    public var dilationH, dilationW: Int
    /// How many images the column matrix holds side by side.
    public var images: Int
    /// Elements from one image's start to the next: `imageCount` for packed images, more to take one group's
    /// channels out of wider images.
    public var imageStride: Int

    /// A convolution over `images` images of `channels x height x width`; without an `imageStride` the images
    /// are packed, `imageCount` apart.
    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                padH: Int = 0, padW: Int = 0, padValue: Float = 0, strideH: Int = 1, strideW: Int = 1,
                dilationH: Int = 1, dilationW: Int = 1, images: Int = 1, imageStride: Int? = nil) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW; self.padH = padH; self.padW = padW; self.padValue = padValue
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

    /// Rows of the output: how many vertical kernel positions fit the padded image.
    public var outputH: Int { (height + 2 * padH - dilationH * (kernelH - 1) - 1) / strideH + 1 }
    /// Columns of the output: how many horizontal kernel positions fit the padded image.
    public var outputW: Int { (width + 2 * padW - dilationW * (kernelW - 1) - 1) / strideW + 1 }
    /// Elements of one image.
    public var imageCount: Int { channels * height * width }
    /// Elements from the first image's start to the last one's end.
    public var imageSpan: Int { (images - 1) * imageStride + imageCount }
    /// Rows of the column matrix: one per kernel tap of every channel.
    public var columnRows: Int { channels * kernelH * kernelW }
    /// Columns of the column matrix: one per output pixel of every image.
    public var columnWidth: Int { images * outputH * outputW }
    /// Elements of the whole column matrix.
    public var columnCount: Int { columnRows * columnWidth }

    /// Throws `SynapseError.invalidArgument`, naming `op`, unless the sizes are positive and fit the kernels' 32-bit
    /// arguments, the kernel fits the padded image and the images do not overlap.
    public func validate(op: String) throws {
        try Check.positive(op: op, ["channels": channels, "height": height, "width": width,
                                    "kernelH": kernelH, "kernelW": kernelW, "strideH": strideH,
                                    "strideW": strideW, "dilationH": dilationH, "dilationW": dilationW])
        try Check.nonNegative(op: op, ["padH": padH, "padW": padW])
        guard padValue.isFinite else {
            throw SynapseError.invalidArgument(op: op, message: "the padding value must be finite, got \(padValue)")
        }
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
    /// Independent planes (batch times channels), and each plane's height and width.
    public var planes, height, width: Int
    /// The pooling window's height and width.
    public var kernelH, kernelW: Int
    /// The step between neighbouring windows, vertically and horizontally.
    public var strideH, strideW: Int
    /// Implicit padding on each side, at most half the window, so that every window overlaps the real plane.
    public var padH, padW: Int

    /// Pooling of `planes` planes of `height x width` with a `kernelH x kernelW` window; no padding unless given.
    public init(planes: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int, strideW: Int, padH: Int = 0, padW: Int = 0) {
        self.planes = planes; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW; self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
    }

    /// Rows of the output, rounded down (PyTorch's floor mode).
    public var outputH: Int { (height + 2 * padH - kernelH) / strideH + 1 }
    /// Columns of the output, rounded down (PyTorch's floor mode).
    public var outputW: Int { (width + 2 * padW - kernelW) / strideW + 1 }
    /// Elements of the input: every plane.
    public var inputCount: Int { planes * height * width }
    /// Elements of the output: every plane's pooled values.
    public var outputCount: Int { planes * outputH * outputW }

    /// Throws `SynapseError.invalidArgument`, naming `op`, unless the sizes are positive and fit the kernels' 32-bit
    /// arguments, the padding is at most half the window and the window fits the padded plane.
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
    /// Samples, channels per sample, and elements per channel (height times width).
    public var batch, channels, spatial: Int
    /// Channels in each normalisation window, centred on the channel normalised; must be odd.
    public var size: Int
    /// The constants of `scale = k + alpha/size * sum(x^2)` and `y = x * scale^-beta`: `k` must be positive,
    /// `alpha` and `beta` not negative.
    public var alpha, beta, k: Float

    /// The defaults are those of AlexNet's reference Caffe model.
    public init(batch: Int, channels: Int, spatial: Int, size: Int = 5,
                alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 1) {
        self.batch = batch; self.channels = channels; self.spatial = spatial
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }

    /// Elements of the input, and of the output.
    public var count: Int { batch * channels * spatial }

    /// Throws `SynapseError.invalidArgument`, naming `op`, unless the sizes are positive, `size` is odd, `k` is
    /// positive and `alpha` and `beta` are not negative.
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
    /// `max(0, x)`.
    case relu
    /// `x` where it is positive, else `slope * x`.
    case leakyReLU(slope: Float)
    /// The logistic function `1 / (1 + exp(-x))`, whose outputs lie in (0, 1).
    case sigmoid
    /// The hyperbolic tangent, whose outputs lie in (-1, 1).
    case tanh
    /// Rosenblatt's threshold unit: 1 where `x >= 0`, else 0. Its derivative is 0 wherever it exists, so no
    /// gradient passes it; the perceptron learns by its own rule (`PerceptronRule`), not by backpropagation.
    case step
    /// `log(1 + exp(x))`, computed stably; its derivative is the sigmoid. An RBM's free energy sums it.
    case softplus
    /// LeCun's squashing function `1.7159 tanh(2x/3)` (LeNet-5): 1 maps to about 1, and its outputs lie in
    /// (-1.7159, 1.7159).
    case scaledTanh
}

extension Activation {
    /// The amplitude `A` of LeCun's `scaledTanh`, `A tanh(S x)`.
    public static let scaledTanhAmplitude: Float = 1.7159
    /// The slope `S` of LeCun's `scaledTanh`, `A tanh(S x)`.
    public static let scaledTanhSlope: Float = 2.0 / 3.0
}

/// SGD with momentum in PyTorch's form: `v = mu*v + (g + wd*w); w -= lr*v`;
/// with Nesterov, `w -= lr*(g + wd*w + mu*v)` after the velocity update. With momentum 0 it is plain SGD,
/// `w -= lr*(g + wd*w)`, and the velocity is neither read nor written (PyTorch keeps none).
public struct SGDParameters: Equatable, Sendable {
    /// The step size `lr` of this update (the schedule's rate); each parameter's multiplier scales it further.
    public var learningRate: Float
    /// `mu`, the share of the previous velocity kept, in [0, 1); 0 is plain SGD.
    public var momentum: Float
    /// `wd`, the L2 penalty, added to the gradient as `wd * w`; 0 disables it.
    public var weightDecay: Float
    /// Whether to take Nesterov's look-ahead step rather than the velocity itself; needs momentum.
    public var nesterov: Bool

    /// Plain SGD unless momentum, weight decay or Nesterov's step are given.
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
    /// The step size before bias correction: the schedule's rate for this step.
    public var learningRate: Float
    /// How much of the first moment (the running mean of the gradient) each step keeps, in [0, 1).
    public var beta1: Float
    /// How much of the second moment (the running mean of the squared gradient) each step keeps, in [0, 1).
    public var beta2: Float
    /// Added to the denominator, so that an element whose second moment is near zero takes a bounded step.
    public var epsilon: Float
    /// The L2 penalty, added to the gradient as `weightDecay * w`; 0 disables it.
    public var weightDecay: Float
    /// The 1-based step count `t`: the first update is step 1.
    public var step: Int

    /// PyTorch's defaults for all but the learning rate and the step, which every update must give.
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
