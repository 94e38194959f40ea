import COpenCL
import Foundation
import SynapseCore

/// One OpenCL device as the platform reports it. Sendable: its id is a process-wide handle that OpenCL lets
/// every thread use, and the rest is values.
public struct OpenCLDevice: @unchecked Sendable {
    /// The device type the platform reports; the raw value names it in device listings.
    public enum Kind: String, Sendable { case gpu = "GPU", cpu = "CPU", accelerator = "accelerator", other = "other" }

    /// Position in `OpenCLDevice.all()`; `opencl:N` names this device.
    public let index: Int
    /// The name of the platform (the OpenCL implementation) that reports the device.
    public let platformName: String
    /// The platform's version string; for PoCL it names the LLVM it compiles with.
    public let platformVersion: String
    /// The device's name as its driver reports it.
    public let name: String
    /// The device vendor's name.
    public let vendor: String
    /// The device's type, which picks the default GEMM tiles and the `auto` choice.
    public let kind: Kind
    /// Parallel compute units: cores on a CPU, multiprocessors on a GPU.
    public let computeUnits: Int
    /// The highest clock frequency, in MHz.
    public let maxClockMHz: Int
    /// Global (device) memory, in bytes.
    public let globalMemoryBytes: Int
    /// The largest single buffer the device allows, in bytes.
    public let maxAllocationBytes: Int
    /// Local memory, shared by the work-items of a work-group, in bytes.
    public let localMemoryBytes: Int
    /// The most work-items one work-group may hold.
    public let maxWorkGroupSize: Int
    /// The float vector width the device prefers (`CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT`): 16 for PoCL on a
    /// processor with AVX-512, 8 with AVX2; 1 on most GPUs. It picks the default GEMM tiles of CPU devices.
    public let preferredFloatVectorWidth: Int
    /// The OpenCL C version the device's compiler accepts, as the device reports it.
    public let openCLCVersion: String
    /// The driver's version; a change makes cached kernels and GEMM tunings stale.
    public let driverVersion: String
    let id: cl_device_id

    /// Every device of every platform, in platform order. Empty when no ICD is installed or none
    /// reports a device; never throws, because "no OpenCL" is a normal state to fall back from.
    /// Discovered once per process, whichever thread asks first: ICD loaders are not safe to initialise
    /// from two threads at once.
    public static func all() -> [OpenCLDevice] { discovered }

    private static let discovered = discover()

    private static func discover() -> [OpenCLDevice] {
        var platformCount: cl_uint = 0
        guard clGetPlatformIDs(0, nil, &platformCount) == CL_SUCCESS, platformCount > 0 else { return [] }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        guard clGetPlatformIDs(platformCount, &platforms, nil) == CL_SUCCESS else { return [] }
        var devices: [OpenCLDevice] = []
        for case let platform? in platforms {
            let platformName = platformString(platform, cl_platform_info(CL_PLATFORM_NAME))
            let platformVersion = platformString(platform, cl_platform_info(CL_PLATFORM_VERSION))
            var count: cl_uint = 0
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count) == CL_SUCCESS,
                  count > 0 else { continue }
            var ids = [cl_device_id?](repeating: nil, count: Int(count))
            guard clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, nil) == CL_SUCCESS
            else { continue }
            for case let id? in ids {
                devices.append(OpenCLDevice(index: devices.count, platformName: platformName,
                                            platformVersion: platformVersion, id: id))
            }
        }
        return devices
    }

    /// The device `auto` selection picks: the first GPU, else the first device of any kind.
    public static func preferred(among devices: [OpenCLDevice]) -> OpenCLDevice? {
        devices.first { $0.kind == .gpu } ?? devices.first
    }

    private init(index: Int, platformName: String, platformVersion: String, id: cl_device_id) {
        self.index = index
        self.platformName = platformName
        self.platformVersion = platformVersion
        self.id = id
        name = Self.string(id, cl_device_info(CL_DEVICE_NAME))
        vendor = Self.string(id, cl_device_info(CL_DEVICE_VENDOR))
        driverVersion = Self.string(id, cl_device_info(CL_DRIVER_VERSION))
        openCLCVersion = Self.string(id, cl_device_info(CL_DEVICE_OPENCL_C_VERSION))
        let type: cl_device_type = Self.value(id, cl_device_info(CL_DEVICE_TYPE))
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 { kind = .gpu }
        else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 { kind = .cpu }
        else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { kind = .accelerator }
        else { kind = .other }
        computeUnits = Int(Self.value(id, cl_device_info(CL_DEVICE_MAX_COMPUTE_UNITS)) as cl_uint)
        maxClockMHz = Int(Self.value(id, cl_device_info(CL_DEVICE_MAX_CLOCK_FREQUENCY)) as cl_uint)
        globalMemoryBytes = Int(Self.value(id, cl_device_info(CL_DEVICE_GLOBAL_MEM_SIZE)) as cl_ulong)
        maxAllocationBytes = Int(Self.value(id, cl_device_info(CL_DEVICE_MAX_MEM_ALLOC_SIZE)) as cl_ulong)
        localMemoryBytes = Int(Self.value(id, cl_device_info(CL_DEVICE_LOCAL_MEM_SIZE)) as cl_ulong)
        maxWorkGroupSize = Self.value(id, cl_device_info(CL_DEVICE_MAX_WORK_GROUP_SIZE)) as Int
        preferredFloatVectorWidth = Int(Self.value(id, cl_device_info(CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT)) as cl_uint)
    }

    private static func value<T: BinaryInteger>(_ id: cl_device_id, _ param: cl_device_info) -> T {
        var result: T = 0
        _ = withUnsafeMutableBytes(of: &result) { clGetDeviceInfo(id, param, $0.count, $0.baseAddress, nil) }
        return result
    }

    private static func string(_ id: cl_device_id, _ param: cl_device_info) -> String {
        infoString { clGetDeviceInfo(id, param, $0, $1, $2) }
    }

    private static func platformString(_ id: cl_platform_id, _ param: cl_platform_info) -> String {
        infoString { clGetPlatformInfo(id, param, $0, $1, $2) }
    }

    /// A string from an OpenCL info query: asks for the size, then the bytes.
    private static func infoString(_ query: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int)
        -> String {
        var size = 0
        guard query(0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        _ = query(size, &bytes, nil)
        return text(bytes)
    }
}

/// The text of a NUL-terminated string an OpenCL query filled in, trimmed.
func text(_ bytes: [CChar]) -> String {
    String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Throws `SynapseError.openCL` unless `code` is CL_SUCCESS.
@inline(__always)
func check(_ code: cl_int, _ call: @autoclosure () -> String) throws {
    if code != CL_SUCCESS { throw SynapseError.openCL(call: call(), code: code) }
}
