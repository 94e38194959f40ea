// Shared pieces of the fuzz targets: a per-process scratch directory for the files the readers open,
// plain and gzip writers, and the check that turns a broken invariant into a crash libFuzzer records.
import CZlibFuzz
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The readers under test take paths, so every input is written to a file first. Each process gets one
/// directory (under `$SYNAPSE_FUZZ_TMPDIR`, else `/dev/shm` when writable, else the temporary directory) and
/// rewrites the same few files in it for every input; the directory is removed when the process exits normally.
public enum Scratch {
    public static let directory: String = {
        let environment = ProcessInfo.processInfo.environment
        var base = environment["SYNAPSE_FUZZ_TMPDIR"] ?? ""
        if base.isEmpty { base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory() }
        var template = Array("\(base)/synapse-fuzz-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            fatalError("fuzz setup: cannot create a scratch directory under \(base): \(String(cString: strerror(errno)))")
        }
        let path = String(cString: template)
        createdDirectory = path
        atexit { if let path = Scratch.createdDirectory { try? FileManager.default.removeItem(atPath: path) } }
        return path
    }()

    /// Set once, when `directory` is first used; a fuzz target runs its inputs on one thread.
    nonisolated(unsafe) private static var createdDirectory: String?

    /// `name` inside the scratch directory.
    public static func path(_ name: String) -> String { directory + "/" + name }

    /// A subdirectory of the scratch directory, created on first use.
    public static func subdirectory(_ name: String) -> String {
        let path = path(name)
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            fatalError("fuzz setup: cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return path
    }

    /// Replaces the file at `path` with `bytes`.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { fatalError("fuzz setup: cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var done = 0
        while done < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { fatalError("fuzz setup: cannot write \(path): \(String(cString: strerror(errno)))") }
            done += written
        }
    }

    public static func write(_ bytes: [UInt8], to path: String) {
        bytes.withUnsafeBytes { write($0, to: path) }
    }

    /// Replaces the file at `path` with a gzip stream (zlib level 1) that inflates to `bytes`.
    public static func writeGzip(_ bytes: UnsafeRawBufferPointer, to path: String) {
        guard let file = gzopen(path, "wb1") else { fatalError("fuzz setup: gzopen \(path) failed") }
        var done = 0
        while done < bytes.count {
            let wanted = min(bytes.count - done, 1 << 20)
            let written = gzwrite(file, bytes.baseAddress! + done, UInt32(wanted))
            guard written > 0 else { fatalError("fuzz setup: gzwrite \(path) failed") }
            done += Int(written)
        }
        guard gzclose(file) == Z_OK else { fatalError("fuzz setup: gzclose \(path) failed") }
    }

    public static func writeGzip(_ bytes: [UInt8], to path: String) {
        bytes.withUnsafeBytes { writeGzip($0, to: path) }
    }
}

/// The input as a buffer; libFuzzer may pass a null pointer with size 0.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}

/// True when zlib would take the bytes for a gzip stream (the magic 1F 8B) rather than pass them through.
public func looksGzipped(_ bytes: UnsafeRawBufferPointer) -> Bool {
    bytes.count >= 1 && bytes[0] == 0x1f && (bytes.count < 2 || bytes[1] == 0x8b)
}

/// A bug found: prints what broke and traps, so that libFuzzer saves the input as a crash.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() {
        let text = "FUZZ CHECK FAILED (\(file):\(line)): \(message())\n"
        FileHandle.standardError.write(Data(text.utf8))
        fatalError(text, file: file, line: line)
    }
}

/// Float arrays equal bit for bit (NaN payloads included), unlike `==`, which finds NaN unequal to itself.
public func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// The error's text, shortened, for check messages.
public func brief(_ error: Error) -> String {
    let text = "\(error)"
    return text.count > 300 ? String(text.prefix(300)) + "..." : text
}
