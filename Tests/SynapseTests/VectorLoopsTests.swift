import Foundation
import Synapse
import XCTest

/// The CPU backend's loops in C (Sources/CVector) under each set of vector instructions this processor has: Philox
/// words as `Philox.word` gives them one at a time, and activations and the LSTM cell with the same bits whichever
/// instructions compute them.
final class VectorLoopsTests: SynapseTestCase {
    static let instructionSets = ["AVX-512", "AVX2", "baseline"]

    /// Runs `body` under every instruction set the processor has, then restores the best.
    func forEachInstructionSet(_ body: (String) throws -> Void) throws {
        let best = CPUBackend.vectorInstructions
        defer { XCTAssertTrue(CPUBackend.useVectorInstructions(best)) }
        var ran = 0
        for name in Self.instructionSets where CPUBackend.useVectorInstructions(name) {
            try body(name)
            ran += 1
        }
        XCTAssertGreaterThan(ran, 0, "no instruction set could be chosen")
        XCTAssertFalse(CPUBackend.useVectorInstructions("SSE9"), "an unknown instruction set was accepted")
    }

    /// The random ops by their definitions, from `Philox.word` one word at a time: runs that start mid-block, cross a
    /// carry into a block number's high word, and wrap at the end of the counter (where block numbers wrap at 2^62),
    /// longer than one run of the C loops' word buffer.
    func testRandomOpsMatchSingleWords() throws {
        let backend = try CPUBackend(threads: 2), count = 777, probability: Float = 0.3
        var random = TestRandom(seed: 76)
        let p = random.floats(count, in: 0...1), x = random.floats(count)
        let starts: [UInt64] = [0, 6, 4 * 0xffff_fff0 + 1, 4 * ((1 << 62) - 20) + 3, UInt64.max - 300]
        try forEachInstructionSet { name in
            for counter in starts {
                let address = PhiloxAddress(seed: 0x0123_4567_89ab_cdef, stream: 0xfedc_ba98_7654_3210, counter: counter)
                let u = (0..<count).map { Philox.uniform(Philox.word(address.advanced(by: $0))) }
                let output = try backend.tensor(shape: [count]), shape = "count=\(count), counter \(counter)"
                try backend.uniform(output: output, low: -2, high: 3, address: address)
                assertBitwiseEqual(try backend.download(output), u.map { -2 + 5 * $0 }, OpCall(backend, "uniform (\(name))", shape))
                try backend.bernoulli(probabilities: try backend.tensor(p), output: output, address: address)
                assertBitwiseEqual(try backend.download(output), zip(u, p).map { $0 < $1 ? 1 : 0 },
                                   OpCall(backend, "bernoulli (\(name))", shape))
                try backend.dropoutForward(input: try backend.tensor(x), output: output, probability: probability, address: address)
                assertBitwiseEqual(try backend.download(output), zip(u, x).map { $0 >= probability ? $1 * (1 / (1 - probability)) : 0 },
                                   OpCall(backend, "dropoutForward (\(name))", shape))
            }
        }
    }

    /// Values across each function's branches and clamps, zeros of both signs, and a ragged tail.
    static let inputs: [Float] = {
        var random = TestRandom(seed: 77)
        return [0, -0, 0.625, -0.625, 1e-30, -1e-30, 88, 89, -87, -88, 100, -100, .infinity, -.infinity]
            + random.floats(1000, in: -12...12)
    }()

    func testActivationsGiveTheSameBitsUnderEveryInstructionSet() throws {
        let backend = try CPUBackend(threads: 2)
        for activation in [Activation.sigmoid, .tanh, .scaledTanh] {
            var first: [Float]?
            try forEachInstructionSet { name in
                let output = try backend.tensor(shape: [Self.inputs.count])
                try backend.activationForward(activation, input: try backend.tensor(Self.inputs), output: output)
                let got = try backend.download(output)
                if let first {
                    assertBitwiseEqual(got, first, OpCall(backend, "activationForward(\(activation)) (\(name))",
                                                          "count=\(Self.inputs.count)"))
                } else {
                    first = got
                }
            }
        }
    }

    /// A dense layer's bias gradient: each column summed in Double in row order, then rounded (and added when
    /// accumulating), exactly.
    func testBiasGradientSumsColumnsInRowOrder() throws {
        let backend = try CPUBackend(threads: 2)
        var random = TestRandom(seed: 79)
        for (rows, columns) in [(64, 784), (3, 37), (5, 1)] {
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

    func testLSTMCellGivesTheSameBitsUnderEveryInstructionSet() throws {
        let backend = try CPUBackend(threads: 2), batch = 3, width = 21
        var random = TestRandom(seed: 78)
        let gates = random.floats(batch * 4 * width, in: -6...6), previous = random.floats(batch * width, in: -2...2)
        var first: [[Float]]?
        try forEachInstructionSet { name in
            let a = try backend.tensor(gates), c = try backend.tensor(shape: [batch, width])
            let t = try backend.tensor(shape: [batch, width]), h = try backend.tensor(shape: [batch, width])
            try backend.lstmCellForward(gates: a, previousCell: try backend.tensor(previous), cell: c, cellTanh: t, hidden: h,
                                        batch: batch, width: width)
            let got = try [a, c, t, h].map { try backend.download($0) }
            if let first {
                for (what, (g, e)) in zip(["gates", "cell", "cell tanh", "hidden"], zip(got, first)) {
                    assertBitwiseEqual(g, e, OpCall(backend, "lstmCellForward (\(name))", "batch=\(batch) width=\(width)"), what)
                }
            } else {
                first = got
            }
        }
    }
}
