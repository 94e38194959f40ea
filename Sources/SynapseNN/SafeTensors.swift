import Foundation

/// A checkpoint in the safetensors format (https://github.com/huggingface/safetensors), which PyTorch and
/// Hugging Face use to exchange weights without pickle: an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON giving each tensor's dtype, shape and byte range, then the tensor bytes (little-endian,
/// row-major, ranges relative to the end of the header).
///
/// Writing produces F32 only. Reading also accepts F64, F16 and BF16, converted to Float, because PyTorch
/// checkpoints often hold half precision. Everything read is validated: a damaged or hostile file gives an
/// `NNError.checkpoint` naming the field at fault, never a crash or an out-of-bounds read.
public struct SafeTensors: Equatable {
    /// One tensor: its shape and its `shape.product` values in row-major order. A scalar has shape `[]`.
    public struct Entry: Equatable {
        /// The dimensions, outermost first; `[]` for a scalar.
        public var shape: [Int]
        /// The elements in row-major order, as many as the product of `shape`.
        public var values: [Float]

        /// A tensor of `shape` holding `values`; `write` refuses one whose value count does not fit its shape.
        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }
    }

    /// The tensors by name (a PyTorch `state_dict` key such as `conv1.weight`).
    public var tensors: [String: Entry]
    /// Free-form string metadata, stored under the header's reserved `__metadata__` key.
    public var metadata: [String: String]

    /// A checkpoint of `tensors` and `metadata`, both empty unless given.
    public init(tensors: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The header key the format reserves for metadata; no tensor may have this name.
    private static let metadataKey = "__metadata__"
    /// The reference implementation's limit; a larger header length means a damaged or hostile file.
    private static let maxHeaderLength = 100_000_000

    // MARK: Writing

    /// Writes the checkpoint with tensors sorted by name, so the same contents always give the same bytes.
    ///
    /// The write is atomic (`AtomicFile`): an interrupted write never leaves a half-written checkpoint, and
    /// the previous file at `path` survives until the new one is complete.
    public func write(to path: String) throws {
        let names = tensors.keys.sorted()
        for name in names {
            try Self.validate(name: name, entry: tensors[name]!, path: path)
        }
        let header = headerBytes(names: names)
        try AtomicFile.write(to: path, fail: { NNError.checkpoint(path: path, message: $0) }) { file in
            try file.write(header)
            // Each tensor's bytes straight from its array: no copy of the whole file in memory.
            for name in names where !tensors[name]!.values.isEmpty {
                #if _endian(big)
                let littleEndian = tensors[name]!.values.map { $0.bitPattern.littleEndian }
                try littleEndian.withUnsafeBytes { try file.write($0) }
                #else
                try tensors[name]!.values.withUnsafeBytes { try file.write($0) }
                #endif
            }
        }
    }

    private static func validate(name: String, entry: Entry, path: String) throws {
        guard name != metadataKey else {
            throw NNError.checkpoint(path: path, message: "the tensor name '\(metadataKey)' is reserved for metadata")
        }
        guard entry.shape.allSatisfy({ $0 >= 0 }) else {
            throw NNError.checkpoint(path: path,
                                     message: "tensor '\(name)': shape \(entry.shape) has a negative dimension")
        }
        guard product(entry.shape) == entry.values.count else {
            throw NNError.checkpoint(path: path, message: "tensor '\(name)': shape \(entry.shape) does not hold "
                                     + "its \(entry.values.count) values")
        }
    }

    /// The length field and the JSON header, padded with spaces to a multiple of 8 bytes as the reference
    /// implementation does, so that the tensor data that follows is aligned.
    private func headerBytes(names: [String]) -> [UInt8] {
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { Self.quoted($0) + ":" + Self.quoted(metadata[$0]!) }
            fields.append(Self.quoted(Self.metadataKey) + ":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for name in names {
            let entry = tensors[name]!
            let end = offset + MemoryLayout<Float>.size * entry.values.count
            let shape = entry.shape.map(String.init).joined(separator: ",")
            fields.append(Self.quoted(name)
                          + #":{"dtype":"F32","shape":[\#(shape)],"data_offsets":[\#(offset),\#(end)]}"#)
            offset = end
        }
        var json = Array(("{" + fields.joined(separator: ",") + "}").utf8)
        json += repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, everything else verbatim UTF-8.
    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20:
                result += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    // MARK: Reading

    /// Reads a checkpoint, validating the header and converting F64, F16 and BF16 tensors to Float.
    public static func read(from path: String) throws -> SafeTensors {
        try read(from: path, values: true).file
    }

    /// Only the header's metadata (the header is validated all the same). The file is mapped, so the
    /// tensor data is never read: a 240 MB AlexNet checkpoint costs a few pages.
    public static func readMetadata(from path: String) throws -> [String: String] {
        try read(from: path, values: false).file.metadata
    }

    /// Only the header's tensor shapes by name, as cheaply as `readMetadata`.
    public static func readShapes(from path: String) throws -> [String: [Int]] {
        try read(from: path, values: false).shapes
    }

    private static func read(from path: String, values: Bool) throws -> (file: SafeTensors, shapes: [String: [Int]]) {
        // Mapped, as the reference implementation does, so a checkpoint of hundreds of MB is not first
        // copied whole into memory.
        let file = try MappedFile(path: path, fail: { NNError.checkpoint(path: path, message: $0) })
        return try decode(file.bytes, path: path, values: values)
    }

    /// Where one tensor lies in the data buffer, as the header says.
    private struct Layout {
        let name: String
        let dtype: DType
        let shape: [Int]
        let bytes: Range<Int>
    }

    private static func decode(_ file: UnsafeRawBufferPointer, path: String, values: Bool)
        throws -> (file: SafeTensors, shapes: [String: [Int]]) {
        func fail(_ message: String) -> NNError { .checkpoint(path: path, message: message) }
        guard file.count >= 8 else {
            throw fail("the file is \(file.count) bytes, too short for the 8-byte header length")
        }
        let headerLength = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        // A file of another kind read as one gives a header length from whatever its first 8 bytes hold.
        guard headerLength <= UInt64(maxHeaderLength) else {
            throw fail("not a safetensors file: its first 8 bytes give a header length of \(headerLength), beyond the limit of \(maxHeaderLength) bytes")
        }
        guard headerLength <= UInt64(file.count - 8) else {
            throw fail("not a safetensors file, or a truncated one: its header length \(headerLength) exceeds the \(file.count - 8) bytes that follow it")
        }
        let dataStart = 8 + Int(headerLength)
        let json = Data(UnsafeRawBufferPointer(rebasing: file[8 ..< dataStart]))
        // The format's header is UTF-8 JSON; JSONSerialization would also take UTF-16 and UTF-32, which have NUL bytes.
        guard !json.contains(0), String(validating: json, as: UTF8.self) != nil else {
            throw fail("the header is not UTF-8 text")
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: json) else {
            throw fail("the header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else { throw fail("the header is not a JSON object") }
        if let key = firstRepeatedKey(in: json) { throw fail("the header names '\(key)' twice in one object") }

        let buffer = UnsafeRawBufferPointer(rebasing: file[dataStart...])
        var metadata: [String: String] = [:]
        var layouts: [Layout] = []
        // Sorted so that a file with several faults always reports the same one.
        for name in header.keys.sorted() {
            if name == metadataKey {
                metadata = try parseMetadata(header[name]!, fail: fail)
            } else {
                layouts.append(try parseLayout(name: name, header[name]!, bufferSize: buffer.count, fail: fail))
            }
        }
        try checkCoverage(layouts, bufferSize: buffer.count, fail: fail)

        var tensors: [String: Entry] = [:]
        for layout in layouts where values {
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[layout.bytes])
            tensors[layout.name] = Entry(shape: layout.shape, values: layout.dtype.floats(bytes))
        }
        return (SafeTensors(tensors: tensors, metadata: metadata),
                Dictionary(uniqueKeysWithValues: layouts.map { ($0.name, $0.shape) }))
    }

    /// The first key that an object of the well-formed UTF-8 JSON `json` (at any depth) names twice; nil when none
    /// does. JSONSerialization keeps one of the two silently, so a file could say two things about one tensor. Keys
    /// compare as the parsed dictionary compares them: escapes decoded, canonically equivalent strings equal.
    private static func firstRepeatedKey(in json: Data) -> String? {
        let bytes = [UInt8](json)
        var objects: [Set<String>?] = []   // per open container: its keys so far, nil for an array
        var expectingKey = false
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"):
                objects.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                objects.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard objects.popLast() != nil else { return nil }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = objects.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                var end = i + 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
                if expectingKey, !objects.isEmpty {
                    expectingKey = false
                    let inner = bytes[(i + 1)..<min(end, bytes.count)]
                    // Escapes only where there are any: a header may hold a great many keys.
                    let key = inner.contains(UInt8(ascii: "\\"))
                        ? (try? JSONSerialization.jsonObject(with: Data(bytes[i..<min(end + 1, bytes.count)]),
                                                             options: .fragmentsAllowed)) as? String
                        : String(decoding: inner, as: UTF8.self)
                    if let key, objects[objects.count - 1]?.insert(key).inserted == false { return key }
                }
                i = end
            default:
                break
            }
            i += 1
        }
        return nil
    }

    private static func parseMetadata(_ value: Any, fail: (String) -> NNError) throws -> [String: String] {
        guard let object = value as? [String: Any] else { throw fail("'\(metadataKey)' is not a JSON object") }
        var metadata: [String: String] = [:]
        for key in object.keys.sorted() {
            guard let text = object[key] as? String else {
                throw fail("'\(metadataKey)' value for key '\(key)' is not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseLayout(name: String, _ value: Any, bufferSize: Int,
                                    fail: (String) -> NNError) throws -> Layout {
        guard let fields = value as? [String: Any] else {
            throw fail("tensor '\(name)': the entry is not a JSON object")
        }
        func field(_ key: String) throws -> Any {
            guard let value = fields[key] else { throw fail("tensor '\(name)': missing field '\(key)'") }
            return value
        }
        guard let dtypeName = try field("dtype") as? String else {
            throw fail("tensor '\(name)': field 'dtype' is not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw fail("tensor '\(name)' has dtype \(dtypeName), which cannot be read (only F32, F64, F16 and BF16)")
        }
        guard let dims = try field("shape") as? [Any] else {
            throw fail("tensor '\(name)': field 'shape' is not a list")
        }
        let shape = try dims.map { dim -> Int in
            guard let size = integer(dim), size >= 0 else {
                throw fail("tensor '\(name)': field 'shape' holds \(dim), not a non-negative integer")
            }
            return size
        }
        guard let offsets = try field("data_offsets") as? [Any], offsets.count == 2,
              let begin = integer(offsets[0]), let end = integer(offsets[1]), 0 <= begin, begin <= end
        else {
            throw fail("tensor '\(name)': field 'data_offsets' is not [begin, end] with 0 <= begin <= end")
        }
        guard let size = product(shape + [dtype.size]) else {
            throw fail("tensor '\(name)': shape \(shape) is too large")
        }
        guard end - begin == size else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape "
                       + "\(shape) of \(dtypeName) needs \(size)")
        }
        guard end <= bufferSize else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(bufferSize)-byte "
                       + "data buffer")
        }
        return Layout(name: name, dtype: dtype, shape: shape, bytes: begin ..< end)
    }

    /// The format requires the tensors to tile the data buffer exactly: no overlaps (one tensor's bytes
    /// aliasing another's) and no holes (bytes that belong to nothing, where hidden content could hide).
    private static func checkCoverage(_ layouts: [Layout], bufferSize: Int, fail: (String) -> NNError) throws {
        let ordered = layouts.sorted {
            ($0.bytes.lowerBound, $0.bytes.upperBound, $0.name) < ($1.bytes.lowerBound, $1.bytes.upperBound, $1.name)
        }
        var covered = 0
        var previous = ""  // the tensor that ends at `covered`
        for layout in ordered {
            if layout.bytes.lowerBound < covered {
                throw fail("tensors '\(previous)' and '\(layout.name)' overlap in the data buffer")
            }
            if layout.bytes.lowerBound > covered {
                throw fail("bytes \(covered) to \(layout.bytes.lowerBound) of the data buffer belong to no tensor "
                           + "(a hole before tensor '\(layout.name)')")
            }
            covered = layout.bytes.upperBound
            previous = layout.name
        }
        if covered != bufferSize {
            throw fail("bytes \(covered) to \(bufferSize) at the end of the data buffer belong to no tensor")
        }
    }

    /// A JSON integer from JSONSerialization, which returns NSNumber for every number and for true/false.
    /// Only an integer literal has an integer type code: 'c' is how booleans come back, and 'd' any number
    /// written with a fraction or exponent (which the format does not allow for sizes and offsets).
    private static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, "silqSILQ".utf8.contains(UInt8(bitPattern: number.objCType.pointee))
        else {
            return nil
        }
        return number as? Int
    }

    /// The product of non-negative factors, or nil where it overflows `Int`.
    private static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }
}

/// The dtypes that can be read, named as in the header.
private enum DType: String {
    case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16"

    var size: Int {
        switch self {
        case .f32: return 4
        case .f64: return 8
        case .f16, .bf16: return 2
        }
    }

    /// The little-endian values in `bytes` (a whole number of elements), converted to Float.
    func floats(_ bytes: UnsafeRawBufferPointer) -> [Float] {
        let count = bytes.count / size
        func load<T: FixedWidthInteger>(_ index: Int, as type: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * size, as: T.self))
        }
        switch self {
        case .f32:
            // One bulk copy: checkpoints are mostly F32, and can be hundreds of MB.
            var values = [Float](unsafeUninitializedCapacity: count) { memory, initialized in
                UnsafeMutableRawBufferPointer(memory).copyMemory(from: bytes)
                initialized = count
            }
            #if _endian(big)
            for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
            #endif
            return values
        case .f64:
            return (0 ..< count).map { Float(Double(bitPattern: load($0, as: UInt64.self))) }
        case .f16:
            return (0 ..< count).map { Self.float(half: load($0, as: UInt16.self)) }
        case .bf16:
            // bfloat16 is the top half of a Float.
            return (0 ..< count).map { Float(bitPattern: UInt32(load($0, as: UInt16.self)) << 16) }
        }
    }

    /// IEEE half precision to Float by moving the bit fields; Swift's Float16 is not available on every host
    /// (Intel macOS lacks it).
    private static func float(half bits: UInt16) -> Float {
        let sign = UInt32(bits >> 15) << 31
        let exponent = UInt32(bits >> 10) & 0x1f
        let mantissa = UInt32(bits) & 0x3ff
        switch exponent {
        case 0:  // zero or subnormal: mantissa * 2^-24, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1f:  // infinity or NaN, payload kept
            return Float(bitPattern: sign | 0x7f80_0000 | mantissa << 13)
        default:  // normal: re-bias the exponent from 15 to 127
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}
