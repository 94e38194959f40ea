import Foundation
import Synapse
import XCTest

final class ActivationTests: SynapseTestCase {
    static let count = 1037

    /// Negatives, positives, and exact zeros (every seventh element), where the ReLU family has its kink.
    static let input: [Float] = {
        var random = TestRandom(seed: 30)
        return (0..<count).map { i in i % 7 == 0 ? 0 : random.float(in: -6...6) }
    }()

    static let gradOutput: [Float] = {
        var random = TestRandom(seed: 31)
        return random.floats(count)
    }()

    static let all: [Activation] = [.relu, .leakyReLU(slope: 0.1), .sigmoid, .tanh, .step, .softplus, .scaledTanh]

    func referenceForward(_ activation: Activation, _ x: Float) -> Double {
        let v = Double(x)
        switch activation {
        case .relu: return v > 0 ? v : 0
        case .leakyReLU(let slope): return v > 0 ? v : Double(slope) * v
        case .sigmoid: return 1 / (1 + exp(-v))
        case .tanh: return Foundation.tanh(v)
        case .step: return v >= 0 ? 1 : 0
        case .softplus: return log1p(exp(v))
        case .scaledTanh: return 1.7159 * Foundation.tanh(2 * v / 3)
        }
    }

    /// `dy * f'(x)`; sigmoid and tanh take the derivative from the output `y`, as the backends do.
    /// The ReLU family's derivative at exactly 0 is the left one (0, resp. slope), as in PyTorch.
    func referenceBackward(_ activation: Activation, x: Float, y: Float, dy: Float) -> Double {
        let (x, y, dy) = (Double(x), Double(y), Double(dy))
        switch activation {
        case .relu: return x > 0 ? dy : 0
        case .leakyReLU(let slope): return x > 0 ? dy : Double(slope) * dy
        case .sigmoid: return dy * y * (1 - y)
        case .tanh: return dy * (1 - y * y)
        case .step: return 0
        case .softplus: return dy / (1 + exp(-x))
        case .scaledTanh: return dy * (2.0 / 3.0) * (1.7159 - y * y / 1.7159)
        }
    }

    func testForward() {
        for activation in Self.all {
            let expected = Self.input.map { referenceForward(activation, $0) }
            forEachBackend { backend in
                let output = try backend.nanTensor(Self.count)
                try backend.activationForward(activation, input: try backend.tensor(Self.input), output: output)
                let got = try backend.download(output)
                let call = OpCall(backend, "activationForward(\(activation))", "count=\(Self.count)")
                if activation == .relu || activation == .step {
                    assertBitwiseEqual(got, expected.map { Float($0) }, call)
                } else {
                    assertClose(got, expected, call)
                }
            }
        }
    }

    func testBackward() {
        for activation in Self.all {
            let output = Self.input.map { Float(referenceForward(activation, $0)) }
            let expected = (0..<Self.count).map {
                referenceBackward(activation, x: Self.input[$0], y: output[$0], dy: Self.gradOutput[$0])
            }
            forEachBackend { backend in
                let dx = try backend.nanTensor(Self.count)
                try backend.activationBackward(activation, input: try backend.tensor(Self.input), output: try backend.tensor(output), gradOutput: try backend.tensor(Self.gradOutput), gradInput: dx)
                let got = try backend.download(dx)
                let call = OpCall(backend, "activationBackward(\(activation))", "count=\(Self.count)")
                if activation == .relu || activation == .step {
                    assertBitwiseEqual(got, expected.map { Float($0) }, call)
                } else {
                    assertClose(got, expected, call)
                }
            }
        }
    }
}
