import Synapse
import XCTest

/// Upload, download, copy and fill move data without arithmetic, so they must be exact, and must touch
/// only the range they are given.
final class MemoryTests: SynapseTestCase {
    /// Fresh buffers hold zeros on every device, so nothing depends on what memory happened to contain.
    func testFreshBuffersAreZero() {
        forEachBackend { backend in
            for count in [1, 17, 4099] {
                let floats = try backend.tensor(shape: [count]), ints = try backend.tensor(shape: [count], dtype: .int32)
                assertBitwiseEqual(try backend.download(floats), [Float](repeating: 0, count: count),
                                   OpCall(backend, "allocate", "\(count) float32"))
                assertEqual(try backend.downloadInt32(ints), [Int32](repeating: 0, count: count),
                            OpCall(backend, "allocate", "\(count) int32"))
            }
        }
    }

    func testUploadAndDownloadRangesAreExact() {
        var random = TestRandom(seed: 80)
        let initial = random.floats(50), part = random.floats(17)
        var expected = initial
        expected.replaceSubrange(9..<26, with: part)
        forEachBackend { backend in
            let buffer = try backend.tensor(initial)
            try backend.upload(part, to: buffer.elements(9..<9 + part.count))
            let call = OpCall(backend, "upload/download", "count=50, 17 at offset 9")
            assertBitwiseEqual(try backend.download(buffer), expected, call, "whole buffer")
            assertBitwiseEqual(try backend.download(buffer.elements(9..<9 + 17)), part, call, "downloaded range")
        }
    }

    func testInt32RoundTrip() {
        let values: [Int32] = [0, -1, 1, .min, .max, 123_456_789, -7]
        forEachBackend { backend in
            let buffer = try backend.tensor(int32: [Int32](repeating: 42, count: 10))
            try backend.upload(int32: values, to: buffer.elements(2..<2 + values.count))
            assertEqual(try backend.downloadInt32(buffer), [42, 42] + values + [42],
                        OpCall(backend, "upload/downloadInt32", "count=10, 7 at offset 2"))
        }
    }

    func testCopyBetweenOffsets() {
        var random = TestRandom(seed: 81)
        let source = random.floats(40), destination = random.floats(30)
        var expected = destination
        expected.replaceSubrange(4..<25, with: source[11..<32])
        forEachBackend { backend in
            let target = try backend.tensor(destination)
            try backend.copy(from: try backend.tensor(source).elements(11..<11 + 21), to: target.elements(4..<4 + 21))
            assertBitwiseEqual(try backend.download(target), expected,
                               OpCall(backend, "copy", "float32 21 elements from offset 11 to offset 4"))

            let ints = (0..<12).map { Int32($0) }
            var expectedInts = [Int32](repeating: -1, count: 12)
            expectedInts.replaceSubrange(5..<11, with: ints[3..<9])
            let intTarget = try backend.tensor(int32: [Int32](repeating: -1, count: 12))
            try backend.copy(from: try backend.tensor(int32: ints).elements(3..<3 + 6), to: intTarget.elements(5..<5 + 6))
            assertEqual(try backend.downloadInt32(intTarget), expectedInts,
                        OpCall(backend, "copy", "int32 6 elements from offset 3 to offset 5"))
        }
    }

    func testFillRange() {
        var random = TestRandom(seed: 82)
        let initial = random.floats(64)
        var expected = initial
        for value: Float in [-2.5, .nan, 0] {
            expected.replaceSubrange(7..<40, with: [Float](repeating: value, count: 33))
            forEachBackend { backend in
                let buffer = try backend.tensor(initial)
                try backend.fill(buffer.elements(7..<7 + 33), value: value)
                assertBitwiseEqual(try backend.download(buffer), expected,
                                   OpCall(backend, "fill", "value=\(value) 33 elements from offset 7 of 64"))
            }
        }
    }
}
