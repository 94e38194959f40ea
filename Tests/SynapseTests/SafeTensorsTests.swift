import Foundation
import Synapse
import XCTest

/// The safetensors checkpoint format: round trips, deterministic bytes, atomic replacement, rejection of
/// every kind of damaged file with a message naming the fault, half-precision reading, and interoperation
/// with the reference Python implementation.
final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A checkpoint with awkward cases: special values, a scalar, empty tensors and metadata needing escapes.
    private var sample: SafeTensors {
        let weights = (0 ..< 24).map { Float($0) * 0.37 - 4 } + [.infinity, -.infinity, -0.0, .leastNonzeroMagnitude,
                                                                 .greatestFiniteMagnitude, .pi]
        return SafeTensors(
            tensors: [
                "conv1.weight": .init(shape: [2, 3, 5], values: weights),
                "conv1.bias": .init(shape: [2], values: [1.5, -2.25]),
                "step": .init(shape: [], values: [42]),
                "empty": .init(shape: [0, 5], values: []),
                "nan": .init(shape: [1], values: [Float(bitPattern: 0x7fc0_1234)]),
            ],
            metadata: ["format": "pt", "note": "quote \" backslash \\ newline \n tab \t ünïcödé ✓", "epoch": "3"])
    }

    private func assertBitIdentical(_ read: SafeTensors, _ expected: SafeTensors, file: StaticString = #filePath,
                                    line: UInt = #line) {
        XCTAssertEqual(read.metadata, expected.metadata, file: file, line: line)
        XCTAssertEqual(Set(read.tensors.keys), Set(expected.tensors.keys), file: file, line: line)
        for (name, entry) in expected.tensors {
            XCTAssertEqual(read.tensors[name]?.shape, entry.shape, name, file: file, line: line)
            XCTAssertEqual(read.tensors[name]?.values.map(\.bitPattern), entry.values.map(\.bitPattern), name,
                           file: file, line: line)
        }
    }

    func testRoundTripIsBitExact() throws {
        try sample.write(to: path("model.safetensors"))
        assertBitIdentical(try SafeTensors.read(from: path("model.safetensors")), sample)
        XCTAssertEqual(try SafeTensors.readMetadata(from: path("model.safetensors")), sample.metadata)
    }

    func testEmptyCheckpointRoundTrips() throws {
        try SafeTensors().write(to: path("empty.safetensors"))
        XCTAssertEqual(try SafeTensors.read(from: path("empty.safetensors")), SafeTensors())
    }

    func testBytesAreDeterministicAndFollowTheSpec() throws {
        try sample.write(to: path("a.safetensors"))
        var reordered = SafeTensors(metadata: sample.metadata)
        for name in sample.tensors.keys.sorted().reversed() { reordered.tensors[name] = sample.tensors[name] }
        try reordered.write(to: path("b.safetensors"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("a.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: path("b.safetensors"))))

        // The exact bytes of a small file: length, compact JSON padded with spaces to 8 bytes, little-endian data.
        try SafeTensors(tensors: ["a": .init(shape: [1, 2], values: [1, -2])], metadata: ["k": "v"])
            .write(to: path("small.safetensors"))
        let json = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}"#
        let padded = json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8)
        let expected = [UInt8(padded.utf8.count), 0, 0, 0, 0, 0, 0, 0] + Array(padded.utf8)
            + [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path("small.safetensors")))), expected)
    }

    func testAtomicWriteReplacesTheFileAndLeavesNoTemporaryFiles() throws {
        let target = path("model.safetensors")
        try sample.write(to: target)
        let replacement = SafeTensors(tensors: ["only": .init(shape: [3], values: [1, 2, 3])])
        try replacement.write(to: target)
        XCTAssertEqual(try SafeTensors.read(from: target), replacement)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    func testWriteRejectsInconsistentTensorsAndKeepsThePreviousFile() throws {
        let target = path("model.safetensors")
        try sample.write(to: target)
        let bad: [(SafeTensors.Entry, String, String)] = [
            (.init(shape: [2, 3], values: [1, 2, 3]), "w", "tensor 'w': shape [2, 3] does not hold its 3 values"),
            (.init(shape: [-1, -3], values: [1, 2, 3]), "w", "tensor 'w': shape [-1, -3] has a negative dimension"),
            (.init(shape: [1], values: [1]), "__metadata__", "'__metadata__' is reserved"),
        ]
        for (entry, name, message) in bad {
            assertCheckpointError(path: target, mentioning: message) {
                try SafeTensors(tensors: ["ok": .init(shape: [1], values: [0]), name: entry]).write(to: target)
            }
        }
        assertBitIdentical(try SafeTensors.read(from: target), sample)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    func testWriteIntoAMissingDirectoryFails() {
        let target = path("missing/model.safetensors")
        assertCheckpointError(path: target, mentioning: "missing does not exist") {
            try sample.write(to: target)
        }
    }

    // MARK: Damaged files

    /// Writes a file with the given header text, its true length (or `claimedLength`), and data buffer.
    private func damaged(_ header: String, buffer: [UInt8] = [], claimedLength: UInt64? = nil) throws -> String {
        let length = claimedLength ?? UInt64(header.utf8.count)
        let bytes = withUnsafeBytes(of: length.littleEndian, Array.init) + Array(header.utf8) + buffer
        let file = path("damaged-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    private func assertCheckpointError(path: String, mentioning expected: String, file: StaticString = #filePath,
                                       line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), expected, file: file, line: line) { error in
            guard case let .checkpoint(errorPath, message) = error as? NNError else {
                return XCTFail("expected NNError.checkpoint, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(errorPath, path, file: file, line: line)
            XCTAssertTrue(message.contains(expected), "'\(message)' does not mention '\(expected)'", file: file,
                          line: line)
        }
    }

    private func assertRejected(_ header: String, buffer: [UInt8] = [], claimedLength: UInt64? = nil,
                                mentioning expected: String, file: StaticString = #filePath,
                                line: UInt = #line) throws {
        let damagedFile = try damaged(header, buffer: buffer, claimedLength: claimedLength)
        assertCheckpointError(path: damagedFile, mentioning: expected, file: file, line: line) {
            _ = try SafeTensors.read(from: damagedFile)
        }
    }

    func testRejectsMissingAndTruncatedFiles() throws {
        let missing = path("nothing-here.safetensors")
        assertCheckpointError(path: missing, mentioning: "no such file") { _ = try SafeTensors.read(from: missing) }

        let short = path("short.safetensors")
        try Data([1, 0, 0]).write(to: URL(fileURLWithPath: short))
        assertCheckpointError(path: short, mentioning: "the file is 3 bytes, too short for the 8-byte header length") {
            _ = try SafeTensors.read(from: short)
        }
    }

    func testRejectsAbsurdHeaderLengths() throws {
        try assertRejected("{}", claimedLength: 1 << 40, mentioning: "not a safetensors file: its first 8 bytes give a header length of 1099511627776, beyond the limit")
        try assertRejected("{}", claimedLength: 200_000_000, mentioning: "beyond the limit of 100000000 bytes")
        try assertRejected("{}", claimedLength: 3, mentioning: "or a truncated one: its header length 3 exceeds the 2 bytes that follow it")
    }

    func testRejectsHeadersThatAreNotJSONObjects() throws {
        try assertRejected("{not json", mentioning: "the header is not valid JSON")
        try assertRejected("", mentioning: "the header is not valid JSON")
        try assertRejected("[1, 2]", mentioning: "the header is not a JSON object")
        try assertRejected(#"{"w": [1]}"#, mentioning: "tensor 'w': the entry is not a JSON object")
        // A key given twice, which a JSON parser resolves silently one way or the other.
        let entry = #"{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}"#
        try assertRejected(#"{"w": \#(entry), "w": \#(entry)}"#, buffer: [0, 0, 0, 0], mentioning: "names 'w' twice")
        try assertRejected(#"{"__metadata__": {"epoch": "1", "epoch": "2"}}"#, mentioning: "names 'epoch' twice")
        try assertRejected(#"{"w": {"dtype": "F32", "shape": [1], "shape": [1], "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "names 'shape' twice")
        // Twice as the parsed header sees it: an escape, or another spelling of the same character.
        try assertRejected(#"{"__metadata__": {"a": "1", "\u0061": "2"}}"#, mentioning: "names 'a' twice")
        try assertRejected("{\"__metadata__\": {\"\u{E9}\": \"1\", \"e\u{301}\": \"2\"}}", mentioning: "twice")
        // UTF-16 and UTF-32, which JSONSerialization would take, have NUL bytes; the format is UTF-8.
        try assertRejected("{\u{0}}\u{0}", mentioning: "the header is not UTF-8 text")
        // Keys count per object, and strings that are values (escaped quotes included) are not keys.
        let alike = path("alike.safetensors")
        let written = SafeTensors(tensors: ["shape": .init(shape: [1], values: [1]), "dtype": .init(shape: [1], values: [2])],
                                  metadata: ["shape": #"dtype", "shape": [1]"#, "data_offsets": "\\"])
        try written.write(to: alike)
        XCTAssertEqual(try SafeTensors.read(from: alike), written)
    }

    func testRejectsEntriesWithMissingOrMalformedFields() throws {
        try assertRejected(#"{"w": {"shape": [1], "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': missing field 'dtype'")
        try assertRejected(#"{"w": {"dtype": "F32", "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': missing field 'shape'")
        try assertRejected(#"{"w": {"dtype": "F32", "shape": [1]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': missing field 'data_offsets'")
        try assertRejected(#"{"w": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': field 'dtype' is not a string")
        try assertRejected(#"{"w": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': field 'shape' is not a list")
        for offsets in ["[0]", "[4, 0]", "[-4, 0]", "[0, 4.5]", #"["0", "4"]"#, "[0, 4, 8]"] {
            try assertRejected(#"{"w": {"dtype": "F32", "shape": [1], "data_offsets": \#(offsets)}}"#,
                               buffer: [0, 0, 0, 0], mentioning: "tensor 'w': field 'data_offsets' is not [begin, end]")
        }
    }

    func testRejectsNegativeAndNonIntegerDimensions() throws {
        for dim in ["-1", "2.5", "2.0", "1e0", "true", #""2""#, "null"] {
            try assertRejected(#"{"w": {"dtype": "F32", "shape": [\#(dim), 1], "data_offsets": [0, 8]}}"#,
                               buffer: Array(repeating: 0, count: 8),
                               mentioning: "tensor 'w': field 'shape' holds")
        }
        try assertRejected(#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}"#,
                           buffer: Array(repeating: 0, count: 8),
                           mentioning: "tensor 'w': shape [4294967296, 4294967296] is too large")
    }

    func testRejectsUnsupportedDtypes() throws {
        for dtype in ["I64", "U8", "BOOL", "F8_E4M3", "float32"] {
            try assertRejected(#"{"w": {"dtype": "\#(dtype)", "shape": [1], "data_offsets": [0, 1]}}"#, buffer: [0],
                               mentioning: "tensor 'w' has dtype \(dtype), which cannot be read")
        }
    }

    func testRejectsOffsetsThatDoNotMatchTheShapeOrTheBuffer() throws {
        try assertRejected(#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': data_offsets [0, 4] span 4 bytes but shape [2] of F32 needs 8")
        try assertRejected(#"{"w": {"dtype": "F16", "shape": [3], "data_offsets": [0, 4]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "span 4 bytes but shape [3] of F16 needs 6")
        try assertRejected(#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, buffer: [0, 0, 0, 0],
                           mentioning: "tensor 'w': data_offsets [0, 8] lie outside the 4-byte data buffer")
    }

    func testRejectsOverlapsAndHolesInTheBuffer() throws {
        let twelve = [UInt8](repeating: 0, count: 12)
        try assertRejected(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "#
                           + #""b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
                           buffer: twelve, mentioning: "tensors 'a' and 'b' overlap")
        try assertRejected(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "#
                           + #""b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#,
                           buffer: twelve, mentioning: "bytes 4 to 8 of the data buffer belong to no tensor")
        try assertRejected(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#,
                           buffer: twelve, mentioning: "bytes 0 to 4 of the data buffer belong to no tensor")
        try assertRejected(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
                           buffer: twelve,
                           mentioning: "bytes 4 to 12 at the end of the data buffer belong to no tensor")
    }

    func testRejectsMalformedMetadata() throws {
        try assertRejected(#"{"__metadata__": {"epoch": 3}}"#,
                           mentioning: "'__metadata__' value for key 'epoch' is not a string")
        try assertRejected(#"{"__metadata__": ["a"]}"#, mentioning: "'__metadata__' is not a JSON object")
    }

    // MARK: Other dtypes

    func testReadsF64F16AndBF16AsFloat() throws {
        let f16: [UInt16] = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x03ff]
        let f16Expected: [Float] = [1, -2, 0.5, 65504, 0x1p-24, -0.0, .infinity, -.infinity, 1023 * 0x1p-24]
        let bf16: [UInt16] = [0x3f80, 0xc060, 0x7f80, 0x0001]
        let bf16Expected: [Float] = [1, -3.5, .infinity, Float(bitPattern: 0x0001_0000)]
        let f64: [Double] = [0.1, -1e-3, 3, 1e300]
        let f64Expected = f64.map { Float($0) }  // rounded to nearest; 1e300 becomes infinity
        let f32: [Float] = [7.5]

        func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
            values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        }
        // Deliberately not in name order, as PyTorch's writer orders by alignment.
        let buffer = littleEndian(f64.map(\.bitPattern)) + littleEndian(f32.map(\.bitPattern)) + littleEndian(f16)
            + littleEndian(bf16)
        let header = #"{"half": {"dtype": "F16", "shape": [3, 3], "data_offsets": [36, 54]}, "#
            + #""brain": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [54, 62]}, "#
            + #""double": {"dtype": "F64", "shape": [4], "data_offsets": [0, 32]}, "#
            + #""single": {"dtype": "F32", "shape": [], "data_offsets": [32, 36]}, "__metadata__": {"format": "pt"}}"#
        let read = try SafeTensors.read(from: try damaged(header, buffer: buffer))
        let expected = SafeTensors(tensors: ["half": .init(shape: [3, 3], values: f16Expected),
                                             "brain": .init(shape: [2, 2], values: bf16Expected),
                                             "double": .init(shape: [4], values: f64Expected),
                                             "single": .init(shape: [], values: f32)],
                                   metadata: ["format": "pt"])
        assertBitIdentical(read, expected)
        // NaN payloads survive the half conversion.
        let nanHeader = #"{"n": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}"#
        let nan = try SafeTensors.read(from: try damaged(nanHeader, buffer: littleEndian([UInt16(0x7e01)])))
        XCTAssertEqual(nan.tensors["n"]?.values.map(\.bitPattern), [0x7fc0_2000])
    }

    // MARK: Python interoperability

    func testPythonReadsWhatSwiftWrites() throws {
        try Python.requireSafetensors()
        var checkpoint = sample
        // JSON, the way values come back here, has no NaN or infinity.
        checkpoint.tensors["nan"] = nil
        checkpoint.tensors["conv1.weight"]!.values = sample.tensors["conv1.weight"]!.values.map { $0.isFinite ? $0 : 1 }
        let file = path("swift.safetensors")
        try checkpoint.write(to: file)
        let script = """
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="np") as f:
                metadata = f.metadata()
            print(json.dumps({"metadata": metadata, "tensors": {name: {"dtype": str(t.dtype), "shape": list(t.shape),
                  "values": t.astype("float64").ravel().tolist()} for name, t in tensors.items()}}))
            """
        let (status, output) = try Python.run(script, [file])
        XCTAssertEqual(status, 0, output)
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertEqual(result["metadata"] as? [String: String], checkpoint.metadata)
        let tensors = try XCTUnwrap(result["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(Set(tensors.keys), Set(checkpoint.tensors.keys))
        for (name, entry) in checkpoint.tensors {
            XCTAssertEqual(tensors[name]?["dtype"] as? String, "float32", name)
            XCTAssertEqual(tensors[name]?["shape"] as? [Int], entry.shape, name)
            // float32 -> float64 -> decimal and back is exact.
            let values = (tensors[name]?["values"] as? [Double])?.map { Float($0).bitPattern }
            XCTAssertEqual(values, entry.values.map(\.bitPattern), name)
        }
    }

    func testSwiftReadsWhatPythonWrites() throws {
        try Python.requireSafetensors()
        let file = path("python.safetensors")
        let script = """
            import sys
            import numpy as np
            from safetensors.numpy import save_file
            save_file({
                "fc.weight": (np.arange(6, dtype=np.float32).reshape(2, 3) - 2) / 4,
                "fc.bias": np.array([[1.5, -2.0], [0.25, 65504.0]], dtype=np.float16),
                "running_mean": np.array([0.1, -1e-3, 3.0], dtype=np.float64),
                "scale": np.array(2.5, dtype=np.float32),
                "empty": np.zeros((0, 3), dtype=np.float32),
            }, sys.argv[1], metadata={"format": "np", "epoch": "7"})
            """
        let (status, output) = try Python.run(script, [file])
        XCTAssertEqual(status, 0, output)
        let read = try SafeTensors.read(from: file)
        let expected = SafeTensors(
            tensors: ["fc.weight": .init(shape: [2, 3], values: [-0.5, -0.25, 0, 0.25, 0.5, 0.75]),
                      "fc.bias": .init(shape: [2, 2], values: [1.5, -2, 0.25, 65504]),
                      "running_mean": .init(shape: [3], values: [Float(0.1), Float(-1e-3), 3]),
                      "scale": .init(shape: [], values: [2.5]),
                      "empty": .init(shape: [0, 3], values: [])],
            metadata: ["format": "np", "epoch": "7"])
        assertBitIdentical(read, expected)
    }
}
