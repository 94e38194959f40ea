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
            parallelFor(count, cost: 8) { r in for i in r { y[i] = 1 / (1 + exp(-x[i])) } }
        case .tanh:
            parallelFor(count, cost: 8) { r in for i in r { y[i] = Foundation.tanh(x[i]) } }
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
        }
    }

    // MARK: Bias

    public func uncheckedBiasAdd(data: Tensor, bias: Tensor, outer: Int, channels: Int, inner: Int) throws {
        let data = floats(data), bias = floats(bias)
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
        parallelFor(channels, cost: outer * inner) { cs in
            for c in cs {
                var total: Double = 0
                for o in 0..<outer { total += doubleSum(dy + (o * channels + c) * inner, 0..<inner) }
                db[c] = accumulate ? db[c] + Float(total) : Float(total)
            }
        }
    }

    // MARK: Dropout

    /// Equal to `Philox.word` element by element, but each Philox block is computed once for its four words.
    public func uncheckedDropout(input: Tensor, output: Tensor, probability: Float, address: PhiloxAddress) throws {
        let count = input.count
        let x = floats(input), y = floats(output)
        let scale = 1 / (1 - probability)
        func halves(_ v: UInt64) -> (UInt32, UInt32) {
            (UInt32(truncatingIfNeeded: v), UInt32(truncatingIfNeeded: v >> 32))
        }
        let key = halves(address.seed), stream = halves(address.stream)
        parallelFor(count, cost: 4) { r in
            var i = r.lowerBound
            while i < r.upperBound {
                let word = address.counter &+ UInt64(i)
                let block = halves(word / 4)
                let out = Philox.block(counter: (block.0, block.1, stream.0, stream.1), key: key)
                let words = SIMD4(out.0, out.1, out.2, out.3)
                for lane in Int(word % 4)..<min(4, Int(word % 4) + r.upperBound - i) {
                    // Loaded unconditionally so that the coin flip is a select, not a mispredicted branch.
                    let kept = x[i] * scale
                    y[i] = Philox.uniform(words[lane]) >= probability ? kept : 0
                    i += 1
                }
            }
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
            if nesterov {
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
            // The same operations in the same order as Kernels/adam.cl, so both devices round alike.
            parallelFor(run.count) { r in
                for i in r {
                    let grad = g[i] + wd * w[i]
                    let mean = b1 * m[i] + (1 - b1) * grad
                    let variance = b2 * v[i] + (1 - b2) * grad * grad
                    m[i] = mean
                    v[i] = variance
                    w[i] -= (lr / bc1) * mean / (variance.squareRoot() / sqrtBC2 + eps)
                }
            }
        }
    }
}
