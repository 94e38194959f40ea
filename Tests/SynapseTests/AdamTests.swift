import Synapse
import XCTest

/// The `adamUpdate` primitive on every backend, against a Float64 reference of PyTorch's Adam
/// (L2 weight decay folded into the gradient):
/// g' = g + wd*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
/// w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
final class AdamTests: SynapseTestCase {
    /// Several consecutive steps (t = 1...5), each with a fresh gradient, so that the bias corrections and
    /// the moments' carry-over between steps are exercised; odd counts catch a kernel that skips a tail.
    func testStepsAgainstFloat64Reference() {
        var random = TestRandom(seed: 90)
        let settings = [
            AdamParameters(learningRate: 1e-2, weightDecay: 1e-2, step: 1),
            AdamParameters(learningRate: 1e-3, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 5e-4, step: 1),
            AdamParameters(learningRate: 0.1, beta1: 0, beta2: 0.5, epsilon: 1e-3, step: 1),
        ]
        let steps = 5
        // Under `SYNAPSE_TEST_SHAPES=small`: still one, a few and more than one work-group of elements.
        for count in TestShapes.pick(full: [1, 7, 257, 4099], small: [1, 7, 257]) {
            let w0 = random.floats(count)
            let gradients = (0..<steps).map { _ in random.floats(count) }
            for setting in settings {
                // The reference runs in Double from the same Float32 inputs; only the bias corrections are
                // taken from the struct, as the devices take them.
                var w = w0.map(Double.init), m = [Double](repeating: 0, count: count), v = m
                var expected = [(w: [Double], m: [Double], v: [Double])]()
                let (lr, b1, b2) = (Double(setting.learningRate), Double(setting.beta1), Double(setting.beta2))
                let (eps, wd) = (Double(setting.epsilon), Double(setting.weightDecay))
                for t in 1...steps {
                    let bc1 = 1 - pow(b1, Double(t)), bc2 = 1 - pow(b2, Double(t))
                    for i in 0..<count {
                        let grad = Double(gradients[t - 1][i]) + wd * w[i]
                        m[i] = b1 * m[i] + (1 - b1) * grad
                        v[i] = b2 * v[i] + (1 - b2) * grad * grad
                        w[i] -= lr / bc1 * m[i] / (v[i].squareRoot() / bc2.squareRoot() + eps)
                    }
                    expected.append((w, m, v))
                }
                forEachBackend { backend in
                    let weights = try backend.tensor(w0)
                    let firstMoment = try backend.tensor([Float](repeating: 0, count: count))
                    let secondMoment = try backend.tensor([Float](repeating: 0, count: count))
                    for t in 1...steps {
                        var p = setting
                        p.step = t
                        try backend.adamUpdate(weights: weights, gradients: try backend.tensor(gradients[t - 1]),
                                               firstMoment: firstMoment, secondMoment: secondMoment, parameters: p,
                                               segments: backend.segments(covering: weights))
                        let call = OpCall(backend, "adamUpdate", "count=\(count) \(p)")
                        assertClose(try backend.download(weights), expected[t - 1].w, call, "weights")
                        assertClose(try backend.download(firstMoment), expected[t - 1].m, call, "firstMoment")
                        assertClose(try backend.download(secondMoment), expected[t - 1].v, call, "secondMoment")
                    }
                }
            }
        }
    }

    /// The host-side bias corrections match `pow` (to the last bit of the Float, barring a rounding tie),
    /// also far into training where beta^t underflows. They are powers of the Float32 betas the devices use
    /// in the moment updates, so that at t = 1 the corrected moments are exactly g' and g'^2.
    func testBiasCorrections() {
        for t in [1, 2, 5, 100, 10_000, 1_000_000] {
            let p = AdamParameters(learningRate: 1e-3, step: t)
            let bc1 = Float(1 - pow(Double(p.beta1), Double(t)))
            let sqrtBC2 = Float((1 - pow(Double(p.beta2), Double(t))).squareRoot())
            XCTAssertEqual(p.biasCorrection1, bc1, accuracy: bc1.ulp, "t=\(t)")
            XCTAssertEqual(p.sqrtBiasCorrection2, sqrtBC2, accuracy: sqrtBC2.ulp, "t=\(t)")
        }
    }

    /// Bad hyper-parameters and buffers are refused, naming the field, before any kernel writes `weights`.
    func testBadInput() {
        forEachBackend { backend in
            let count = 16
            let w = try backend.tensor([Float](repeating: 1, count: count))
            let g = try backend.tensor([Float](repeating: 1, count: count))
            let m = try backend.tensor(shape: [count]), v = try backend.tensor(shape: [count])
            let short = try backend.tensor(shape: [count - 1])
            let good = AdamParameters(learningRate: 1e-3, step: 1)
            let segments = try backend.segments(covering: w)
            func update(_ p: AdamParameters, secondMoment: Tensor? = nil, count n: Int = count) throws {
                try backend.adamUpdate(weights: w.elements(0..<n), gradients: g.elements(0..<n),
                                       firstMoment: m.elements(0..<n), secondMoment: (secondMoment ?? v).elements(0..<min(n, (secondMoment ?? v).count)),
                                       parameters: p, segments: segments)
            }
            func with(_ change: (inout AdamParameters) -> Void) -> AdamParameters {
                var p = good
                change(&p)
                return p
            }
            let cases: [(String, ErrorKind, [String], () throws -> Void)] = [
                ("step 0", .invalidArgument, ["adamUpdate", "step", "got 0"], { try update(with { $0.step = 0 }) }),
                ("beta1 = 1", .invalidArgument, ["adamUpdate", "beta1", "[0, 1)"], { try update(with { $0.beta1 = 1 }) }),
                ("beta1 < 0", .invalidArgument, ["beta1"], { try update(with { $0.beta1 = -0.1 }) }),
                ("beta2 = 1.5", .invalidArgument, ["adamUpdate", "beta2"], { try update(with { $0.beta2 = 1.5 }) }),
                ("epsilon 0", .invalidArgument, ["adamUpdate", "epsilon"], { try update(with { $0.epsilon = 0 }) }),
                ("NaN learning rate", .invalidArgument, ["learningRate"],
                 { try update(with { $0.learningRate = .nan }) }),
                ("infinite learning rate", .invalidArgument, ["learningRate"],
                 { try update(with { $0.learningRate = .infinity }) }),
                ("negative weight decay", .invalidArgument, ["weightDecay"],
                 { try update(with { $0.weightDecay = -1 }) }),
                ("short second moment", .shapeMismatch, ["adamUpdate", "secondMoment needs 16", "holds 15"],
                 { try update(good, secondMoment: short) }),
                ("count 0", .invalidArgument, ["adamUpdate", "count"], { try update(good, count: 0) }),
                ("moments aliased", .invalidArgument, ["firstMoment", "secondMoment", "overlap"],
                 { try update(good, secondMoment: m) }),
            ]
            for (description, kind, mentioning, call) in cases {
                assertThrows(kind, mentioning: mentioning, "\(backend.name): \(description)", call)
            }
            // Nothing ran: the weights are untouched.
            XCTAssertEqual(try backend.download(w), [Float](repeating: 1, count: count), backend.name)
            // And the good call works, so the failures above were not the buffers' fault.
            try update(good)
            XCTAssertNotEqual(try backend.download(w), [Float](repeating: 1, count: count), backend.name)
        }
    }
}
