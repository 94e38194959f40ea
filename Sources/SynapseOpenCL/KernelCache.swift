import Foundation

/// Compiled program binaries on disk, so that a program is compiled once per machine rather than once
/// per process. The key hashes everything that can change the binary: device, driver, platform version,
/// options, source. Each file carries its length and checksum, because some OpenCL implementations
/// abort the process on a damaged binary instead of returning an error.
/// Location: `$SYNAPSE_CACHE_DIR`, else `$XDG_CACHE_HOME/synapse`, else `~/.cache/synapse`.
struct KernelCache {
    let directory: URL

    static func standard() -> KernelCache {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["SYNAPSE_CACHE_DIR"], !dir.isEmpty {
            return KernelCache(directory: URL(fileURLWithPath: dir))
        }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return KernelCache(directory: base.appendingPathComponent("synapse"))
    }

    static func key(device: OpenCLDevice, options: String, source: String) -> String {
        // Two FNV-1a 64-bit hashes with different offsets make a 128-bit key.
        let text = Array([device.name, device.driverVersion, device.platformVersion, options, source]
            .joined(separator: "\u{0}").utf8)
        return String(format: "%016llx%016llx", fnv(text, 0xCBF2_9CE4_8422_2325), fnv(text, 0x8422_2325_CBF2_9CE4))
    }

    private static func fnv(_ bytes: [UInt8], _ offset: UInt64) -> UInt64 {
        bytes.reduce(offset) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    /// "SYNBIN01", the binary's length and its FNV-1a hash (little-endian UInt64s), then the binary.
    private static let magic = Array("SYNBIN01".utf8)
    private static let headerSize = 24

    /// The stored binary, or nil when there is none or it is damaged.
    func load(_ key: String) -> [UInt8]? {
        guard let data = try? Data(contentsOf: file(key)), data.count > Self.headerSize else { return nil }
        let bytes = [UInt8](data)
        let body = Array(bytes[Self.headerSize...])
        guard Array(bytes[0..<8]) == Self.magic, word(bytes, at: 8) == UInt64(body.count),
              word(bytes, at: 16) == Self.fnv(body, 0xCBF2_9CE4_8422_2325) else { return nil }
        return body
    }

    private func word(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    /// Writes atomically (temporary file, then rename), so a concurrent reader never sees half a binary.
    /// A cache that cannot be written is not an error: the program was built and works.
    func store(_ key: String, _ binary: [UInt8]) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let header = Self.magic + [UInt64(binary.count), Self.fnv(binary, 0xCBF2_9CE4_8422_2325)]
                .flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
            try Data(header + binary).write(to: file(key), options: .atomic)
        } catch {}
    }

    private func file(_ key: String) -> URL { directory.appendingPathComponent("\(key).bin") }
}
