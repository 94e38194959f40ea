import Foundation
import SynapseCore

/// How a parameter's initial values are drawn. Values are generated on the host from Philox and
/// uploaded, so the same seed gives the same weights on every device.
/// `fanIn`/`fanOut` follow PyTorch: for a conv weight `[outC, inC/groups, kH, kW]`, fanIn is
/// `inC/groups * kH * kW` and fanOut is `outC * kH * kW`.
public enum Initializer: Equatable, Sendable {
    case constant(Float)
    case gaussian(mean: Float, std: Float)
    case uniform(low: Float, high: Float)
    /// Glorot & Bengio: U(-a, a) with a = sqrt(6 / (fanIn + fanOut)).
    case xavierUniform
    /// Glorot & Bengio: N(0, 2 / (fanIn + fanOut)).
    case xavierNormal
    /// He et al., for ReLU nets: N(0, 2 / fanIn).
    case heNormal
    /// He et al.: U(-a, a) with a = sqrt(6 / fanIn).
    case heUniform
    /// PyTorch's default for `nn.Linear` and `nn.Conv2d` weights (Kaiming uniform with a = sqrt(5)):
    /// U(-a, a) with a = 1 / sqrt(fanIn). Small enough that a fresh classifier's logits start near zero, so
    /// its first loss is close to ln(classes).
    case pytorchDefault
    /// LeCun et al. 1998 (LeNet-5): U(-2.4 / fanIn, 2.4 / fanIn), which keeps the scaled tanh's sums in its
    /// near-linear range.
    case lecunUniform

    /// `count` values drawn from Philox words starting at `address`.
    public func values(count: Int, fanIn: Int, fanOut: Int, address: PhiloxAddress) -> [Float] {
        switch self {
        case let .constant(value):
            return [Float](repeating: value, count: count)
        case let .gaussian(mean, std):
            return Self.gaussian(count: count, mean: Double(mean), std: Double(std), address: address)
        case let .uniform(low, high):
            return Self.uniform(count: count, low: Double(low), high: Double(high), address: address)
        case .xavierUniform:
            let a = (6.0 / Double(fanIn + fanOut)).squareRoot()
            return Self.uniform(count: count, low: -a, high: a, address: address)
        case .xavierNormal:
            return Self.gaussian(count: count, mean: 0, std: (2.0 / Double(fanIn + fanOut)).squareRoot(), address: address)
        case .heNormal:
            return Self.gaussian(count: count, mean: 0, std: (2.0 / Double(fanIn)).squareRoot(), address: address)
        case .heUniform:
            let a = (6.0 / Double(fanIn)).squareRoot()
            return Self.uniform(count: count, low: -a, high: a, address: address)
        case .pytorchDefault:
            let a = 1 / Double(fanIn).squareRoot()
            return Self.uniform(count: count, low: -a, high: a, address: address)
        case .lecunUniform:
            let a = 2.4 / Double(fanIn)
            return Self.uniform(count: count, low: -a, high: a, address: address)
        }
    }

    private static func uniform(count: Int, low: Double, high: Double, address: PhiloxAddress) -> [Float] {
        Philox.words(address, count: count).map { Float(low + (high - low) * Double(Philox.uniform($0))) }
    }

    /// Box-Muller on pairs of words; u1 is taken in (0, 1] so that the logarithm is finite.
    private static func gaussian(count: Int, mean: Double, std: Double, address: PhiloxAddress) -> [Float] {
        let words = Philox.words(address, count: 2 * ((count + 1) / 2))
        var out = [Float]()
        out.reserveCapacity(count)
        for pair in 0..<(words.count / 2) {
            let u1 = (Double(words[2 * pair] >> 8) + 1) / 16_777_216.0
            let u2 = Double(Philox.uniform(words[2 * pair + 1]))
            let radius = (-2 * log(u1)).squareRoot()
            out.append(Float(mean + std * radius * cos(2 * Double.pi * u2)))
            if out.count < count { out.append(Float(mean + std * radius * sin(2 * Double.pi * u2))) }
        }
        return out
    }
}
