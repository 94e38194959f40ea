import Foundation
import Synapse
import XCTest

final class SoftmaxTests: SynapseTestCase {
    static let shapes = [(rows: 5, cols: 10), (rows: 3, cols: 1), (rows: 2, cols: 1000), (rows: 7, cols: 33)]

    /// Random logits, with the first row shifted to around +100 and the second (if any) to around -100:
    /// a naive exp would overflow or underflow there.
    func logits(_ rows: Int, _ cols: Int, _ random: inout TestRandom) -> [Float] {
        var x = random.floats(rows * cols, in: -5...5)
        for j in 0..<cols {
            x[j] += 100
            if rows > 1 { x[cols + j] -= 100 }
        }
        return x
    }

    /// Row-wise softmax in Float64, max subtracted, and each row's log-sum-exp.
    func referenceSoftmax(_ x: [Float], _ rows: Int, _ cols: Int) -> (p: [Double], logSumExp: [Double]) {
        var p = [Double](), logSumExp = [Double]()
        for r in 0..<rows {
            let row = x[r * cols..<(r + 1) * cols].map { Double($0) }
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let sum = e.reduce(0, +)
            p += e.map { $0 / sum }
            logSumExp.append(m + log(sum))
        }
        return (p, logSumExp)
    }

    func testForward() {
        var random = TestRandom(seed: 40)
        for (rows, cols) in Self.shapes {
            let x = logits(rows, cols, &random)
            let expected = referenceSoftmax(x, rows, cols).p
            forEachBackend { backend in
                let output = try backend.nanTensor(rows * cols)
                try backend.softmaxForward(input: try backend.tensor(x), output: output, rows: rows, cols: cols)
                assertClose(try backend.download(output), expected, OpCall(backend, "softmaxForward", "\(rows)x\(cols)"))
            }
        }
    }

    func testBackward() {
        var random = TestRandom(seed: 41)
        for (rows, cols) in Self.shapes {
            let y = referenceSoftmax(logits(rows, cols, &random), rows, cols).p.map { Float($0) }
            let dy = random.floats(rows * cols)
            var expected = [Double]()
            for r in 0..<rows {
                let range = r * cols..<(r + 1) * cols
                let dot = range.reduce(0.0) { $0 + Double(dy[$1]) * Double(y[$1]) }
                expected += range.map { Double(y[$0]) * (Double(dy[$0]) - dot) }
            }
            forEachBackend { backend in
                let dx = try backend.nanTensor(rows * cols)
                try backend.softmaxBackward(output: try backend.tensor(y), gradOutput: try backend.tensor(dy),
                                            gradInput: dx, rows: rows, cols: cols)
                assertClose(try backend.download(dx), expected, OpCall(backend, "softmaxBackward", "\(rows)x\(cols)"))
            }
        }
    }

    /// Probabilities and losses `-log p[label]`; the last row's label is out of range, which must give a
    /// NaN loss for that row only.
    func testCrossEntropyForward() {
        var random = TestRandom(seed: 42)
        for (rows, cols) in Self.shapes {
            let x = logits(rows, cols, &random)
            var labels = (0..<rows).map { _ in Int32(random.int(below: cols)) }
            labels[rows - 1] = rows % 2 == 0 ? Int32(cols) : -1
            let (p, logSumExp) = referenceSoftmax(x, rows, cols)
            let expectedLosses = (0..<rows).map { r -> Double in
                let label = Int(labels[r])
                return (0..<cols).contains(label) ? logSumExp[r] - Double(x[r * cols + label]) : .nan
            }
            forEachBackend { backend in
                let probabilities = try backend.nanTensor(rows * cols)
                // Not NaN: a NaN loss is the expected answer for the out-of-range row.
                let losses = try backend.tensor([Float](repeating: 1e30, count: rows))
                try backend.softmaxCrossEntropyForward(logits: try backend.tensor(x), labels: try backend.tensor(int32: labels),
                                                       probabilities: probabilities, losses: losses,
                                                       rows: rows, cols: cols)
                let call = OpCall(backend, "softmaxCrossEntropyForward", "\(rows)x\(cols) labels=\(labels)")
                assertClose(try backend.download(probabilities), p, call, "probabilities")
                assertClose(try backend.download(losses), expectedLosses, call, "losses")
            }
        }
    }

    func testCrossEntropyBackward() {
        var random = TestRandom(seed: 43)
        for (rows, cols) in Self.shapes {
            let p = referenceSoftmax(logits(rows, cols, &random), rows, cols).p.map { Float($0) }
            let labels = (0..<rows).map { _ in Int32(random.int(below: cols)) }
            let expected = (0..<rows * cols).map { i -> Double in
                (Double(p[i]) - (Int(labels[i / cols]) == i % cols ? 1 : 0)) / Double(rows)
            }
            forEachBackend { backend in
                let dx = try backend.nanTensor(rows * cols)
                try backend.softmaxCrossEntropyBackward(probabilities: try backend.tensor(p),
                                                        labels: try backend.tensor(int32: labels), gradLogits: dx,
                                                        rows: rows, cols: cols)
                assertClose(try backend.download(dx), expected,
                            OpCall(backend, "softmaxCrossEntropyBackward", "\(rows)x\(cols)"))
                // In place: the gradient overwrites the probabilities it is computed from.
                let inPlace = try backend.tensor(p)
                try backend.softmaxCrossEntropyBackward(probabilities: inPlace, labels: try backend.tensor(int32: labels),
                                                        gradLogits: inPlace, rows: rows, cols: cols)
                assertClose(try backend.download(inPlace), expected,
                            OpCall(backend, "softmaxCrossEntropyBackward", "\(rows)x\(cols) in place"))
            }
        }
    }
}
