import Foundation
import SynapseCore

extension CPUBackend {
    // MARK: Activations

    public func activationForward(_ activation: Activation, input: Buffer, output: Buffer, count: Int) throws {
        let op = "activationForward"
        try Check.elementwise(on: self, op: op, count: count, ["input": input, "output": output])
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

    public func activationBackward(_ activation: Activation, input: Buffer, output: Buffer, gradOutput: Buffer,
                                   gradInput: Buffer, count: Int) throws {
        let op = "activationBackward"
        try Check.elementwise(on: self, op: op, count: count, ["input": input, "output": output,
                                                               "gradOutput": gradOutput, "gradInput": gradInput])
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

    public func biasAdd(data: Buffer, bias: Buffer, outer: Int, channels: Int, inner: Int) throws {
        let op = "biasAdd"
        try Check.bias(on: self, op: op, data: ("data", data), bias: ("bias", bias), outer: outer, channels: channels,
                       inner: inner)
        let data = floats(data), bias = floats(bias)
        parallelFor(outer * channels, cost: inner) { rows in
            for row in rows {
                let (p, b) = (data + row * inner, bias[row % channels])
                for i in 0..<inner { p[i] += b }
            }
        }
    }

    public func biasGradient(gradOutput: Buffer, gradBias: Buffer, outer: Int, channels: Int, inner: Int) throws {
        let op = "biasGradient"
        try Check.bias(on: self, op: op, data: ("gradOutput", gradOutput), bias: ("gradBias", gradBias), outer: outer,
                       channels: channels, inner: inner)
        let dy = floats(gradOutput), db = floats(gradBias)
        parallelFor(channels, cost: outer * inner) { cs in
            for c in cs {
                var total: Double = 0
                for o in 0..<outer { total += doubleSum(dy + (o * channels + c) * inner, 0..<inner) }
                db[c] = Float(total)
            }
        }
    }

    // MARK: Dropout

    public func dropoutForward(input: Buffer, output: Buffer, count: Int, probability: Float,
                               address: PhiloxAddress) throws {
        let op = "dropoutForward"
        try Check.dropout(on: self, op: op, count: count, probability: probability, ["input": input, "output": output])
        dropout(floats(input), into: floats(output), count: count,
                probability: probability, address: address)
    }

    public func dropoutBackward(gradOutput: Buffer, gradInput: Buffer, count: Int, probability: Float,
                                address: PhiloxAddress) throws {
        let op = "dropoutBackward"
        try Check.dropout(on: self, op: op, count: count, probability: probability,
                          ["gradOutput": gradOutput, "gradInput": gradInput])
        dropout(floats(gradOutput), into: floats(gradInput),
                count: count, probability: probability, address: address)
    }

    /// `y[i] = x[i] * scale` where word `i` from `address` keeps element `i`, else 0: the forward pass on
    /// activations, and the backward pass on gradients. Equal to `Philox.word` element by element, but
    /// each Philox block is computed once for its four words.
    private func dropout(_ x: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                         probability: Float, address: PhiloxAddress) {
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

    public func axpy(alpha: Float, x: Buffer, y: Buffer, count: Int) throws {
        let op = "axpy"
        try Check.elementwise(on: self, op: op, count: count, ["x": x, "y": y])
        let x = floats(x), y = floats(y)
        parallelFor(count) { r in for i in r { y[i] += alpha * x[i] } }
    }

    public func scale(_ x: Buffer, by alpha: Float, count: Int) throws {
        let op = "scale"
        try Check.elementwise(on: self, op: op, count: count, ["x": x])
        let x = floats(x)
        parallelFor(count) { r in for i in r { x[i] *= alpha } }
    }

    public func multiply(_ a: Buffer, _ b: Buffer, output: Buffer, count: Int) throws {
        let op = "multiply"
        try Check.elementwise(on: self, op: op, count: count, ["a": a, "b": b, "output": output])
        let a = floats(a), b = floats(b), y = floats(output)
        parallelFor(count) { r in for i in r { y[i] = a[i] * b[i] } }
    }

    // MARK: Reductions

    public func sum(_ x: Buffer, count: Int, result: Buffer) throws {
        try reduce(x, count: count, result: result, op: "sum", squared: false)
    }

    public func sumOfSquares(_ x: Buffer, count: Int, result: Buffer) throws {
        try reduce(x, count: count, result: result, op: "sumOfSquares", squared: true)
    }

    private func reduce(_ x: Buffer, count: Int, result: Buffer, op: String, squared: Bool) throws {
        try Check.reduction(on: self, op: op, x: x, count: count, result: result)
        let x = floats(x), result = floats(result)
        result[0] = Float(parallelSum(count) { doubleSum(x, $0, squared: squared) })
    }

    // MARK: Optimizers

    public func sgdMomentumUpdate(weights: Buffer, gradients: Buffer, velocity: Buffer, count: Int,
                                  parameters: SGDParameters) throws {
        let op = "sgdMomentumUpdate"
        try Check.elementwise(on: self, op: op, count: count,
                              ["weights": weights, "gradients": gradients, "velocity": velocity])
        let w = floats(weights), g = floats(gradients)
        let v = floats(velocity)
        let (lr, mu, wd) = (parameters.learningRate, parameters.momentum, parameters.weightDecay)
        if parameters.nesterov {
            parallelFor(count) { r in
                for i in r {
                    let g2 = g[i] + wd * w[i]
                    v[i] = mu * v[i] + g2
                    w[i] -= lr * (g2 + mu * v[i])
                }
            }
        } else {
            parallelFor(count) { r in
                for i in r {
                    v[i] = mu * v[i] + (g[i] + wd * w[i])
                    w[i] -= lr * v[i]
                }
            }
        }
    }

    public func adamUpdate(weights: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer,
                           count: Int, parameters p: AdamParameters) throws {
        try Check.adam(on: self, weights: weights, gradients: gradients, firstMoment: firstMoment,
                       secondMoment: secondMoment, count: count, parameters: p)
        let w = floats(weights), g = floats(gradients)
        let m = floats(firstMoment), v = floats(secondMoment)
        let (lr, b1, b2, eps, wd) = (p.learningRate, p.beta1, p.beta2, p.epsilon, p.weightDecay)
        let (bc1, sqrtBC2) = (p.biasCorrection1, p.sqrtBiasCorrection2)
        // The same operations in the same order as Kernels/adam.cl, so both devices round alike.
        parallelFor(count) { r in
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
