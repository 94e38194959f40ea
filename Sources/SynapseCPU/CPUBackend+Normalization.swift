import Foundation
import SynapseCore

extension CPUBackend {
    // MARK: Softmax

    public func uncheckedSoftmaxForward(input: Tensor, output: Tensor, rows: Int, cols: Int) throws {
        let x = floats(input), y = floats(output)
        parallelFor(rows, cost: 8 * cols) { rs in
            for r in rs { softmaxRow(x + r * cols, into: y + r * cols, cols) }
        }
    }

    public func uncheckedSoftmaxBackward(output: Tensor, gradOutput: Tensor, gradInput: Tensor, rows: Int, cols: Int) throws {
        let y = floats(output), dy = floats(gradOutput)
        let dx = floats(gradInput)
        parallelFor(rows, cost: 2 * cols) { rs in
            for r in rs {
                let (y, dy, dx) = (y + r * cols, dy + r * cols, dx + r * cols)
                var dot: Float = 0
                for j in 0..<cols { dot += dy[j] * y[j] }
                for j in 0..<cols { dx[j] = y[j] * (dy[j] - dot) }
            }
        }
    }

    public func uncheckedSoftmaxCrossEntropyForward(logits: Tensor, labels: Tensor, probabilities: Tensor, losses: Tensor,
                                           rows: Int, cols: Int) throws {
        let x = floats(logits), labels = int32s(labels)
        let p = floats(probabilities), loss = floats(losses)
        parallelFor(rows, cost: 8 * cols) { rs in
            for r in rs {
                let label = Int(labels[r])
                // Read before the row is written: probabilities may share memory with the logits.
                let target = (0..<cols).contains(label) ? x[r * cols + label] : .nan
                let (max, sum) = softmaxRow(x + r * cols, into: p + r * cols, cols)
                loss[r] = log(sum) - (target - max)
            }
        }
    }

    public func uncheckedSoftmaxCrossEntropyBackward(probabilities: Tensor, labels: Tensor, gradLogits: Tensor,
                                            rows: Int, cols: Int) throws {
        let p = floats(probabilities), labels = int32s(labels)
        let dx = floats(gradLogits)
        let n = Float(rows)
        parallelFor(rows, cost: cols) { rs in
            for r in rs {
                let (p, dx) = (p + r * cols, dx + r * cols)
                let label = Int(labels[r])
                // Elementwise, so that gradLogits may be probabilities (in place).
                for j in 0..<cols { dx[j] = (p[j] - (j == label ? 1 : 0)) / n }
            }
        }
    }

    /// Writes the softmax of one row and returns the row's maximum and `sum(exp(x - max))`.
    @discardableResult
    private func softmaxRow(_ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>,
                            _ cols: Int) -> (max: Float, sum: Float) {
        var m = -Float.infinity
        for j in 0..<cols { m = Swift.max(m, x[j]) }
        var sum: Float = 0
        for j in 0..<cols {
            y[j] = exp(x[j] - m)
            sum += y[j]
        }
        for j in 0..<cols { y[j] /= sum }
        return (m, sum)
    }

    // MARK: Local response normalisation

    public func uncheckedLRNForward(input: Tensor, output: Tensor, scale: Tensor, geometry g: LRNGeometry) throws {
        let x = floats(input), y = floats(output)
        let scale = floats(scale)
        let (s, k, alphaOverSize, beta) = (g.spatial, g.k, g.alpha / Float(g.size), g.beta)
        // One (n, c) row per item; the window sum is built in its scale row, one neighbour row at a time.
        parallelFor(g.batch * g.channels, cost: s * (g.size + 8)) { rows in
            for row in rows {
                let acc = scale + row * s
                acc.update(repeating: 0, count: s)
                for neighbour in lrnWindow(row, g) {
                    let xn = x + neighbour * s
                    lanes(s, { i in store(load(acc + i) + load(xn + i) * load(xn + i), acc + i) },
                          { i in acc[i] += xn[i] * xn[i] })
                }
                let (x, y) = (x + row * s, y + row * s)
                lanes(s, { i in
                    let a = k + alphaOverSize * load(acc + i)
                    store(a, acc + i)
                    store(beta == 0.75 ? load(x + i) / threeQuarterPower(a) : load(x + i) * power(a, -beta), y + i)
                }, { i in
                    acc[i] = k + alphaOverSize * acc[i]
                    y[i] = beta == 0.75 ? x[i] / threeQuarterPower(acc[i]) : x[i] * pow(acc[i], -beta)
                })
            }
        }
    }

    public func uncheckedLRNBackward(input: Tensor, output: Tensor, scale: Tensor, gradOutput: Tensor, gradInput: Tensor,
                            geometry g: LRNGeometry) throws {
        let x = floats(input), y = floats(output)
        let scale = floats(scale), dy = floats(gradOutput)
        let dx = floats(gradInput)
        let (s, beta) = (g.spatial, g.beta)
        let coefficient = 2 * g.alpha * g.beta / Float(g.size)
        // As in the forward pass, the window sum is built in the row's own gradInput before the final formula.
        parallelFor(g.batch * g.channels, cost: s * (2 * g.size + 8)) { rows in
            for row in rows {
                let acc = dx + row * s
                acc.update(repeating: 0, count: s)
                for neighbour in lrnWindow(row, g) {
                    let (dyn, yn, sn) = (dy + neighbour * s, y + neighbour * s, scale + neighbour * s)
                    lanes(s, { i in store(load(acc + i) + load(dyn + i) * load(yn + i) / load(sn + i), acc + i) },
                          { i in acc[i] += dyn[i] * yn[i] / sn[i] })
                }
                let (x, dy, scale) = (x + row * s, dy + row * s, scale + row * s)
                lanes(s, { i in
                    let d = load(dy + i), sc = load(scale + i)
                    let first = beta == 0.75 ? d / threeQuarterPower(sc) : d * power(sc, -beta)
                    store(first - coefficient * load(x + i) * load(acc + i), acc + i)
                }, { i in
                    let first = beta == 0.75 ? dy[i] / threeQuarterPower(scale[i]) : dy[i] * pow(scale[i], -beta)
                    acc[i] = first - coefficient * x[i] * acc[i]
                })
            }
        }
    }

    /// The rows `(n, c')` with `c'` within `size / 2` channels of row `(n, c)`, clipped to the tensor.
    private func lrnWindow(_ row: Int, _ g: LRNGeometry) -> Range<Int> {
        let (n, c) = (row / g.channels, row % g.channels)
        return n * g.channels + max(c - g.size / 2, 0)..<n * g.channels + min(c + g.size / 2 + 1, g.channels)
    }
}

// Explicit 8-lane loops for LRN: the compiler leaves these loops scalar (they read and write through
// pointers it cannot prove apart), and LRN was 7% of an AlexNet step.

/// Calls `vector(i)` for each full group of 8 elements of `0..<count`, then `scalar(i)` for the rest.
@inline(__always)
private func lanes(_ count: Int, _ vector: (Int) -> Void, _ scalar: (Int) -> Void) {
    var i = 0
    while i + 8 <= count {
        vector(i)
        i += 8
    }
    while i < count {
        scalar(i)
        i += 1
    }
}

@inline(__always)
private func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// `v^0.75` (AlexNet's beta) as `sqrt(v) * sqrt(sqrt(v))`: square roots vectorise, `powf` does not.
@inline(__always)
private func threeQuarterPower(_ v: Float) -> Float {
    let root = v.squareRoot()
    return root * root.squareRoot()
}

@inline(__always)
private func threeQuarterPower(_ v: SIMD8<Float>) -> SIMD8<Float> {
    let root = v.squareRoot()
    return root * root.squareRoot()
}

/// `v^e` lane by lane, for betas other than 0.75.
@inline(__always)
private func power(_ v: SIMD8<Float>, _ e: Float) -> SIMD8<Float> {
    var result = SIMD8<Float>()
    for lane in 0..<8 { result[lane] = pow(v[lane], e) }
    return result
}
