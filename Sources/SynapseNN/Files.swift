import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files that are replaced whole or not at all: the bytes go to a temporary file beside the target, which is
/// fsync'd and renamed over it, and the directory is fsync'd. An interrupted write leaves the previous file
/// as it was. Its temporary file, named `<name>.tmp-<pid>-<random>`, is removed by the next write to the
/// same path once the process that made it is gone. Errors say what is wrong in words, naming the path.
public enum AtomicFile {
    /// Writes what `body` gives the writer to `path`. `fail` turns a message into the caller's error.
    public static func write(to path: String, fail: @escaping (String) -> Error, _ body: (Writer) throws -> Void) throws {
        try checkTarget(path, fail: fail)
        removeStaleTemporaries(of: path)
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        // O_EXCL: never write through a file or link that someone else put at this name.
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw fail("cannot create the temporary file \(temporary): \(reason())") }
        do {
            defer { close(descriptor) }
            try body(Writer(descriptor: descriptor, fail: fail))
            guard fsync(descriptor) == 0 else { throw fail("cannot flush the file to disk: \(reason())") }
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let why = reason()
            unlink(temporary)
            throw fail("cannot move the finished file into place: \(why)")
        }
        // The rename is durable only once the directory is synced; if that fails the new file is still
        // complete and in place, so there is nothing to report.
        let directory = open(directoryOf(path), O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Checks, without changing anything the user has, that `path` can be written: a name, not a directory
    /// or device, in an existing directory where a file can be created. Training calls it before the first
    /// epoch, so a bad path is reported in seconds rather than after an epoch.
    public static func checkWritable(_ path: String, fail: (String) -> Error) throws {
        try checkTarget(path, fail: fail)
        // A run killed while it probed left its probe; a later run that writes nothing (all its epochs done) must
        // not leave it lying there.
        removeStaleTemporaries(of: path)
        let probe = "\(path).tmp-\(getpid())-probe"
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw fail("cannot create a file in \(directoryOf(path)): \(reason())") }
        close(descriptor)
        unlink(probe)
    }

    /// Unbuffered writes to the temporary file, retried until every byte is out.
    public struct Writer {
        let descriptor: Int32
        let fail: (String) -> Error

        /// Writes every byte of `bytes`, retrying short and interrupted writes; a failure throws what `fail` makes.
        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw fail("cannot write the file: \(reason())")
                }
                done += written
            }
        }

        /// Writes every byte of `bytes`.
        public func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }
    }

    /// The target must be named, must not be a directory or a device (renaming over `/dev/null` would replace
    /// the device), and its directory must exist.
    private static func checkTarget(_ path: String, fail: (String) -> Error) throws {
        guard !path.isEmpty else { throw fail("the path is empty") }
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw fail("it is a directory; give a file name") }
            if info.st_mode & S_IFMT != S_IFREG { throw fail("it exists and is not a regular file (a device or pipe?)") }
        }
        let directory = directoryOf(path)
        guard stat(directory, &info) == 0 else {
            throw fail(errno == ENOENT ? "its directory \(directory) does not exist"
                                       : "its directory \(directory) cannot be used: \(reason())")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw fail("\(directory) is not a directory") }
    }

    /// Removes `<name>.tmp-<pid>-*` files beside `path` whose process no longer runs: what a killed writer
    /// left behind. A live process's temporary file (another run writing the same path) is left alone.
    static func removeStaleTemporaries(of path: String) {
        let directory = directoryOf(path)
        let prefix = URL(fileURLWithPath: path).lastPathComponent + ".tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) {
            let fields = name.dropFirst(prefix.count).split(separator: "-")
            guard fields.count == 2, let pid = Int32(fields[0]), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink((directory as NSString).appendingPathComponent(name)) }
        }
    }

    static func directoryOf(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }
}

/// A file's bytes, mapped read-only, for readers that must not copy hundreds of MB first. Refuses what is
/// not a regular file (a directory, a device such as /dev/null) with a message in words.
public final class MappedFile {
    /// The file's contents, valid while this object lives; empty for an empty file.
    public let bytes: UnsafeRawBufferPointer

    /// Maps the regular file at `path`; `fail` turns a message in words into the caller's error.
    public init(path: String, fail: (String) -> Error) throws {
        // Non-blocking, so that a named pipe with no writer is refused below instead of waiting forever.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw fail(errno == ENOENT ? "no such file" : "cannot open the file: \(reason())")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw fail("cannot read the file: \(reason())") }
        if info.st_mode & S_IFMT == S_IFDIR { throw fail("it is a directory, not a file") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw fail("it is not a regular file (a device or pipe?)") }
        let size = Int(info.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        // MAP_PRIVATE of a file that writers replace by rename, never in place, so it is never truncated under us.
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw fail("cannot map the file: \(reason())")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// The current `errno` in words ("No space left on device").
func reason() -> String { String(cString: strerror(errno)) }
