import Synapse
import XCTest

/// Every op reads and writes views: run on operands that are disjoint views at odd offsets of one shared
/// buffer (guard elements between them), each op gives what it gives on operands of their own, and writes
/// nothing outside its views.
final class ViewTests: SynapseTestCase {
    /// One operand: its initial values (float32, or int32 when `integers` is given).
    struct Operand {
        var floats: [Float] = []
        var integers: [Int32]?
        var count: Int { integers?.count ?? floats.count }
    }

    struct Case {
        let name: String
        let operands: [Operand]
        let run: (Backend, [Tensor]) throws -> Void
    }

    static let guardValue: Float = 12345.5
    static let guardCount = 7

    static func cases() -> [Case] {
        var random = TestRandom(seed: 90)
        func floats(_ n: Int, in range: ClosedRange<Float> = -1...1) -> Operand { Operand(floats: random.floats(n, in: range)) }
        func positive(_ n: Int) -> Operand { Operand(floats: random.floats(n, in: 0.1...1)) }
        let n = 37
        let conv = ConvGeometry(channels: 2, height: 5, width: 4, kernelH: 3, kernelW: 2, padH: 1, padW: 0, images: 2)
        let pool = PoolGeometry(planes: 3, height: 5, width: 5, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2)
        let lrn = LRNGeometry(batch: 2, channels: 5, spatial: 3)
        let (rows, cols) = (3, 5)
        let address = PhiloxAddress(seed: 3, stream: 1, counter: 5)
        let labels = Operand(integers: [4, 0, 2])
        return [
            Case(name: "copy", operands: [floats(n), floats(n)]) { b, t in try b.copy(from: t[0], to: t[1]) },
            Case(name: "fill", operands: [floats(n)]) { b, t in try b.fill(t[0], value: -2.5) },
            Case(name: "gemm", operands: [floats(4 * 6), floats(6 * 5), floats(4 * 5)]) { b, t in
                try b.gemm(transA: false, transB: false, m: 4, n: 5, k: 6, alpha: 1.5, a: t[0], lda: 6, b: t[1], ldb: 5,
                           beta: 0.5, c: t[2], ldc: 5)
            },
            Case(name: "im2col", operands: [floats(conv.imageSpan), floats(conv.columnCount)]) { b, t in
                try b.im2col(image: t[0], geometry: conv, columns: t[1])
            },
            Case(name: "col2im", operands: [floats(conv.columnCount), floats(conv.imageSpan)]) { b, t in
                try b.col2im(columns: t[0], geometry: conv, image: t[1])
            },
            Case(name: "transposeBlocks", operands: [floats(2 * 3 * 4), floats(2 * 3 * 4)]) { b, t in
                try b.transposeBlocks(input: t[0], output: t[1], rows: 2, columns: 3, blockSize: 4)
            },
            Case(name: "maxPool", operands: [floats(pool.inputCount), floats(pool.outputCount),
                                             Operand(integers: .init(repeating: 0, count: pool.outputCount)),
                                             floats(pool.outputCount), floats(pool.inputCount)]) { b, t in
                try b.maxPoolForward(input: t[0], output: t[1], argmax: t[2], geometry: pool)
                try b.maxPoolBackward(gradOutput: t[3], argmax: t[2], gradInput: t[4], geometry: pool)
            },
            Case(name: "avgPool", operands: [floats(pool.inputCount), floats(pool.outputCount), floats(pool.outputCount),
                                             floats(pool.inputCount)]) { b, t in
                try b.avgPoolForward(input: t[0], output: t[1], geometry: pool)
                try b.avgPoolBackward(gradOutput: t[2], gradInput: t[3], geometry: pool)
            },
            Case(name: "lrn", operands: [floats(lrn.count), floats(lrn.count), floats(lrn.count), floats(lrn.count),
                                         floats(lrn.count)]) { b, t in
                try b.lrnForward(input: t[0], output: t[1], scale: t[2], geometry: lrn)
                try b.lrnBackward(input: t[0], output: t[1], scale: t[2], gradOutput: t[3], gradInput: t[4], geometry: lrn)
            },
            Case(name: "activations", operands: [floats(n), floats(n), floats(n), floats(n)]) { b, t in
                try b.activationForward(.tanh, input: t[0], output: t[1])
                try b.activationBackward(.tanh, input: t[0], output: t[1], gradOutput: t[2], gradInput: t[3])
                try b.activationForward(.relu, input: t[3], output: t[3])
            },
            Case(name: "bias", operands: [floats(2 * 3 * 4), floats(3), floats(3)]) { b, t in
                try b.biasAdd(data: t[0], bias: t[1], outer: 2, channels: 3, inner: 4)
                try b.biasGradient(gradOutput: t[0], gradBias: t[2], outer: 2, channels: 3, inner: 4, accumulate: true)
                try b.biasGradient(gradOutput: t[0].elements(0..<6), gradBias: t[1], outer: 2, channels: 3, inner: 1,
                                   accumulate: false)
            },
            Case(name: "softmax", operands: [floats(rows * cols), floats(rows * cols), floats(rows * cols),
                                             floats(rows * cols)]) { b, t in
                try b.softmaxForward(input: t[0], output: t[1], rows: rows, cols: cols)
                try b.softmaxBackward(output: t[1], gradOutput: t[2], gradInput: t[3], rows: rows, cols: cols)
            },
            Case(name: "softmaxCrossEntropy", operands: [floats(rows * cols), labels, floats(rows * cols), floats(rows),
                                                         floats(rows * cols)]) { b, t in
                try b.softmaxCrossEntropyForward(logits: t[0], labels: t[1], probabilities: t[2], losses: t[3],
                                                 rows: rows, cols: cols)
                try b.softmaxCrossEntropyBackward(probabilities: t[2], labels: t[1], gradLogits: t[4], rows: rows, cols: cols)
            },
            Case(name: "axpy, scale, multiply", operands: [floats(n), floats(n), floats(n)]) { b, t in
                try b.axpy(alpha: 0.75, x: t[0], y: t[1])
                try b.scale(t[1], by: -1.25)
                try b.multiply(t[0], t[1], output: t[2])
            },
            Case(name: "sums and clipping", operands: [floats(n), floats(1), floats(1)]) { b, t in
                try b.sum(t[0], result: t[1])
                try b.sumOfSquares(t[0], result: t[2])
                try b.clipToNorm(t[0], sumOfSquares: t[2], maxNorm: 0.5)
            },
            Case(name: "dropout", operands: [floats(n), floats(n), floats(n)]) { b, t in
                try b.dropoutForward(input: t[0], output: t[1], probability: 0.3, address: address)
                try b.dropoutBackward(gradOutput: t[1], gradInput: t[2], probability: 0.3, address: address)
            },
            Case(name: "sampling", operands: [floats(n), positive(n), floats(n)]) { b, t in
                try b.uniform(output: t[0], low: -1, high: 3, address: address)
                try b.bernoulli(probabilities: t[1], output: t[2], address: address)
            },
            Case(name: "gather and scatter", operands: [floats(4 * 3), Operand(integers: [2, 0, 3, 2, -1]), floats(5 * 3),
                                                        floats(5 * 3), floats(4 * 3)]) { b, t in
                try b.gatherRows(table: t[0], indices: t[1], output: t[2], rows: 4, width: 3)
                try b.scatterAddRows(gradients: t[3], indices: t[1], table: t[4], rows: 4, width: 3)
            },
            Case(name: "ordered scatter, row dots and scales", operands: [floats(5 * 3), Operand(integers: [2, 0, 3, 2, -1]),
                                                                         Operand(integers: scatterOrder([2, 0, 3, 2, -1])),
                                                                         floats(4 * 3), floats(5 * 3), floats(5),
                                                                         floats(5 * 3)]) { b, t in
                try b.scatterAddRows(gradients: t[0], indices: t[1], order: t[2], table: t[3], rows: 4, width: 3)
                try b.rowDots(t[0], t[4], output: t[5], rows: 5, width: 3)
                try b.scaleRows(t[4], by: t[5], output: t[6], rows: 5, width: 3)
            },
            Case(name: "sigmoidCrossEntropy", operands: [floats(n), positive(n), floats(n), floats(n)]) { b, t in
                try b.sigmoidCrossEntropy(logits: t[0], labels: t[1], losses: t[2], gradients: t[3])
            },
            Case(name: "lstm cell", operands: [floats(2 * 12), floats(2 * 3), floats(2 * 3), floats(2 * 3), floats(2 * 3),
                                               floats(2 * 3), floats(2 * 12), floats(2 * 3)]) { b, t in
                try b.lstmCellForward(gates: t[0], previousCell: t[1], cell: t[2], cellTanh: t[7], hidden: t[3], batch: 2,
                                      width: 3)
                try b.lstmCellBackward(gates: t[0], previousCell: t[1], cellTanh: t[7], gradHidden: t[4], gradCell: t[5],
                                       gradGates: t[6], batch: 2, width: 3)
            },
            Case(name: "sgd", operands: [floats(n), floats(n), floats(n)]) { b, t in
                let segments = try b.updateSegments([.init(count: 10, learningRateMultiplier: 2, weightDecayMultiplier: 0),
                                                     .init(count: n - 10)])
                try b.sgdMomentumUpdate(weights: t[0], gradients: t[1], velocity: t[2],
                                        parameters: SGDParameters(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01),
                                        segments: segments)
            },
            Case(name: "adam", operands: [floats(n), floats(n), floats(n), positive(n)]) { b, t in
                try b.adamUpdate(weights: t[0], gradients: t[1], firstMoment: t[2], secondMoment: t[3],
                                 parameters: AdamParameters(learningRate: 0.01, weightDecay: 0.01, step: 3),
                                 segments: b.segments(covering: t[0]))
            },
        ]
    }

    /// The operands, each in a buffer of its own.
    func separate(_ operands: [Operand], on backend: Backend) throws -> [Tensor] {
        try operands.map { try $0.integers.map { try backend.tensor(int32: $0) } ?? backend.tensor($0.floats) }
    }

    /// The operands as views of two shared buffers (one float, one int32), each at an odd offset after
    /// `guardCount` guard elements; returns the views and the shared buffers.
    func packed(_ operands: [Operand], on backend: Backend) throws -> ([Tensor], [Tensor]) {
        var floatValues: [Float] = [], intValues: [Int32] = []
        var places: [(isInt: Bool, offset: Int)] = []
        for operand in operands {
            if let integers = operand.integers {
                intValues += [Int32](repeating: -7, count: Self.guardCount)
                places.append((true, intValues.count))
                intValues += integers
            } else {
                floatValues += [Float](repeating: Self.guardValue, count: Self.guardCount)
                places.append((false, floatValues.count))
                floatValues += operand.floats
            }
        }
        floatValues += [Float](repeating: Self.guardValue, count: Self.guardCount)
        intValues += [Int32](repeating: -7, count: Self.guardCount)
        let floatBuffer = try backend.tensor(floatValues), intBuffer = try backend.tensor(int32: intValues)
        let views = zip(operands, places).map { operand, place in
            Tensor(place.isInt ? intBuffer.buffer : floatBuffer.buffer, offset: place.offset, shape: [operand.count])
        }
        return (views, [floatBuffer, intBuffer])
    }

    func download(_ view: Tensor, on backend: Backend) throws -> [Float] {
        view.dtype == .int32 ? try backend.downloadInt32(view).map { Float($0) } : try backend.download(view)
    }

    func testEveryOpOnViewsOfSharedBuffers() {
        for testCase in Self.cases() {
            forEachBackend { backend in
                let alone = try separate(testCase.operands, on: backend)
                try testCase.run(backend, alone)
                let (views, shared) = try packed(testCase.operands, on: backend)
                try testCase.run(backend, views)
                for (i, (a, v)) in zip(alone, views).enumerated() {
                    assertClose(try download(v, on: backend), try download(a, on: backend).map(Double.init),
                                OpCall(backend, testCase.name, "operand \(i) as a view at offset \(v.offset)"))
                }
                // Everything outside the views is still a guard value.
                let inside = Set(views.flatMap { view in view.range.map { "\(view.dtype)\($0)" } })
                for buffer in shared {
                    let values = try download(buffer, on: backend)
                    let guardValue = buffer.dtype == .int32 ? -7 : Self.guardValue
                    let written = values.indices.filter { !inside.contains("\(buffer.dtype)\($0)") && values[$0] != guardValue }
                    XCTAssertEqual(written, [], "\(backend.name) \(testCase.name): wrote outside its views")
                }
            }
        }
    }
}
