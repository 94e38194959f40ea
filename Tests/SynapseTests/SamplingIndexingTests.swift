import Foundation
import Synapse
import XCTest

/// Uniform and Bernoulli sampling from Philox: the same bits on every device as the Swift reference.
final class SamplingTests: SynapseTestCase {
    static let addresses = [
        PhiloxAddress(seed: 7, stream: 3, counter: 0),
        PhiloxAddress(seed: 0xdead_beef_0000_0001, stream: 0x1_0000_0003, counter: (1 << 34) - 6),
        PhiloxAddress(seed: 1, stream: 9, counter: 5),
    ]

    func testUniformIsExactOnEveryBackend() {
        for (count, address) in zip([1, 37, 1001], Self.addresses) {
            for (low, high) in [(Float(0), Float(1)), (-0.5, 2.25)] {
                let words = Philox.words(address, count: count)
                let expected = words.map { low + (high - low) * Philox.uniform($0) }
                forEachBackend { backend in
                    let output = try backend.nanTensor(count)
                    try backend.uniform(output: output, low: low, high: high, address: address)
                    assertBitwiseEqual(try backend.download(output), expected,
                                       OpCall(backend, "uniform", "count=\(count) [\(low), \(high)) \(address)"))
                }
            }
        }
        forEachBackend { backend in
            let output = try backend.tensor(shape: [4])
            assertThrows(.invalidArgument, mentioning: ["uniform", "low <= high"], "\(backend.name) low > high") {
                try backend.uniform(output: output, low: 1, high: 0, address: Self.addresses[0])
            }
        }
    }

    func testBernoulliIsExactOnEveryBackend() {
        var random = TestRandom(seed: 60)
        for (count, address) in zip([1, 37, 1001], Self.addresses) {
            // Probabilities across [0, 1], with the edges and values outside it.
            let p = (0..<count).map { i in i % 9 == 0 ? [-0.5, 0, 1, 1.5][i / 9 % 4] : random.float(in: 0...1) }
            let expected: [Float] = zip(Philox.words(address, count: count), p).map { Philox.uniform($0) < $1 ? 1 : 0 }
            forEachBackend { backend in
                let output = try backend.nanTensor(count)
                try backend.bernoulli(probabilities: try backend.tensor(p), output: output, address: address)
                assertBitwiseEqual(try backend.download(output), expected,
                                   OpCall(backend, "bernoulli", "count=\(count) \(address)"))
                // In place: the samples replace the probabilities.
                let inPlace = try backend.tensor(p)
                try backend.bernoulli(probabilities: inPlace, output: inPlace, address: address)
                assertBitwiseEqual(try backend.download(inPlace), expected, OpCall(backend, "bernoulli", "in place"))
            }
        }
        // The rate of ones follows the probability.
        let n = 20_000
        forEachBackend { backend in
            let samples = try backend.tensor([Float](repeating: 0.3, count: n))
            try backend.bernoulli(probabilities: samples, output: samples, address: Self.addresses[2])
            let rate = try backend.download(samples).reduce(0, +) / Float(n)
            XCTAssertEqual(rate, 0.3, accuracy: 0.015, "\(backend.name) Bernoulli(0.3) rate")
        }
    }
}

/// Gathering rows and their deterministic scatter-add.
final class IndexingTests: SynapseTestCase {
    func testGatherRowsIsExact() {
        var random = TestRandom(seed: 61)
        let (rows, width) = (11, 7)
        let table = random.floats(rows * width)
        let indices: [Int32] = [3, 0, 10, 3, 3, 7, 1, -1, 11, 5]
        let expected = indices.flatMap { i -> [Float] in
            (0..<rows).contains(Int(i)) ? Array(table[Int(i) * width..<(Int(i) + 1) * width])
                : [Float](repeating: .nan, count: width)
        }
        forEachBackend { backend in
            let output = try backend.tensor([Float](repeating: 9, count: indices.count * width))
            try backend.gatherRows(table: try backend.tensor(table), indices: try backend.tensor(int32: indices),
                                   output: output, rows: rows, width: width)
            assertBitwiseEqual(try backend.download(output), expected,
                               OpCall(backend, "gatherRows", "\(indices.count) of \(rows)x\(width), two out of range"))
        }
    }

    /// Each row receives its positions' gradients summed in increasing position, then added once: the same
    /// bits on every run and backend whatever the order of the (repeated) indices, close to a Float64 sum.
    func testScatterAddRowsIsDeterministicAndExactAcrossBackends() {
        var random = TestRandom(seed: 62)
        for (rows, width, count) in [(5, 3, 40), (97, 16, 600), (7, 13, 90), (1, 1, 1)] {
            let table = random.floats(rows * width)
            let gradients = random.floats(count * width)
            // Repeated rows in a random order, one row never named, and a few indices outside the table.
            let indices: [Int32] = (0..<count).map { n in
                n % 13 == 12 ? (n % 2 == 0 ? -3 : Int32(rows)) : Int32(random.int(below: max(rows - 1, 1)))
            }
            var expected = table.map { SumReference(value: Double($0), scale: abs(Double($0))) }
            for (n, index) in indices.enumerated() where (0..<rows).contains(Int(index)) {
                for d in 0..<width {
                    expected[Int(index) * width + d].value += Double(gradients[n * width + d])
                    expected[Int(index) * width + d].scale += abs(Double(gradients[n * width + d]))
                }
            }
            var bits: [UInt32]?
            forEachBackend { backend in
                // Runs 0 and 1 find the groups on the device, runs 2 and 3 are given scatterOrder's.
                for run in 0..<4 {
                    let target = try backend.tensor(table)
                    let (g, i) = (try backend.tensor(gradients), try backend.tensor(int32: indices))
                    if run < 2 {
                        try backend.scatterAddRows(gradients: g, indices: i, table: target, rows: rows, width: width)
                    } else {
                        try backend.scatterAddRows(gradients: g, indices: i, order: try backend.tensor(int32: scatterOrder(indices)),
                                                   table: target, rows: rows, width: width)
                    }
                    let got = try backend.download(target)
                    let call = OpCall(backend, "scatterAddRows", "\(count) into \(rows)x\(width), run \(run)\(run < 2 ? "" : " ordered")")
                    assertClose(got, expected, k: count, call)
                    if let bits {
                        XCTAssertEqual(got.map(\.bitPattern), bits, "\(call): not the bits of the first run on the first backend")
                    } else {
                        bits = got.map(\.bitPattern)
                    }
                }
            }
        }
    }

    /// A dot product per row against a Float64 reference, odd widths, output pre-filled with garbage.
    func testRowDots() {
        var random = TestRandom(seed: 63)
        for (rows, width) in [(1, 1), (7, 33), (257, 100)] {
            let a = random.floats(rows * width), b = random.floats(rows * width)
            let expected = (0..<rows).map { n in
                SumReference(value: (0..<width).reduce(0.0) { $0 + Double(a[n * width + $1]) * Double(b[n * width + $1]) },
                             scale: (0..<width).reduce(0.0) { $0 + abs(Double(a[n * width + $1]) * Double(b[n * width + $1])) })
            }
            forEachBackend { backend in
                let output = try backend.nanTensor(rows)
                try backend.rowDots(try backend.tensor(a), try backend.tensor(b), output: output, rows: rows, width: width)
                assertClose(try backend.download(output), expected, k: width, OpCall(backend, "rowDots", "\(rows)x\(width)"))
            }
        }
    }

    /// Rows times their own factor: exact (one product per element), in place or not, from a non-zero offset.
    func testScaleRows() {
        var random = TestRandom(seed: 64)
        for (rows, width) in [(1, 1), (9, 7), (255, 16)] {
            let x = random.floats(rows * width), scales = random.floats(rows)
            let expected = (0..<rows * width).map { x[$0] * scales[$0 / width] }
            forEachBackend { backend in
                let output = try backend.nanTensor(rows * width)
                let padded = try backend.tensor([9, 9, 9] + x)
                let xs = padded.elements(3..<(3 + rows * width))
                try backend.scaleRows(xs, by: try backend.tensor(scales), output: output, rows: rows, width: width)
                assertBitwiseEqual(try backend.download(output), expected, OpCall(backend, "scaleRows", "\(rows)x\(width)"))
                try backend.scaleRows(xs, by: try backend.tensor(scales), output: xs, rows: rows, width: width)
                assertBitwiseEqual(try backend.download(xs), expected, OpCall(backend, "scaleRows in place", "\(rows)x\(width)"))
            }
        }
    }

    /// Logistic units against Float64, including logits far beyond where exp overflows.
    func testSigmoidCrossEntropy() {
        var random = TestRandom(seed: 65)
        let logits = random.floats(200, in: -8...8) + [-100, 100, 0, 40, -40]
        let labels = (0..<logits.count).map { $0 % 3 == 0 ? Float(0) : $0 % 3 == 1 ? 1 : 0.25 }
        let losses = zip(logits, labels).map { s, y -> Double in
            let s = Double(s), y = Double(y)
            return max(s, 0) - s * y + log1p(exp(-abs(s)))
        }
        let gradients = zip(logits, labels).map { s, y in 1 / (1 + exp(-Double(s))) - Double(y) }
        forEachBackend { backend in
            let l = try backend.nanTensor(logits.count), g = try backend.nanTensor(logits.count)
            try backend.sigmoidCrossEntropy(logits: try backend.tensor(logits), labels: try backend.tensor(labels), losses: l,
                                            gradients: g)
            let call = OpCall(backend, "sigmoidCrossEntropy", "\(logits.count)")
            assertClose(try backend.download(l), losses, call, "losses")
            assertClose(try backend.download(g), gradients, call, "gradients")
        }
    }

    func testBadIndexingCalls() {
        forEachBackend { backend in
            let table = try backend.tensor(shape: [12]), output = try backend.tensor(shape: [8])
            assertThrows(.shapeMismatch, mentioning: ["gatherRows", "indices holds float32"], "\(backend.name) float indices") {
                try backend.gatherRows(table: table, indices: try backend.tensor(shape: [2]), output: output, rows: 3,
                                       width: 4)
            }
            assertThrows(.shapeMismatch, mentioning: ["scatterAddRows", "table needs 15"], "\(backend.name) small table") {
                try backend.scatterAddRows(gradients: try backend.tensor(shape: [10]), indices: try backend.tensor(int32: [0, 1]),
                                           table: table, rows: 3, width: 5)
            }
        }
    }
}

/// The fused LSTM cell against a Float64 reference of PyTorch's equations.
final class LSTMCellTests: SynapseTestCase {
    func testForwardAndBackwardMatchFloat64() {
        var random = TestRandom(seed: 63)
        let (batch, width) = (3, 5)
        let a = random.floats(batch * 4 * width, in: -2...2), cPrev = random.floats(batch * width)
        let dh = random.floats(batch * width), dcNext = random.floats(batch * width)
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        var gates = [Double](repeating: 0, count: a.count), c = [Double](repeating: 0, count: batch * width)
        var h = c, dGates = gates, dcPrev = c
        for b in 0..<batch {
            for j in 0..<width {
                let e = b * width + j, s = b * 4 * width + j
                let i = sigmoid(Double(a[s])), f = sigmoid(Double(a[s + width]))
                let g = tanh(Double(a[s + 2 * width])), o = sigmoid(Double(a[s + 3 * width]))
                (gates[s], gates[s + width], gates[s + 2 * width], gates[s + 3 * width]) = (i, f, g, o)
                c[e] = f * Double(cPrev[e]) + i * g
                h[e] = o * tanh(c[e])
                let t = tanh(c[e])
                let dc = Double(dcNext[e]) + Double(dh[e]) * o * (1 - t * t)
                dGates[s] = dc * g * i * (1 - i)
                dGates[s + width] = dc * Double(cPrev[e]) * f * (1 - f)
                dGates[s + 2 * width] = dc * i * (1 - g * g)
                dGates[s + 3 * width] = Double(dh[e]) * t * o * (1 - o)
                dcPrev[e] = dc * f
            }
        }
        forEachBackend { backend in
            let gateTensor = try backend.tensor(a), previous = try backend.tensor(cPrev)
            let cell = try backend.nanTensor(batch * width), hidden = try backend.nanTensor(batch * width)
            let cellTanh = try backend.nanTensor(batch * width)
            try backend.lstmCellForward(gates: gateTensor, previousCell: previous, cell: cell, cellTanh: cellTanh,
                                        hidden: hidden, batch: batch, width: width)
            let call = OpCall(backend, "lstmCell", "batch=\(batch) width=\(width)")
            assertClose(try backend.download(gateTensor), gates, call, "activated gates")
            assertClose(try backend.download(cell), c, call, "cell")
            assertClose(try backend.download(cellTanh), c.map { tanh($0) }, call, "tanh of the cell")
            assertClose(try backend.download(hidden), h, call, "hidden")
            let gradCell = try backend.tensor(dcNext), gradGates = try backend.nanTensor(batch * 4 * width)
            try backend.lstmCellBackward(gates: gateTensor, previousCell: previous, cellTanh: cellTanh,
                                         gradHidden: try backend.tensor(dh), gradCell: gradCell, gradGates: gradGates,
                                         batch: batch, width: width)
            assertClose(try backend.download(gradGates), dGates, call, "gate gradients")
            assertClose(try backend.download(gradCell), dcPrev, call, "previous cell gradient")
            assertThrows(.invalidArgument, mentioning: ["lstmCellForward", "cell and hidden overlap"], "\(backend.name) aliased") {
                try backend.lstmCellForward(gates: gateTensor, previousCell: previous, cell: cell, cellTanh: cellTanh,
                                            hidden: cell, batch: batch, width: width)
            }
        }
    }
}
