import Foundation

/// Compiled program binaries on disk, so that a program is compiled once per machine rather than once
/// per process. The key hashes everything that can change the binary: device, driver, options, source.
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

    static func key(device: String, driver: String, options: String, source: String) -> String {
        // Two FNV-1a 64-bit hashes with different offsets make a 128-bit key; collisions would need
        // both to collide for the same device and driver.
        let text = Array("\(device)\u{0}\(driver)\u{0}\(options)\u{0}\(source)".utf8)
        func fnv(_ offset: UInt64) -> UInt64 {
            text.reduce(offset) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
        }
        return String(format: "%016llx%016llx", fnv(0xCBF2_9CE4_8422_2325), fnv(0x84222325CBF29CE4))
    }

    func load(_ key: String) -> [UInt8]? {
        guard let data = try? Data(contentsOf: file(key)), !data.isEmpty else { return nil }
        return [UInt8](data)
    }

    /// Writes atomically (temporary file, then rename), so a concurrent reader never sees half a binary.
    /// A cache that cannot be written is not an error: the program was built and works.
    func store(_ key: String, _ binary: [UInt8]) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(binary).write(to: file(key), options: .atomic)
        } catch {}
    }

    private func file(_ key: String) -> URL { directory.appendingPathComponent("\(key).bin") }
}
