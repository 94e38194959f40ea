import Foundation
import Synapse
import XCTest

/// Device selection, the OpenCL runtime's own failures, and the kernel binary cache.
final class RuntimeTests: SynapseTestCase {
    /// CI sets SYNAPSE_REQUIRE_OPENCL=1 so that a machine whose OpenCL platform vanished fails loudly
    /// instead of passing on the CPU backend alone.
    func testOpenCLIsPresentWhenRequired() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["SYNAPSE_REQUIRE_OPENCL"] == "1",
                          "SYNAPSE_REQUIRE_OPENCL is not set")
        XCTAssertFalse(OpenCLDevice.all().isEmpty,
                       "SYNAPSE_REQUIRE_OPENCL=1 but OpenCLDevice.all() is empty: no OpenCL platform or device found")
    }

    func testDeviceChoiceParsing() throws {
        XCTAssertEqual(try DeviceChoice(parsing: "auto"), .auto)
        XCTAssertEqual(try DeviceChoice(parsing: "cpu"), .cpu)
        XCTAssertEqual(try DeviceChoice(parsing: "opencl"), .opencl(index: nil))
        XCTAssertEqual(try DeviceChoice(parsing: "opencl:0"), .opencl(index: 0))
        assertThrows(.unknownDevice, mentioning: ["gpu9"], "DeviceChoice(parsing: \"gpu9\")") {
            _ = try DeviceChoice(parsing: "gpu9")
        }
    }

    func testMissingOpenCLDeviceIsUnknown() {
        assertThrows(.unknownDevice, mentioning: ["opencl:99", "cpu"], "Devices.backend(.opencl(index: 99))") {
            _ = try Devices.backend(.opencl(index: 99))
        }
    }

    func testBrokenKernelReportsTheCompilerLog() throws {
        try forEachOpenCLBackend { backend in
            assertThrows(.kernelBuildFailed, mentioning: ["broken_on_purpose", "undeclared_synapse_value"],
                         "\(backend.name) buildProgram of a broken source") {
                try backend.buildProgram(name: "broken_on_purpose",
                                         source: "__kernel void f(__global float* x) { x[0] = undeclared_synapse_value; }")
            }
        }
    }

    /// Two limits, whichever is lower: the device's largest allocation, and the element count kernels can index
    /// with 32-bit ints. A device that allows 8 GiB or more per buffer reaches the second first.
    func testAllocationBeyondTheDeviceLimitIsOutOfMemory() throws {
        try forEachOpenCLBackend { backend in
            let deviceLimit = min(backend.device.maxAllocationBytes, backend.device.globalMemoryBytes)
            let count = deviceLimit / DType.float32.byteSize + 1
            if count <= OpenCLBackend.maxElements {
                assertThrows(.outOfMemory, mentioning: [backend.name, "\(count * 4) bytes"],
                             "\(backend.name) allocate(\(count))") {
                    _ = try backend.tensor(shape: [count])
                }
            }
            let tooMany = OpenCLBackend.maxElements + 1
            assertThrows(.invalidArgument, mentioning: ["\(tooMany) elements", "32-bit"],
                         "\(backend.name) allocate(\(tooMany))") {
                _ = try backend.tensor(shape: [tooMany])
            }
        }
    }

    /// With SYNAPSE_CACHE_DIR set, a build leaves a binary there; a second backend loads it instead of
    /// compiling again (the file is not rewritten), and kernels loaded from the cache compute correctly.
    func testKernelCacheStoresAndReloadsBinaries() throws {
        let device = try openCLDevices()[0]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let previous = ProcessInfo.processInfo.environment["SYNAPSE_CACHE_DIR"]
        setenv("SYNAPSE_CACHE_DIR", directory.path, 1)
        defer {
            if let previous { setenv("SYNAPSE_CACHE_DIR", previous, 1) } else { unsetenv("SYNAPSE_CACHE_DIR") }
        }
        func binaries() throws -> [String: Int] {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".bin") }
            return try Dictionary(uniqueKeysWithValues: names.map { name in
                let attributes = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
                return (name, (attributes[.systemFileNumber] as? NSNumber)?.intValue ?? -1)
            })
        }
        let source = "__kernel void cache_probe(__global float* x) { x[get_global_id(0)] *= 2.0f; }"
        let x: [Float] = [1, -2, 3.5], y: [Float] = [0.25, 4, -1]
        let expected = (0..<3).map { Double(y[$0]) + 2 * Double(x[$0]) }

        let first = try OpenCLBackend(device: device)
        try first.buildProgram(name: "cache_probe", source: source)
        XCTAssertEqual(try binaries().count, 1, "one .bin file in \(directory.path) after building one program")
        let yFirst = try first.tensor(y)
        try first.axpy(alpha: 2, x: try first.tensor(x), y: yFirst)
        assertClose(try first.download(yFirst), expected, OpCall(first, "axpy", "count=3, compiled into a fresh cache"))
        let stored = try binaries()
        XCTAssertEqual(stored.count, 2, "a .bin file per program built (cache_probe and elementwise)")

        let second = try OpenCLBackend(device: device)
        try second.buildProgram(name: "cache_probe", source: source)
        let ySecond = try second.tensor(y)
        try second.axpy(alpha: 2, x: try second.tensor(x), y: ySecond)
        assertClose(try second.download(ySecond), expected, OpCall(second, "axpy", "count=3, loaded from the cache"))
        XCTAssertEqual(try binaries(), stored, "the second backend rewrote cache files instead of loading them")

        // A damaged file (here cut in half) is detected and rebuilt; some drivers would abort on it.
        for name in stored.keys {
            let file = directory.appendingPathComponent(name)
            let bytes = try Data(contentsOf: file)
            try bytes.prefix(bytes.count / 2).write(to: file)
        }
        let third = try OpenCLBackend(device: device)
        let yThird = try third.tensor(y)
        try third.axpy(alpha: 2, x: try third.tensor(x), y: yThird)
        assertClose(try third.download(yThird), expected, OpCall(third, "axpy", "count=3, cache file damaged"))
    }
}
