import Synapse
import XCTest

final class ElementwiseTests: SynapseTestCase {
    let count = 1031

    func testAxpy() {
        var random = TestRandom(seed: 70)
        let x = random.floats(count), y = random.floats(count)
        let alpha: Float = -0.75
        let expected = (0..<count).map { Double(y[$0]) + Double(alpha) * Double(x[$0]) }
        forEachBackend { backend in
            let yBuffer = try backend.tensor(y)
            try backend.axpy(alpha: alpha, x: try backend.tensor(x), y: yBuffer)
            assertClose(try backend.download(yBuffer), expected, OpCall(backend, "axpy", "count=\(count) alpha=\(alpha)"))
        }
    }

    func testScale() {
        var random = TestRandom(seed: 71)
        let x = random.floats(count)
        let alpha: Float = 3.25
        forEachBackend { backend in
            let xBuffer = try backend.tensor(x)
            try backend.scale(xBuffer, by: alpha)
            assertClose(try backend.download(xBuffer), x.map { Double($0) * Double(alpha) },
                        OpCall(backend, "scale", "count=\(count) alpha=\(alpha)"))
        }
    }

    func testMultiply() {
        var random = TestRandom(seed: 72)
        let a = random.floats(count), b = random.floats(count)
        forEachBackend { backend in
            let output = try backend.nanTensor(count)
            try backend.multiply(try backend.tensor(a), try backend.tensor(b), output: output)
            assertClose(try backend.download(output), (0..<count).map { Double(a[$0]) * Double(b[$0]) },
                        OpCall(backend, "multiply", "count=\(count)"))
        }
    }

    /// The KL sparsity terms against Float64, including activations at and beyond the clamp (0 and 1).
    func testSparsityPenalty() {
        var random = TestRandom(seed: 74)
        let rho: Float = 0.05
        let r = [0, 1, 1e-7, 0.05] + random.floats(count - 4, in: 0.001...0.999)
        func clamped(_ x: Float) -> Double { Double(min(max(x, 1e-6), 1 - 1e-6)) }
        let p = Double(rho)
        let divergence = r.map { x -> Double in let q = clamped(x); return p * log(p / q) + (1 - p) * log((1 - p) / (1 - q)) }
        let gradient = r.map { x -> Double in let q = clamped(x); return -p / q + (1 - p) / (1 - q) }
        forEachBackend { backend in
            let kl = try backend.nanTensor(count), g = try backend.nanTensor(count)
            try backend.sparsityPenalty(meanActivation: try backend.tensor(r), target: rho, divergence: kl, gradient: g)
            let call = OpCall(backend, "sparsityPenalty", "count=\(count) rho=\(rho)")
            assertClose(try backend.download(kl), divergence, call, "divergence")
            assertClose(try backend.download(g), gradient, call, "gradient")
        }
    }

    /// Exact: the shrinkage is one subtraction and a sign, the same on every device; in place too. NaN stays NaN.
    func testSoftThreshold() {
        var random = TestRandom(seed: 75)
        let x = [0, 0.25, -0.25, 0.2500001, -1, .nan] + random.floats(count - 6)
        let threshold: Float = 0.25
        let expected = x.map { v -> Float in
            let s = abs(v) - threshold, kept = s <= 0 ? 0 : s
            return v < 0 ? -kept : kept
        }
        forEachBackend { backend in
            let output = try backend.nanTensor(count), input = try backend.tensor(x)
            try backend.softThreshold(input, threshold: threshold, output: output)
            assertBitwiseEqual(try backend.download(output), expected, OpCall(backend, "softThreshold", "count=\(count)"))
            try backend.softThreshold(input, threshold: threshold, output: input)
            assertBitwiseEqual(try backend.download(input), expected, OpCall(backend, "softThreshold in place", "count=\(count)"))
        }
    }

    /// Against a Float64 sum, with the tolerance of a dot product of n terms: sqrt(n) * eps * sum |terms|.
    func testSumAndSumOfSquares() {
        var random = TestRandom(seed: 73)
        for n in [1, 7, 1000, 100_003] {
            let x = random.floats(n, in: -2...2)
            let sum = SumReference(value: x.reduce(0.0) { $0 + Double($1) }, scale: x.reduce(0.0) { $0 + abs(Double($1)) })
            let squares = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            forEachBackend { backend in
                let input = try backend.tensor(x), result = try backend.nanTensor(1)
                try backend.sum(input, result: result)
                assertClose([try backend.readScalar(result)], [sum], k: n, OpCall(backend, "sum", "count=\(n)"))
                try backend.fill(result.elements(0..<1), value: .nan)
                try backend.sumOfSquares(input, result: result)
                assertClose([try backend.readScalar(result)], [SumReference(value: squares, scale: squares)], k: n,
                            OpCall(backend, "sumOfSquares", "count=\(n)"))
            }
        }
    }

    /// PyTorch's SGD: g' = g + wd*w; v = mu*v + g'; w -= lr * (nesterov ? g' + mu*v : v).
    func testSGDMomentum() {
        var random = TestRandom(seed: 74)
        let w = random.floats(count), g = random.floats(count), v = random.floats(count, in: -0.1...0.1)
        let settings = [
            SGDParameters(learningRate: 0.1, momentum: 0.9),
            SGDParameters(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4),
            SGDParameters(learningRate: 0.05, momentum: 0.8, weightDecay: 1e-2, nesterov: true),
            SGDParameters(learningRate: 0.1, momentum: 0.9, nesterov: true),
            SGDParameters(learningRate: 0.5),
        ]
        for p in settings {
            var expectedW = [Double](), expectedV = [Double]()
            for i in 0..<count {
                let (lr, mu, wd) = (Double(p.learningRate), Double(p.momentum), Double(p.weightDecay))
                let grad = Double(g[i]) + wd * Double(w[i])
                let velocity = mu * Double(v[i]) + grad
                expectedV.append(mu == 0 ? Double(v[i]) : velocity)   // plain SGD leaves the velocity alone
                expectedW.append(Double(w[i]) - lr * (p.nesterov ? grad + mu * velocity : velocity))
            }
            forEachBackend { backend in
                let weights = try backend.tensor(w), velocity = try backend.tensor(v)
                try backend.sgdMomentumUpdate(weights: weights, gradients: try backend.tensor(g), velocity: velocity,
                                              parameters: p, segments: backend.segments(covering: weights))
                let call = OpCall(backend, "sgdMomentumUpdate", "count=\(count) \(p)")
                assertClose(try backend.download(weights), expectedW, call, "weights")
                assertClose(try backend.download(velocity), expectedV, call, "velocity")
            }
        }
    }

    func testBiasAdd() {
        var random = TestRandom(seed: 75)
        for (outer, channels, inner) in [(3, 7, 33), (5, 3, 1), (2, 1, 17), (1, 4, 1000)] {
            let data = random.floats(outer * channels * inner), bias = random.floats(channels)
            let expected = data.indices.map { Double(data[$0]) + Double(bias[($0 / inner) % channels]) }
            forEachBackend { backend in
                let buffer = try backend.tensor(data)
                try backend.biasAdd(data: buffer, bias: try backend.tensor(bias), outer: outer, channels: channels, inner: inner)
                assertClose(try backend.download(buffer), expected,
                            OpCall(backend, "biasAdd", "outer=\(outer) channels=\(channels) inner=\(inner)"))
            }
        }
    }

    /// A reduction over outer * inner terms per channel, so it gets the dot-product tolerance.
    func testBiasGradient() {
        var random = TestRandom(seed: 76)
        for (outer, channels, inner) in [(3, 7, 33), (5, 3, 1), (2, 1, 17), (1, 4, 1000), (600, 2, 1), (4, 300, 1)] {
            let dy = random.floats(outer * channels * inner)
            var expected = [SumReference](repeating: SumReference(value: 0, scale: 0), count: channels)
            for (i, value) in dy.enumerated() {
                expected[(i / inner) % channels].value += Double(value)
                expected[(i / inner) % channels].scale += abs(Double(value))
            }
            let previous = random.floats(channels)
            let accumulated = expected.indices.map {
                SumReference(value: expected[$0].value + Double(previous[$0]), scale: expected[$0].scale + abs(Double(previous[$0])))
            }
            forEachBackend { backend in
                let call = OpCall(backend, "biasGradient", "outer=\(outer) channels=\(channels) inner=\(inner)")
                let gradBias = try backend.nanTensor(channels)
                try backend.biasGradient(gradOutput: try backend.tensor(dy), gradBias: gradBias, outer: outer,
                                         channels: channels, inner: inner, accumulate: false)
                assertClose(try backend.download(gradBias), expected, k: outer * inner, call)
                // Accumulating adds to what the gradient held.
                try backend.upload(previous, to: gradBias)
                try backend.biasGradient(gradOutput: try backend.tensor(dy), gradBias: gradBias, outer: outer,
                                         channels: channels, inner: inner, accumulate: true)
                assertClose(try backend.download(gradBias), accumulated, k: outer * inner + 1, call, "accumulated")
            }
        }
    }

    /// PyTorch's `clip_grad_norm_`: `x *= min(1, maxNorm / (||x|| + 1e-6))`, the squared norm read on the device.
    func testClipToNorm() {
        var random = TestRandom(seed: 77)
        let x = random.floats(1031)
        let norm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        for maxNorm in [Float(norm / 4), Float(norm * 2)] {
            let coefficient = min(1, Double(maxNorm) / (norm + 1e-6))
            forEachBackend { backend in
                let values = try backend.tensor(x), squares = try backend.nanTensor(1)
                try backend.sumOfSquares(values, result: squares)
                try backend.clipToNorm(values, sumOfSquares: squares, maxNorm: maxNorm)
                assertClose(try backend.download(values), x.map { Double($0) * coefficient },
                            OpCall(backend, "clipToNorm", "count=\(x.count) maxNorm=\(maxNorm), norm \(norm)"))
            }
        }
        forEachBackend { backend in
            let values = try backend.tensor(x), squares = try backend.tensor(shape: [1])
            for bad in [Float(0), -1, .nan, .infinity] {
                assertThrows(.invalidArgument, mentioning: ["clipToNorm", "maxNorm"], "\(backend.name) maxNorm \(bad)") {
                    try backend.clipToNorm(values, sumOfSquares: squares, maxNorm: bad)
                }
            }
        }
    }
}
