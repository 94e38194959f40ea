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
            let yBuffer = try backend.buffer(y)
            try backend.axpy(alpha: alpha, x: try backend.buffer(x), y: yBuffer, count: count)
            assertClose(try backend.download(yBuffer), expected, OpCall(backend, "axpy", "count=\(count) alpha=\(alpha)"))
        }
    }

    func testScale() {
        var random = TestRandom(seed: 71)
        let x = random.floats(count)
        let alpha: Float = 3.25
        forEachBackend { backend in
            let xBuffer = try backend.buffer(x)
            try backend.scale(xBuffer, by: alpha, count: count)
            assertClose(try backend.download(xBuffer), x.map { Double($0) * Double(alpha) },
                        OpCall(backend, "scale", "count=\(count) alpha=\(alpha)"))
        }
    }

    func testMultiply() {
        var random = TestRandom(seed: 72)
        let a = random.floats(count), b = random.floats(count)
        forEachBackend { backend in
            let output = try backend.nanBuffer(count)
            try backend.multiply(try backend.buffer(a), try backend.buffer(b), output: output, count: count)
            assertClose(try backend.download(output), (0..<count).map { Double(a[$0]) * Double(b[$0]) },
                        OpCall(backend, "multiply", "count=\(count)"))
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
                let input = try backend.buffer(x), result = try backend.nanBuffer(1)
                try backend.sum(input, count: n, result: result)
                assertClose([try backend.readScalar(result)], [sum], k: n, OpCall(backend, "sum", "count=\(n)"))
                try backend.fill(result, value: .nan, offset: 0, count: 1)
                try backend.sumOfSquares(input, count: n, result: result)
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
                expectedV.append(velocity)
                expectedW.append(Double(w[i]) - lr * (p.nesterov ? grad + mu * velocity : velocity))
            }
            forEachBackend { backend in
                let weights = try backend.buffer(w), velocity = try backend.buffer(v)
                try backend.sgdMomentumUpdate(weights: weights, gradients: try backend.buffer(g), velocity: velocity,
                                              count: count, parameters: p)
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
                let buffer = try backend.buffer(data)
                try backend.biasAdd(data: buffer, bias: try backend.buffer(bias), outer: outer, channels: channels, inner: inner)
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
            forEachBackend { backend in
                let gradBias = try backend.nanBuffer(channels)
                try backend.biasGradient(gradOutput: try backend.buffer(dy), gradBias: gradBias, outer: outer,
                                         channels: channels, inner: inner)
                assertClose(try backend.download(gradBias), expected, k: outer * inner,
                            OpCall(backend, "biasGradient", "outer=\(outer) channels=\(channels) inner=\(inner)"))
            }
        }
    }
}
