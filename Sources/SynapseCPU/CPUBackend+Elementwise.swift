import CVector
import Foundation
import SynapseCore

extension CPUBackend {
    // MARK: Activations

    public func uncheckedActivationForward(_ activation: Activation, input: Tensor, output: Tensor) throws {
        let count = input.count
        let x = floats(input), y = floats(output)
        // The switch sits outside the loops so that each loop is a plain, vectorisable kernel.
        switch activation {
        case .relu:
            parallelFor(count) { r in for i in r { y[i] = x[i] > 0 ? x[i] : 0 } }
        case .leakyReLU(let slope):
            parallelFor(count) { r in for i in r { y[i] = x[i] > 0 ? x[i] : slope * x[i] } }
        case .sigmoid:
            parallelFor(count, cost: 4) { r in synapse_sigmoid(x + r.lowerBound, y + r.lowerBound, r.count) }
        case .tanh:
            parallelFor(count, cost: 4) { r in synapse_tanh(x + r.lowerBound, y + r.lowerBound, r.count, 1, 1) }
        case .step:
            parallelFor(count) { r in for i in r { y[i] = x[i] >= 0 ? 1 : 0 } }
        case .softplus:
            parallelFor(count, cost: 8) { r in for i in r { y[i] = max(x[i], 0) + log1p(exp(-abs(x[i]))) } }
        case .scaledTanh:
            let (a, s) = (Activation.scaledTanhAmplitude, Activation.scaledTanhSlope)
            parallelFor(count, cost: 4) { r in synapse_tanh(x + r.lowerBound, y + r.lowerBound, r.count, a, s) }
        }
    }

    public func uncheckedActivationBackward(_ activation: Activation, input: Tensor, output: Tensor, gradOutput: Tensor,
                                   gradInput: Tensor) throws {
        let count = input.count
        let x = floats(input), y = floats(output)
        let dy = floats(gradOutput), dx = floats(gradInput)
        switch activation {
        case .relu:
            parallelFor(count) { r in
                for i in r {
                    let g = dy[i]  // loaded unconditionally so that the choice is a select, not a branch
                    dx[i] = x[i] > 0 ? g : 0
                }
            }
        case .leakyReLU(let slope):
            parallelFor(count) { r in
                for i in r {
                    let g = dy[i]
                    dx[i] = x[i] > 0 ? g : slope * g
                }
            }
        case .sigmoid:
            parallelFor(count) { r in for i in r { dx[i] = dy[i] * y[i] * (1 - y[i]) } }
        case .tanh:
            parallelFor(count) { r in for i in r { dx[i] = dy[i] * (1 - y[i] * y[i]) } }
        case .step:
            parallelFor(count) { r in for i in r { dx[i] = 0 } }
        case .softplus:
            parallelFor(count, cost: 4) { r in for i in r { dx[i] = dy[i] / (1 + exp(-x[i])) } }
        case .scaledTanh:
            // d/dx A tanh(S x) = A S (1 - tanh^2) = S (A - y^2 / A).
            let (a, s) = (Activation.scaledTanhAmplitude, Activation.scaledTanhSlope)
            parallelFor(count) { r in for i in r { dx[i] = dy[i] * s * (a - y[i] * y[i] / a) } }
        }
    }

    // MARK: Bias

    public func uncheckedBiasAdd(data: Tensor, bias: Tensor, outer: Int, channels: Int, inner: Int) throws {
        let data = floats(data), bias = floats(bias)
        guard inner > 1 else {
            // A dense layer's output: each row takes the whole bias vector.
            return parallelFor(outer, cost: channels) { rows in
                for row in rows {
                    let p = data + row * channels
                    for c in 0..<channels { p[c] += bias[c] }
                }
            }
        }
        parallelFor(outer * channels, cost: inner) { rows in
            for row in rows {
                let (p, b) = (data + row * inner, bias[row % channels])
                for i in 0..<inner { p[i] += b }
            }
        }
    }

    public func uncheckedBiasGradient(gradOutput: Tensor, gradBias: Tensor, outer: Int, channels: Int, inner: Int,
                                      accumulate: Bool) throws {
        let dy = floats(gradOutput), db = floats(gradBias)
        guard inner > 1 else {
            // A dense layer's output: each thread sums its block of columns, 32 columns at a time down the rows
            // (two vectors of Double sums in flight). Each column sums in row order, in Double.
            return parallelFor(channels, cost: outer) { cs in
                synapse_bias_gradient(dy, outer, channels, cs.lowerBound, cs.count, db, accumulate ? 1 : 0)
            }
        }
        parallelFor(channels, cost: outer * inner) { cs in
            for c in cs {
                var total: Double = 0
                for o in 0..<outer { total += doubleSum(dy + (o * channels + c) * inner, 0..<inner) }
                db[c] = accumulate ? db[c] + Float(total) : Float(total)
            }
        }
    }

    // MARK: Dropout

    public func uncheckedDropout(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws {
        let x = floats(input), y = floats(output)
        parallelFor(input.count, cost: 4) { r in
            synapse_dropout(x + r.lowerBound, y + r.lowerBound, r.count, probability,
                            address.counter &+ UInt64(r.lowerBound), address.stream, address.seed)
        }
    }

    // MARK: Elementwise

    public func uncheckedAxpy(alpha: Float, x: Tensor, y: Tensor) throws {
        let count = x.count
        let x = floats(x), y = floats(y)
        parallelFor(count) { r in for i in r { y[i] += alpha * x[i] } }
    }

    public func uncheckedScale(_ x: Tensor, by alpha: Float) throws {
        let count = x.count
        let x = floats(x)
        parallelFor(count) { r in for i in r { x[i] *= alpha } }
    }

    public func uncheckedMultiply(_ a: Tensor, _ b: Tensor, output: Tensor) throws {
        let count = a.count
        let a = floats(a), b = floats(b), y = floats(output)
        parallelFor(count) { r in for i in r { y[i] = a[i] * b[i] } }
    }

    public func uncheckedClipToNorm(_ x: Tensor, sumOfSquares: Tensor, maxNorm: Float) throws {
        let coefficient = min(1, maxNorm / (floats(sumOfSquares)[0].squareRoot() + 1e-6))
        let count = x.count, x = floats(x)
        parallelFor(count) { r in for i in r { x[i] *= coefficient } }
    }

    public func uncheckedSparsityPenalty(meanActivation: Tensor, target rho: Float, divergence: Tensor,
                                         gradient: Tensor) throws {
        let count = meanActivation.count
        let r = floats(meanActivation), kl = floats(divergence), g = floats(gradient)
        for i in 0..<count {
            let q = min(max(r[i], 1e-6), 1 - 1e-6)
            kl[i] = rho * log(rho / q) + (1 - rho) * log((1 - rho) / (1 - q))
            g[i] = -rho / q + (1 - rho) / (1 - q)
        }
    }

    public func uncheckedSoftThreshold(_ x: Tensor, threshold: Float, output: Tensor) throws {
        let count = x.count
        let x = floats(x), y = floats(output)
        parallelFor(count) { r in
            // Vector selects: the signs of sparse codes are coin flips to a branch. NaN stays NaN (as on OpenCL).
            EightLanes.map(r, x, y) { v in
                let shrunk = unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self) - threshold
                let kept = shrunk.replacing(with: 0, where: shrunk .<= 0)
                return kept.replacing(with: kept * -1, where: v .< 0)   // not -kept: SIMD negation is 0 - x, which loses -0
            }
        }
    }

    public func uncheckedSigmoidCrossEntropy(logits: Tensor, labels: Tensor, losses: Tensor, gradients: Tensor) throws {
        let count = logits.count
        let s = floats(logits), y = floats(labels), loss = floats(losses), g = floats(gradients)
        parallelFor(count, cost: 16) { r in
            for i in r {
                loss[i] = max(s[i], 0) - s[i] * y[i] + log1p(exp(-abs(s[i])))
                g[i] = 1 / (1 + exp(-s[i])) - y[i]
            }
        }
    }

    // MARK: Reductions

    public func uncheckedSum(_ x: Tensor, squares: Bool, result: Tensor) throws {
        let count = x.count
        let x = floats(x), result = floats(result)
        result[0] = Float(parallelSum(count) { doubleSum(x, $0, squared: squares) })
    }

    // MARK: Optimizers

    /// Calls `body(range, learning rate, weight decay)` for each run of `segments`, with the run's multiples of
    /// `learningRate` and `weightDecay`, computed as the OpenCL kernels compute them.
    private func forEachRun(_ segments: UpdateSegments, learningRate: Float, weightDecay: Float,
                            _ body: (Range<Int>, Float, Float) -> Void) {
        var start = 0
        for run in segments.runs {
            body(start..<start + run.count, learningRate * run.learningRateMultiplier,
                 weightDecay * run.weightDecayMultiplier)
            start += run.count
        }
    }

    public func uncheckedSGDUpdate(weights: Tensor, gradients: Tensor, velocity: Tensor, parameters: SGDParameters,
                                   segments: UpdateSegments) throws {
        let w = floats(weights), g = floats(gradients), v = floats(velocity)
        let (mu, nesterov) = (parameters.momentum, parameters.nesterov)
        forEachRun(segments, learningRate: parameters.learningRate, weightDecay: parameters.weightDecay) { run, lr, wd in
            let (w, g, v) = (w + run.lowerBound, g + run.lowerBound, v + run.lowerBound)
            if mu == 0 {
                // Plain SGD: the velocity would be the gradient itself, so it is not stored (memory-bound loop).
                parallelFor(run.count) { r in for i in r { w[i] -= lr * (g[i] + wd * w[i]) } }
            } else if nesterov {
                parallelFor(run.count) { r in
                    for i in r {
                        let g2 = g[i] + wd * w[i]
                        v[i] = mu * v[i] + g2
                        w[i] -= lr * (g2 + mu * v[i])
                    }
                }
            } else {
                parallelFor(run.count) { r in
                    for i in r {
                        v[i] = mu * v[i] + (g[i] + wd * w[i])
                        w[i] -= lr * v[i]
                    }
                }
            }
        }
    }

    public func uncheckedAdamUpdate(weights: Tensor, gradients: Tensor, firstMoment: Tensor, secondMoment: Tensor,
                                    parameters p: AdamParameters, segments: UpdateSegments) throws {
        let w = floats(weights), g = floats(gradients), m = floats(firstMoment), v = floats(secondMoment)
        let (b1, b2, eps) = (p.beta1, p.beta2, p.epsilon)
        let (bc1, sqrtBC2) = (p.biasCorrection1, p.sqrtBiasCorrection2)
        forEachRun(segments, learningRate: p.learningRate, weightDecay: p.weightDecay) { run, lr, wd in
            let (w, g, m, v) = (w + run.lowerBound, g + run.lowerBound, m + run.lowerBound, v + run.lowerBound)
            // The same operations in the same order as Kernels/adam.cl, so both devices round alike; eight weights at
            // a time (a square root and a division each, which scalar code pays for one by one), the same roundings.
            parallelFor(run.count, cost: 4) { r in
                for i in stride(from: r.lowerBound, to: r.upperBound, by: 8) {
                    let end = r.upperBound, weight = EightLanes.load(w, i, end: end)
                    let grad = EightLanes.load(g, i, end: end) + wd * weight
                    let mean = b1 * EightLanes.load(m, i, end: end) + (1 - b1) * grad
                    let variance = b2 * EightLanes.load(v, i, end: end) + (1 - b2) * grad * grad
                    let updated = weight - (lr / bc1) * mean / (variance.squareRoot() / sqrtBC2 + eps)
                    EightLanes.store(mean, m, i, end: end)
                    EightLanes.store(variance, v, i, end: end)
                    EightLanes.store(updated, w, i, end: end)
                }
            }
        }
    }
}

// MARK: - Random numbers, indexing, recurrent cells

extension CPUBackend {
    public func uncheckedUniform(output: Tensor, low: Float, high: Float, address: PhiloxAddress) throws {
        let y = floats(output)
        parallelFor(output.count, cost: 4) { r in
            synapse_uniform(y + r.lowerBound, r.count, low, high, address.counter &+ UInt64(r.lowerBound),
                            address.stream, address.seed)
        }
    }

    public func uncheckedBernoulli(probabilities: Tensor, output: Tensor, address: PhiloxAddress) throws {
        let p = floats(probabilities), y = floats(output)
        parallelFor(output.count, cost: 4) { r in
            synapse_bernoulli(p + r.lowerBound, y + r.lowerBound, r.count, address.counter &+ UInt64(r.lowerBound),
                              address.stream, address.seed)
        }
    }

    public func uncheckedGatherRows(table: Tensor, indices: Tensor, output: Tensor, rows: Int, width: Int) throws {
        let t = floats(table), index = int32s(indices), y = floats(output)
        parallelFor(indices.count, cost: width) { ns in
            for n in ns {
                let row = Int(index[n])
                if (0..<rows).contains(row) {
                    (y + n * width).update(from: t + row * width, count: width)
                } else {
                    (y + n * width).update(repeating: .nan, count: width)
                }
            }
        }
    }

    /// The positions grouped by row (a stable sort, so each group is in increasing n), each group summed in
    /// that order and added once: the order of the OpenCL kernel's sums, so both backends give the same bits.
    /// A given `order` saves the sort.
    public func uncheckedScatterAddRows(gradients: Tensor, indices: Tensor, order: Tensor?, table: Tensor, rows: Int,
                                        width: Int) throws {
        let index = int32s(indices), g = floats(gradients), t = floats(table), count = indices.count
        let positions: [Int]
        if let order {
            let o = int32s(order)
            positions = (0..<count).map { Int(o[$0]) }.filter { (0..<count).contains($0) && (0..<rows).contains(Int(index[$0])) }
        } else {
            positions = (0..<count).filter { (0..<rows).contains(Int(index[$0])) }.sorted { (index[$0], $0) < (index[$1], $1) }
        }
        var groups: [Range<Int>] = []
        var start = 0
        for k in positions.indices where k + 1 == positions.count || index[positions[k + 1]] != index[positions[k]] {
            groups.append(start..<k + 1)
            start = k + 1
        }
        positions.withUnsafeBufferPointer { positions in
            parallelFor(groups.count, cost: width * 4) { gs in
                let sum = UnsafeMutablePointer<Float>.allocate(capacity: width)
                defer { sum.deallocate() }
                for group in gs.map({ groups[$0] }) {
                    sum.update(repeating: 0, count: width)
                    for k in group {
                        let row = g + positions[k] * width
                        for d in 0..<width { sum[d] += row[d] }
                    }
                    let target = t + Int(index[positions[group.lowerBound]]) * width
                    for d in 0..<width { target[d] += sum[d] }
                }
            }
        }
    }

    public func uncheckedRowDots(_ a: Tensor, _ b: Tensor, output: Tensor, rows: Int, width: Int) throws {
        let a = floats(a), b = floats(b), y = floats(output)
        parallelFor(rows, cost: width) { ns in
            for n in ns {
                var sum: Float = 0
                for k in 0..<width { sum += a[n * width + k] * b[n * width + k] }
                y[n] = sum
            }
        }
    }

    public func uncheckedScaleRows(_ x: Tensor, scales: Tensor, output: Tensor, rows: Int, width: Int) throws {
        let x = floats(x), s = floats(scales), y = floats(output)
        parallelFor(rows, cost: width) { ns in
            for n in ns {
                let scale = s[n]
                for k in n * width..<(n + 1) * width { y[k] = x[k] * scale }
            }
        }
    }

    /// The same operations in the same order as Kernels/lstm.cl, in vectors (`synapse_lstm_cell_forward`).
    public func uncheckedLSTMCellForward(gates: Tensor, previousCell: Tensor, cell: Tensor, cellTanh: Tensor,
                                         hidden: Tensor, batch: Int, width: Int) throws {
        let a = floats(gates), cPrev = floats(previousCell), c = floats(cell), ct = floats(cellTanh), h = floats(hidden)
        parallelFor(batch, cost: 10 * width) { rows in
            let first = rows.lowerBound * width
            synapse_lstm_cell_forward(a + 4 * first, cPrev + first, c + first, ct + first, h + first, rows.count, width)
        }
    }

    public func uncheckedLSTMCellBackward(gates: Tensor, previousCell: Tensor, cellTanh: Tensor, gradHidden: Tensor,
                                          gradCell: Tensor, gradGates: Tensor, batch: Int, width: Int) throws {
        let a = floats(gates), cPrev = floats(previousCell), ct = floats(cellTanh), dh = floats(gradHidden)
        let dc = floats(gradCell), da = floats(gradGates)
        parallelFor(batch, cost: 10 * width) { rows in
            for b in rows {
                let gate = a + b * 4 * width, gradGate = da + b * 4 * width
                let (cp, tt, dhh, dcc) = (cPrev + b * width, ct + b * width, dh + b * width, dc + b * width)
                for j in stride(from: 0, to: width, by: 8) {
                    let i = EightLanes.load(gate, j, end: width), f = EightLanes.load(gate + width, j, end: width)
                    let g = EightLanes.load(gate + 2 * width, j, end: width), o = EightLanes.load(gate + 3 * width, j, end: width)
                    let t = EightLanes.load(tt, j, end: width), dHidden = EightLanes.load(dhh, j, end: width)
                    let dCell = EightLanes.load(dcc, j, end: width) + dHidden * o * (1 - t * t)
                    EightLanes.store(dCell * g * i * (1 - i), gradGate, j, end: width)
                    EightLanes.store(dCell * EightLanes.load(cp, j, end: width) * f * (1 - f), gradGate + width, j, end: width)
                    EightLanes.store(dCell * i * (1 - g * g), gradGate + 2 * width, j, end: width)
                    EightLanes.store(dHidden * t * o * (1 - o), gradGate + 3 * width, j, end: width)
                    EightLanes.store(dCell * f, dcc, j, end: width)
                }
            }
        }
    }
}
