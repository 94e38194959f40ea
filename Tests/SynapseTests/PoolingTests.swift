import Synapse
import XCTest

final class PoolingTests: SynapseTestCase {
    static let geometries = [
        // AlexNet's overlapping 3x3 stride 2.
        PoolGeometry(planes: 3, height: 13, width: 13, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2),
        PoolGeometry(planes: 2, height: 8, width: 8, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2),
        // Odd planes: floor division drops the last row and column.
        PoolGeometry(planes: 2, height: 7, width: 5, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2),
        PoolGeometry(planes: 2, height: 5, width: 7, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1),
        PoolGeometry(planes: 3, height: 9, width: 6, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1),
        PoolGeometry(planes: 1, height: 6, width: 11, kernelH: 3, kernelW: 2, strideH: 3, strideW: 2, padH: 1, padW: 1),
    ]

    func describe(_ g: PoolGeometry) -> String {
        "planes=\(g.planes) \(g.height)x\(g.width) window=\(g.kernelH)x\(g.kernelW) "
            + "stride=\(g.strideH)x\(g.strideW) pad=\(g.padH)x\(g.padW)"
    }

    /// The window of output (y, x) clipped to the plane, and the average's divisor: the window clipped
    /// to the padded plane instead (PyTorch's count_include_pad).
    func window(_ g: PoolGeometry, _ y: Int, _ x: Int) -> (rows: Range<Int>, cols: Range<Int>, divisor: Int) {
        let h0 = y * g.strideH - g.padH, w0 = x * g.strideW - g.padW
        let divisor = (min(h0 + g.kernelH, g.height + g.padH) - h0) * (min(w0 + g.kernelW, g.width + g.padW) - w0)
        return (max(h0, 0)..<min(h0 + g.kernelH, g.height), max(w0, 0)..<min(w0 + g.kernelW, g.width), divisor)
    }

    /// Calls `body(plane, outputIndex, window)` for every output in order.
    func forEachOutput(_ g: PoolGeometry, _ body: (Int, Int, (rows: Range<Int>, cols: Range<Int>, divisor: Int)) -> Void) {
        var o = 0
        for p in 0..<g.planes { for y in 0..<g.outputH { for x in 0..<g.outputW {
            body(p, o, window(g, y, x))
            o += 1
        } } }
    }

    /// Maximum of each window and its index within the plane (the first one, scanning row by row).
    func referenceMaxPool(_ input: [Float], _ g: PoolGeometry) -> (values: [Float], argmax: [Int32]) {
        var values = [Float](), argmax = [Int32]()
        forEachOutput(g) { p, _, w in
            var best = -Float.infinity, bestIndex = w.rows.lowerBound * g.width + w.cols.lowerBound
            for h in w.rows { for x in w.cols where input[(p * g.height + h) * g.width + x] > best {
                best = input[(p * g.height + h) * g.width + x]
                bestIndex = h * g.width + x
            } }
            values.append(best)
            argmax.append(Int32(bestIndex))
        }
        return (values, argmax)
    }

    /// Values in steps of a half, so that windows hold ties (the first maximum wins), and a NaN, which never wins.
    func testMaxPoolForwardIsExactIncludingArgmax() {
        var random = TestRandom(seed: 20)
        for g in Self.geometries {
            var x = random.floats(g.inputCount, in: -4...4).map { ($0 * 2).rounded() / 2 }
            x[g.inputCount / 2] = .nan
            let expected = referenceMaxPool(x, g)
            forEachBackend { backend in
                let output = try backend.nanTensor(g.outputCount)
                let argmax = try backend.tensor(int32: [Int32](repeating: -7, count: g.outputCount))
                try backend.maxPoolForward(input: try backend.tensor(x), output: output, argmax: argmax, geometry: g)
                let call = OpCall(backend, "maxPoolForward", describe(g))
                assertBitwiseEqual(try backend.download(output), expected.values, call)
                assertEqual(try backend.downloadInt32(argmax), expected.argmax, call, "argmax")
            }
        }
    }

    /// Each output gradient goes to the pixel its reference argmax names; overlapping windows add up.
    func testMaxPoolBackwardRoutesThroughArgmax() {
        var random = TestRandom(seed: 21)
        for g in Self.geometries {
            let argmax = referenceMaxPool(random.floats(g.inputCount), g).argmax
            let dy = random.floats(g.outputCount)
            var expected = [Double](repeating: 0, count: g.inputCount)
            forEachOutput(g) { p, o, _ in expected[p * g.height * g.width + Int(argmax[o])] += Double(dy[o]) }
            forEachBackend { backend in
                let dx = try backend.nanTensor(g.inputCount)
                try backend.maxPoolBackward(gradOutput: try backend.tensor(dy), argmax: try backend.tensor(int32: argmax),
                                            gradInput: dx, geometry: g)
                assertClose(try backend.download(dx), expected, OpCall(backend, "maxPoolBackward", describe(g)))
            }
        }
    }

    func testAvgPoolForward() {
        var random = TestRandom(seed: 22)
        for g in Self.geometries {
            let x = random.floats(g.inputCount, in: -4...4)
            var expected = [Double]()
            forEachOutput(g) { p, _, w in
                var sum = 0.0
                for h in w.rows { for c in w.cols { sum += Double(x[(p * g.height + h) * g.width + c]) } }
                expected.append(sum / Double(w.divisor))
            }
            forEachBackend { backend in
                let output = try backend.nanTensor(g.outputCount)
                try backend.avgPoolForward(input: try backend.tensor(x), output: output, geometry: g)
                assertClose(try backend.download(output), expected, OpCall(backend, "avgPoolForward", describe(g)))
            }
        }
    }

    func testAvgPoolBackward() {
        var random = TestRandom(seed: 23)
        for g in Self.geometries {
            let dy = random.floats(g.outputCount)
            var expected = [Double](repeating: 0, count: g.inputCount)
            forEachOutput(g) { p, o, w in
                for h in w.rows { for c in w.cols {
                    expected[(p * g.height + h) * g.width + c] += Double(dy[o]) / Double(w.divisor)
                } }
            }
            forEachBackend { backend in
                let dx = try backend.nanTensor(g.inputCount)
                try backend.avgPoolBackward(gradOutput: try backend.tensor(dy), gradInput: dx, geometry: g)
                assertClose(try backend.download(dx), expected, OpCall(backend, "avgPoolBackward", describe(g)))
            }
        }
    }
}
