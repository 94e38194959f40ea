import Foundation
import Synapse
import XCTest

final class LRNTests: SynapseTestCase {
    /// AlexNet's parameters, a large alpha so that the normaliser really varies, and k = 2; with 1, 3 and 7
    /// channels (fewer channels than the window, and a window clipped at both ends).
    static let geometries: [LRNGeometry] = [1, 3, 7].flatMap { channels in
        [(alpha: Float(1e-4), k: Float(1)), (0.5, 1), (0.5, 2)].map { alpha, k in
            LRNGeometry(batch: 2, channels: channels, spatial: 5, size: 5, alpha: alpha, beta: 0.75, k: k)
        }
    }

    func describe(_ g: LRNGeometry) -> String {
        "batch=\(g.batch) channels=\(g.channels) spatial=\(g.spatial) size=\(g.size) alpha=\(g.alpha) beta=\(g.beta) k=\(g.k)"
    }

    /// The channels in the window of channel c.
    func window(_ c: Int, _ g: LRNGeometry) -> ClosedRange<Int> {
        max(c - g.size / 2, 0)...min(c + g.size / 2, g.channels - 1)
    }

    func index(_ n: Int, _ c: Int, _ s: Int, _ g: LRNGeometry) -> Int { (n * g.channels + c) * g.spatial + s }

    /// Float64 forward: scale = k + alpha/size * sum of x^2 over the window; y = x * scale^-beta.
    func referenceForward(_ x: [Double], _ g: LRNGeometry) -> (y: [Double], scale: [Double]) {
        var y = [Double](repeating: 0, count: g.count), scale = y
        for n in 0..<g.batch { for c in 0..<g.channels { for s in 0..<g.spatial {
            let sum = window(c, g).reduce(0.0) { $0 + x[index(n, $1, s, g)] * x[index(n, $1, s, g)] }
            let i = index(n, c, s, g)
            scale[i] = Double(g.k) + Double(g.alpha) / Double(g.size) * sum
            y[i] = x[i] * pow(scale[i], -Double(g.beta))
        } } }
        return (y, scale)
    }

    /// Float64 analytic backward (Caffe's formula):
    /// dx = dy * scale^-beta - 2 alpha beta / size * x * sum over the window of dy * y / scale.
    func referenceBackward(_ x: [Double], _ dy: [Double], _ g: LRNGeometry) -> [Double] {
        let (y, scale) = referenceForward(x, g)
        var dx = [Double](repeating: 0, count: g.count)
        for n in 0..<g.batch { for c in 0..<g.channels { for s in 0..<g.spatial {
            let sum = window(c, g).reduce(0.0) { total, j in
                let e = index(n, j, s, g)
                return total + dy[e] * y[e] / scale[e]
            }
            let i = index(n, c, s, g)
            dx[i] = dy[i] * pow(scale[i], -Double(g.beta))
                - 2 * Double(g.alpha) * Double(g.beta) / Double(g.size) * x[i] * sum
        } } }
        return dx
    }

    /// Central differences of `sum(dy * y(x))` in Float64: a gradient check independent of the formula.
    func numericGradient(_ x: [Double], _ dy: [Double], _ g: LRNGeometry) -> [Double] {
        func loss(_ x: [Double]) -> Double { zip(referenceForward(x, g).y, dy).reduce(0) { $0 + $1.0 * $1.1 } }
        return x.indices.map { i in
            let h = 1e-5 * max(1, abs(x[i]))
            var plus = x, minus = x
            plus[i] += h
            minus[i] -= h
            return (loss(plus) - loss(minus)) / (2 * h)
        }
    }

    func testForward() {
        var random = TestRandom(seed: 60)
        for g in Self.geometries {
            let x = random.floats(g.count, in: -2...2)
            let expected = referenceForward(x.map { Double($0) }, g)
            forEachBackend { backend in
                let output = try backend.nanTensor(g.count), scale = try backend.nanTensor(g.count)
                try backend.lrnForward(input: try backend.tensor(x), output: output, scale: scale, geometry: g)
                let call = OpCall(backend, "lrnForward", describe(g))
                assertClose(try backend.download(output), expected.y, call, "output")
                assertClose(try backend.download(scale), expected.scale, call, "scale")
            }
        }
    }

    /// The backward pass, fed the backend's own forward results, against the analytic Float64 formula and
    /// against finite differences.
    func testBackwardAndGradientCheck() {
        var random = TestRandom(seed: 61)
        for g in Self.geometries {
            let x = random.floats(g.count, in: -2...2), dy = random.floats(g.count)
            let (x64, dy64) = (x.map { Double($0) }, dy.map { Double($0) })
            let analytic = referenceBackward(x64, dy64, g)
            let numeric = numericGradient(x64, dy64, g)
            forEachBackend { backend in
                let input = try backend.tensor(x)
                let output = try backend.nanTensor(g.count), scale = try backend.nanTensor(g.count)
                let dx = try backend.nanTensor(g.count)
                try backend.lrnForward(input: input, output: output, scale: scale, geometry: g)
                try backend.lrnBackward(input: input, output: output, scale: scale, gradOutput: try backend.tensor(dy),
                                        gradInput: dx, geometry: g)
                let got = try backend.download(dx)
                let call = OpCall(backend, "lrnBackward", describe(g))
                assertClose(got, analytic, call, "gradInput vs the analytic formula")
                assertClose(got, numeric, call, "gradInput vs central differences")
            }
        }
    }
}
