/// Every failure Synapse reports. Each case names the operation, buffer or device at fault so that
/// the message alone tells the user what to fix.
public enum SynapseError: Error, Equatable, CustomStringConvertible {
    /// An argument is out of its domain (negative size, probability outside [0, 1), ...).
    case invalidArgument(op: String, message: String)
    /// A buffer is too small, or of the wrong element type, for the shape an operation was given.
    case shapeMismatch(op: String, message: String)
    /// A buffer was passed to a backend that did not allocate it.
    case foreignBuffer(op: String, buffer: String, expected: String)
    /// An allocation larger than the device can hold.
    case outOfMemory(device: String, requestedBytes: Int, limitBytes: Int)
    /// An OpenCL program failed to compile; `log` is the compiler's build log.
    case kernelBuildFailed(program: String, device: String, options: String, log: String)
    /// An OpenCL call returned an error code.
    case openCL(call: String, code: Int32)
    /// A device name that matches no available device.
    case unknownDevice(name: String, available: [String])
    /// An OpenCL device was asked for, but the ICD loader found no platform at all.
    case noOpenCLPlatform
    /// A library a backend needs could not be loaded; `message` says why.
    case libraryUnavailable(name: String, message: String)

    /// The message shown to the user: the operation, buffer or device at fault and what went wrong.
    public var description: String {
        switch self {
        case let .invalidArgument(op, message):
            return "\(op): invalid argument: \(message)"
        case let .shapeMismatch(op, message):
            return "\(op): shape mismatch: \(message)"
        case let .foreignBuffer(op, buffer, expected):
            return "\(op): buffer '\(buffer)' was not allocated by \(expected)"
        case let .outOfMemory(device, requested, limit):
            return "out of memory on \(device): requested \(requested) bytes, the device allows \(limit)"
        case let .kernelBuildFailed(program, device, options, log):
            return "failed to build OpenCL program '\(program)' for \(device) with options '\(options)':\n\(log)"
        case let .openCL(call, code):
            return "\(call) failed with \(openCLErrorName(code)) (\(code))"
        case let .unknownDevice(name, available):
            return "unknown device '\(name)'; available: \(available.joined(separator: ", "))"
        case let .libraryUnavailable(name, message):
            return "\(name) is unavailable: \(message)"
        case .noOpenCLPlatform:
            return "no OpenCL platform was found: the ICD loader lists none (install a driver such as "
                + "pocl-opencl-icd or the GPU vendor's; `clinfo` shows what it sees), or use --device cpu"
        }
    }
}

/// The symbolic name of an OpenCL status code, for error messages.
public func openCLErrorName(_ code: Int32) -> String {
    let names: [Int32: String] = [
        -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -3: "CL_COMPILER_NOT_AVAILABLE",
        -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
        -11: "CL_BUILD_PROGRAM_FAILURE", -30: "CL_INVALID_VALUE", -33: "CL_INVALID_DEVICE",
        -34: "CL_INVALID_CONTEXT", -36: "CL_INVALID_COMMAND_QUEUE", -38: "CL_INVALID_MEM_OBJECT",
        -42: "CL_INVALID_BINARY", -43: "CL_INVALID_BUILD_OPTIONS", -44: "CL_INVALID_PROGRAM",
        -45: "CL_INVALID_PROGRAM_EXECUTABLE", -46: "CL_INVALID_KERNEL_NAME", -48: "CL_INVALID_KERNEL",
        -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE",
        -52: "CL_INVALID_KERNEL_ARGS", -54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE",
        -61: "CL_INVALID_BUFFER_SIZE", -63: "CL_INVALID_GLOBAL_WORK_SIZE", -1001: "CL_PLATFORM_NOT_FOUND_KHR",
    ]
    return names[code] ?? "OpenCL error"
}
