import CZlib
import SynapseCore
import Foundation

/// An array read from an IDX file, LeCun's format for MNIST and Fashion-MNIST: the magic bytes
/// `0x00 0x00 type ndims`, then `ndims` big-endian UInt32 dimensions, then the elements in row-major order.
/// Only element type 0x08 (unsigned byte) is read; it is the only one the MNIST family uses.
public struct IDXFile {
    /// The dimensions from the header, outermost first: `[images, rows, columns]` for an image file.
    public let shape: [Int]
    /// `shape.reduce(1, *)` elements.
    public let bytes: [UInt8]

    /// Reads `path`, plain or gzip-compressed. Every problem throws `NNError.dataFile` naming the file.
    public init(path: String) throws {
        let reader = try CompressedFileReader(path: path)
        func fail(_ message: String) -> NNError { .dataFile(path: path, message: message) }

        let magic = try reader.read(upTo: 4)
        guard magic.count == 4 else {
            throw fail("too short for an IDX header: \(magic.count) bytes")
        }
        guard magic[0] == 0, magic[1] == 0, magic[3] > 0 else {
            throw fail("not an IDX file: the first four bytes are \(hex(magic)), expected 00 00 <type> <dimensions>")
        }
        guard magic[2] == 0x08 else {
            let names: [UInt8: String] = [0x09: "signed byte", 0x0B: "16-bit integer", 0x0C: "32-bit integer",
                                          0x0D: "32-bit float", 0x0E: "64-bit float"]
            throw fail("unsupported IDX element type 0x\(hex([magic[2]])) (\(names[magic[2]] ?? "unknown")); "
                + "only 0x08 (unsigned byte) is supported")
        }

        let rank = Int(magic[3])
        let header = try reader.read(upTo: 4 * rank)
        guard header.count == 4 * rank else {
            throw fail("truncated header: \(rank) dimensions need \(4 * rank) bytes, found \(header.count)")
        }
        let shape = (0..<rank).map { d in
            header[4 * d..<4 * d + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        // Check the size before reading: a corrupt header must not overflow the element count. The cap is far
        // above any IDX data set and keeps the Float copy a loader makes (4 bytes per element) within reason;
        // below it, the reader allocates only as data arrives, so a plausible but false count costs nothing.
        // A zero dimension does not excuse the others: the product of the non-zero ones is capped too, so that
        // whatever multiplies a subset of the dimensions later (a sample's size, say) cannot overflow either.
        var nonZeroProduct = 1
        for dimension in shape where dimension > 0 {
            let (product, overflow) = nonZeroProduct.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int(Int32.max) else {
                throw fail("dimensions \(describe(shape)) describe more than \(Int32.max) elements")
            }
            nonZeroProduct = product
        }
        let count = shape.contains(0) ? 0 : nonZeroProduct

        let bytes = try reader.read(upTo: count)
        guard bytes.count == count else {
            throw fail("truncated: dimensions \(describe(shape)) need \(count) bytes of data, found \(bytes.count)")
        }
        guard try reader.read(upTo: 1).isEmpty else {
            throw fail("unexpected data after the \(count) bytes that dimensions \(describe(shape)) describe")
        }
        self.shape = shape
        self.bytes = bytes
    }
}

/// A file read through zlib, which inflates gzip files and passes other files through unchanged,
/// so that data sets can be stored either way.
final class CompressedFileReader {
    let path: String
    private let file: gzFile
    /// Uncompressed bytes read so far.
    private var offset = 0

    init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NNError.dataFile(path: path, message: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw NNError.dataFile(path: path, message: "is a directory, expected a file")
        }
        guard let file = gzopen(path, "rb") else {
            throw NNError.dataFile(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        // zlib's default 8 KiB buffer makes many small reads on files of tens of megabytes.
        gzbuffer(file, 1 << 18)
        self.path = path
        self.file = file
    }

    deinit { gzclose(file) }

    /// Up to `count` bytes; fewer only at the end of the file. Memory grows with the bytes actually
    /// read, not with `count`.
    func read(upTo count: Int) throws -> [UInt8] {
        var data = [UInt8]()
        data.reserveCapacity(min(count, 1 << 26))
        var chunk = [UInt8](repeating: 0, count: min(count, 1 << 20))
        while data.count < count {
            let wanted = min(chunk.count, count - data.count)
            let got = try chunk.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted])) }
            data.append(contentsOf: chunk[0..<got])
            if got < wanted { break }
        }
        return data
    }

    /// Fills `buffer` from the file and returns how many bytes it got: fewer than its size only at the end of the
    /// file, 0 once there. A gzip stream that breaks off is an error that says so.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = gzread(file, buffer.baseAddress! + filled, UInt32(min(buffer.count - filled, 1 << 30)))
            guard got >= 0 else { throw NNError.dataFile(path: path, message: "read error: \(errorMessage())") }
            if got == 0 { break }
            filled += Int(got)
            offset += Int(got)
        }
        if filled < buffer.count {
            var status: Int32 = 0
            _ = gzerror(file, &status)
            if status == Z_BUF_ERROR {
                throw NNError.dataFile(path: path, message: "truncated: the gzip stream breaks off after \(offset) "
                    + "uncompressed bytes")
            }
        }
        return filled
    }

    /// The whole (uncompressed) file, refusing one of more than `limit` bytes by name rather than filling memory
    /// with /dev/zero or a gzip bomb.
    func readAll(limit: Int) throws -> [UInt8] {
        let data = try read(upTo: limit + 1)
        guard data.count <= limit else {
            throw NNError.dataFile(path: path, message: "holds more than \(limit >> 20) MiB (uncompressed), more than "
                + "this reader takes")
        }
        return data
    }

    private func errorMessage() -> String {
        var status: Int32 = 0
        let message = gzerror(file, &status).map { String(cString: $0) } ?? "unknown error"
        return status == Z_ERRNO ? String(cString: strerror(errno)) : message
    }
}

/// Bytes as space-separated hex pairs, for error messages.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
}
