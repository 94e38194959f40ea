import Foundation
import Synapse
import XCTest

/// The CPU backend's loops in C (Sources/CVector) under each set of vector instructions this processor has, against
/// references computed here one element at a time: the random ops from `Philox.word`, the activations and the LSTM
/// cell from the same Cephes formulas in scalar Float arithmetic, the bias gradient from Double sums in row order.
/// Every comparison is bit for bit. The sizes include ones that the backend splits between its two threads.
final class VectorLoopsTests: SynapseTestCase {
    static let instructionSets = ["AVX-512", "AVX2", "baseline"]

    /// Runs `body` under every instruction set the processor has, then restores the best.
    func forEachInstructionSet(_ body: (String) throws -> Void) throws {
        let best = CPUBackend.vectorInstructions
        defer { XCTAssertTrue(CPUBackend.useVectorInstructions(best)) }
        var ran = [String]()
        for name in Self.instructionSets where CPUBackend.useVectorInstructions(name) {
            try body(name)
            ran.append(name)
        }
        XCTAssertFalse(ran.isEmpty, "no instruction set could be chosen")
        XCTAssertFalse(CPUBackend.useVectorInstructions("SSE9"), "an unknown instruction set was accepted")
        let lacking = Self.instructionSets.filter { !ran.contains($0) }
        if !lacking.isEmpty { print("\(name): not run under \(lacking.joined(separator: ", ")), which this processor lacks") }
    }

    /// The random ops by their definitions: runs that start mid-block, cross a carry into a block number's high
    /// word inside a vector of blocks, and wrap at the end of the counter (where block numbers wrap at 2^62), longer
    /// than one run of the C loops' word buffer, and one long enough to be split between threads mid-block.
    func testRandomOpsMatchSingleWords() throws {
        let backend = try CPUBackend(threads: 2), probability: Float = 0.3
        var random = TestRandom(seed: 76)
        let starts: [UInt64] = [0, 6, 4 * 0xffff_fff8 + 1, 4 * ((1 << 62) - 20) + 3, UInt64.max - 300]
        let cases = starts.map { (count: 777, counter: $0) } + [(count: 16_386, counter: 5)]
        try forEachInstructionSet { name in
            for (count, counter) in cases {
                let p = random.floats(count, in: 0...1), x = random.floats(count)
                let address = PhiloxAddress(seed: 0x0123_4567_89ab_cdef, stream: 0xfedc_ba98_7654_3210, counter: counter)
                let u = (0..<count).map { Philox.uniform(Philox.word(address.advanced(by: $0))) }
                let output = try backend.tensor(shape: [count]), shape = "count=\(count), counter \(counter)"
                func check(_ op: String, _ expected: [Float], _ tensor: Tensor? = nil) throws {
                    assertBitwiseEqual(try backend.download(tensor ?? output), expected, OpCall(backend, "\(op) (\(name))", shape))
                }
                try backend.uniform(output: output, low: -2, high: 3, address: address)
                try check("uniform", u.map { -2 + 5 * $0 })
                let bernoulli = zip(u, p).map { $0 < $1 ? Float(1) : 0 }
                try backend.bernoulli(probabilities: try backend.tensor(p), output: output, address: address)
                try check("bernoulli", bernoulli)
                let inPlace = try backend.tensor(p)
                try backend.bernoulli(probabilities: inPlace, output: inPlace, address: address)
                try check("bernoulli in place", bernoulli, inPlace)
                try backend.dropoutForward(input: try backend.tensor(x), output: output, probability: probability,
                                           address: address)
                try check("dropoutForward", zip(u, x).map { $0 >= probability ? $1 * (1 / (1 - probability)) : 0 })
            }
        }
    }

    /// Cephes' single-precision exp as vector.c computes it, one Float at a time.
    static func exp(_ x: Float) -> Float {
        let x = min(max(x, -87.3365), 88.3762626647949)
        let n = (x * 1.44269504088896341 + 12_582_912) - 12_582_912
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        for c: Float in [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1] {
            p = p * r + c
        }
        let y = p * (r * r) + r + 1
        return y * Float(bitPattern: ((n + 8_388_735).bitPattern & 0x7F_FFFF) << 23)
    }

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(0 - x)) }

    static func tanh(_ x: Float) -> Float {
        let magnitude = Float(bitPattern: x.bitPattern & 0x7FFF_FFFF), z = x * x
        var p: Float = -5.70498872745e-3
        for c: Float in [2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1] { p = p * z + c }
        let far = 1 - 2 / (exp(magnitude * 2) + 1)
        return magnitude >= 0.625 ? (x < 0 ? 0 - far : far) : p * z * x + x
    }

    /// Values across each function's branches and clamps, zeros of both signs, subnormals, and enough for both
    /// threads and a ragged tail.
    static let inputs: [Float] = {
        var random = TestRandom(seed: 77)
        let subnormals = [Float(bitPattern: 0x0008_0000), Float(bitPattern: 0x8008_0000)]
        return [0, -0, 0.625, -0.625, 1e-30, -1e-30, 88, 89, -87, -88, 100, -100, .infinity, -.infinity] + subnormals
            + random.floats(20_000, in: -12...12)
    }()

    func testActivationsMatchTheScalarFormulas() throws {
        let backend = try CPUBackend(threads: 2)
        let (a, s) = (Activation.scaledTanhAmplitude, Activation.scaledTanhSlope)
        let references: [(Activation, (Float) -> Float)] = [(.sigmoid, Self.sigmoid), (.tanh, Self.tanh),
                                                            (.scaledTanh, { a * Self.tanh(s * $0) })]
        try forEachInstructionSet { name in
            for (activation, reference) in references {
                let output = try backend.tensor(shape: [Self.inputs.count])
                try backend.activationForward(activation, input: try backend.tensor(Self.inputs), output: output)
                assertBitwiseEqual(try backend.download(output), Self.inputs.map(reference),
                                   OpCall(backend, "activationForward(\(activation)) (\(name))", "count=\(Self.inputs.count)"))
            }
        }
    }

    /// A dense layer's bias gradient: each column summed in Double in row order, then rounded (and added when
    /// accumulating), exactly.
    func testBiasGradientSumsColumnsInRowOrder() throws {
        let backend = try CPUBackend(threads: 2)
        var random = TestRandom(seed: 79)
        for (rows, columns) in [(128, 784), (3, 37), (5, 1)] {
            let x = random.floats(rows * columns), start = random.floats(columns)
            for accumulate in [false, true] {
                let expected = (0..<columns).map { c -> Float in
                    let total = Float((0..<rows).reduce(0.0) { $0 + Double(x[$1 * columns + c]) })
                    return accumulate ? start[c] + total : total
                }
                try forEachInstructionSet { name in
                    let sums = try backend.tensor(start)
                    try backend.biasGradient(gradOutput: try backend.tensor(x), gradBias: sums, outer: rows, channels: columns,
                                             inner: 1, accumulate: accumulate)
                    assertBitwiseEqual(try backend.download(sums), expected, OpCall(backend, "biasGradient (\(name))",
                                                                                   "\(rows)x\(columns) accumulate \(accumulate)"))
                }
            }
        }
    }

    /// The cell of Kernels/lstm.cl from the scalar formulas: i, f, o sigmoids and g tanh of the gates, c = f c' + i g,
    /// h = o tanh(c).
    func testLSTMCellMatchesTheScalarFormulas() throws {
        let backend = try CPUBackend(threads: 2)
        var random = TestRandom(seed: 78)
        for (batch, width) in [(3, 21), (16, 411)] {
            let gates = random.floats(batch * 4 * width, in: -6...6), previous = random.floats(batch * width, in: -2...2)
            var expected = [[Float]](repeating: [], count: 4)
            for b in 0..<batch {
                let row = Array(gates[b * 4 * width..<(b + 1) * 4 * width])
                let i = row[0..<width].map(Self.sigmoid), f = row[width..<2 * width].map(Self.sigmoid)
                let g = row[2 * width..<3 * width].map(Self.tanh), o = row[3 * width..<4 * width].map(Self.sigmoid)
                let c = (0..<width).map { f[$0] * previous[b * width + $0] + i[$0] * g[$0] }, t = c.map(Self.tanh)
                expected[0] += i + f + g + o
                expected[1] += c
                expected[2] += t
                expected[3] += zip(o, t).map { $0 * $1 }
            }
            try forEachInstructionSet { name in
                let a = try backend.tensor(gates), c = try backend.tensor(shape: [batch, width])
                let t = try backend.tensor(shape: [batch, width]), h = try backend.tensor(shape: [batch, width])
                try backend.lstmCellForward(gates: a, previousCell: try backend.tensor(previous), cell: c, cellTanh: t,
                                            hidden: h, batch: batch, width: width)
                for (what, (tensor, values)) in zip(["gates", "cell", "cell tanh", "hidden"], zip([a, c, t, h], expected)) {
                    assertBitwiseEqual(try backend.download(tensor), values,
                                       OpCall(backend, "lstmCellForward (\(name))", "batch=\(batch) width=\(width)"), what)
                }
            }
        }
    }
}
