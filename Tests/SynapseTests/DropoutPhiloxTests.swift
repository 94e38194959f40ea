import Synapse
import XCTest

final class PhiloxTests: SynapseTestCase {
    /// Random123's published known-answer vectors for philox4x32-10: (c0, c1, c2, c3, k0, k1) -> output.
    static let knownAnswers: [(input: [UInt32], output: [UInt32])] = [
        ([0, 0, 0, 0, 0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        ([0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
         [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        ([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344, 0xa409_3822, 0x299f_31d0],
         [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
    ]

    func testSwiftBlockMatchesKnownAnswers() {
        for (input, output) in Self.knownAnswers {
            let r = Philox.block(counter: (input[0], input[1], input[2], input[3]), key: (input[4], input[5]))
            XCTAssertEqual([r.0, r.1, r.2, r.3], output, "Philox.block for input \(input.map { String($0, radix: 16) })")
        }
    }

    func testOpenCLBlocksMatchKnownAnswers() throws {
        try forEachOpenCLBackend { backend in
            let got = try backend.philoxBlocks(Self.knownAnswers.map(\.input))
            assertAgreement(got, Self.knownAnswers.map(\.output), OpCall(backend, "philoxBlocks", "3 known-answer vectors"),
                            "output blocks", file: #filePath, line: #line) { $0 == $1 }
        }
    }

    /// Word w is lane w % 4 of block (w / 4 low, w / 4 high, stream low, stream high) under key
    /// (seed low, seed high). Addresses with high words set catch a dropped or swapped half.
    func testWordIsTheDocumentedLaneOfABlock() {
        let seed: UInt64 = 0x0123_4567_89ab_cdef, stream: UInt64 = 0xfedc_ba98_7654_3210
        for counter: UInt64 in [0, 1, 2, 3, 4, 7, 0x5_0000_0002, 0xffff_ffff_ffff_fffd] {
            let block = counter / 4
            let r = Philox.block(counter: (UInt32(block & 0xffff_ffff), UInt32(block >> 32),
                                           UInt32(stream & 0xffff_ffff), UInt32(stream >> 32)),
                                 key: (UInt32(seed & 0xffff_ffff), UInt32(seed >> 32)))
            let lanes = [r.0, r.1, r.2, r.3]
            XCTAssertEqual(Philox.word(PhiloxAddress(seed: seed, stream: stream, counter: counter)),
                           lanes[Int(counter % 4)], "Philox.word at counter \(counter)")
        }
    }

    /// The block-at-a-time `words` gives the same sequence as addressing each word alone, from any lane.
    func testWordsMatchSingleWords() {
        for counter: UInt64 in [0, 1, 3, 6, 0xffff_ffff_ffff_fffd] {
            let start = PhiloxAddress(seed: 9, stream: 4, counter: counter)
            XCTAssertEqual(Philox.words(start, count: 11), (0..<11).map { Philox.word(start.advanced(by: $0)) },
                           "words from counter \(counter)")
        }
    }
}

final class DropoutTests: SynapseTestCase {
    /// Under `SYNAPSE_TEST_SHAPES=small`: still several work-groups of Philox blocks, a ragged last block, and
    /// enough elements for the kept-fraction check.
    let count = TestShapes.pick(full: 100_000, small: 5003)
    let probability: Float = 0.3
    /// A counter that is not a multiple of 4, so the first element sits mid-block.
    let address = PhiloxAddress(seed: 42, stream: 7, counter: 1_000_003)

    /// Dropout by its definition: keep element i when uniform(word(address + i)) >= p, scaled by 1 / (1 - p).
    func referenceDropout(_ x: [Float], probability p: Float, address: PhiloxAddress) -> [Float] {
        let scale = Float(1) / (1 - p)
        return x.indices.map { i in Philox.uniform(Philox.word(address.advanced(by: i))) >= p ? x[i] * scale : 0 }
    }

    func runForward(_ backend: Backend, _ x: [Float], probability: Float, address: PhiloxAddress) throws -> [Float] {
        let output = try backend.nanTensor(x.count)
        try backend.dropoutForward(input: try backend.tensor(x), output: output, probability: probability, address: address)
        return try backend.download(output)
    }

    /// Bit-identical to the Philox reference on every backend (hence on all backends alike), with the
    /// kept fraction within 5 standard deviations of 1 - p.
    func testForwardMatchesPhiloxReferenceOnEveryBackend() {
        var random = TestRandom(seed: 50)
        let x = random.floats(count, in: 0.5...1.5)  // never zero, so zero outputs are exactly the dropped ones
        let expected = referenceDropout(x, probability: probability, address: address)
        var outputs: [[Float]] = []
        forEachBackend { backend in
            let got = try runForward(backend, x, probability: probability, address: address)
            let call = OpCall(backend, "dropoutForward", "count=\(count) p=\(probability) address=\(address)")
            assertBitwiseEqual(got, expected, call)
            let kept = Double(got.filter { $0 != 0 }.count) / Double(count)
            let sigma = (Double(probability) * Double(1 - probability) / Double(count)).squareRoot()
            XCTAssertLessThan(abs(kept - Double(1 - probability)), 5 * sigma, "\(call): kept fraction \(kept)")
            outputs.append(got)
        }
        for (index, output) in outputs.enumerated().dropFirst() {
            XCTAssertTrue(output.elementsEqual(outputs[0]) { $0.bitPattern == $1.bitPattern },
                          "backend \(index) produced a different dropout output than backend 0")
        }
    }

    /// Addresses whose word counter crosses a 2^32 block boundary or the end of the counter, and whose seed and
    /// stream use both halves; p = 0 keeps everything unscaled. The 37 elements take the CPU backend's eight-block
    /// vectors as well as single blocks.
    func testForwardAtAwkwardAddresses() {
        var random = TestRandom(seed: 51)
        let x = random.floats(37)
        let cases: [(Float, PhiloxAddress)] = [
            (0.5, PhiloxAddress(seed: 0xdead_beef_0000_0001, stream: 0x1_0000_0003, counter: (1 << 34) - 6)),
            (0.5, PhiloxAddress(seed: 7, stream: 2, counter: UInt64.max - 9)),
            (0.9, PhiloxAddress(seed: 1, stream: 0, counter: 0)),
            (0, PhiloxAddress(seed: 3, stream: 5, counter: 9)),
        ]
        for (p, address) in cases {
            let expected = referenceDropout(x, probability: p, address: address)
            forEachBackend { backend in
                assertBitwiseEqual(try runForward(backend, x, probability: p, address: address), expected,
                                   OpCall(backend, "dropoutForward", "count=37 p=\(p) address=\(address)"))
            }
        }
    }

    func testDifferentCountersGiveDifferentMasks() {
        let n = 1000
        let ones = [Float](repeating: 1, count: n)
        forEachBackend { backend in
            let first = try runForward(backend, ones, probability: 0.5, address: address)
            let second = try runForward(backend, ones, probability: 0.5, address: address.advanced(by: n))
            let differing = zip(first, second).filter { ($0 == 0) != ($1 == 0) }.count
            // Independent masks with p = 0.5 differ in about half the places.
            XCTAssertGreaterThan(differing, n / 4, "\(backend.name) dropoutForward: masks at counters "
                                 + "\(address.counter) and \(address.counter + UInt64(n)) differ in only \(differing) of \(n)")
        }
    }

    /// The backward pass regenerates the forward mask: dx = dy * scale where kept, else 0.
    func testBackwardUsesTheForwardMask() {
        var random = TestRandom(seed: 52)
        let dy = random.floats(count)
        let expected = referenceDropout(dy, probability: probability, address: address)
        forEachBackend { backend in
            let dx = try backend.nanTensor(count)
            try backend.dropoutBackward(gradOutput: try backend.tensor(dy), gradInput: dx, probability: probability, address: address)
            assertBitwiseEqual(try backend.download(dx), expected,
                               OpCall(backend, "dropoutBackward", "count=\(count) p=\(probability) address=\(address)"))
        }
    }
}
