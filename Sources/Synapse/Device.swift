@_exported import SynapseCore
@_exported import SynapseCPU
@_exported import SynapseOpenCL
@_exported import SynapseNN
import Foundation
import Logging

/// Which device to compute on: `auto` (the best available), `cpu`, `opencl` (the preferred OpenCL
/// device) or `opencl:N` (device N as `synapse devices` lists them).
public enum DeviceChoice: Equatable, CustomStringConvertible {
    case auto
    case cpu
    case opencl(index: Int?)

    /// The environment variable that overrides the default choice.
    public static let environmentVariable = "SYNAPSE_DEVICE"

    public init(parsing text: String) throws {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        switch value {
        case "auto", "": self = .auto
        case "cpu": self = .cpu
        case "opencl": self = .opencl(index: nil)
        default:
            guard value.hasPrefix("opencl:"), let index = Int(value.dropFirst("opencl:".count)), index >= 0 else {
                throw SynapseError.unknownDevice(name: text, available: ["auto", "cpu", "opencl", "opencl:N"])
            }
            self = .opencl(index: index)
        }
    }

    /// `SYNAPSE_DEVICE` if set, else `auto`; a value it cannot parse is named with the variable.
    public static func fromEnvironment() throws -> DeviceChoice {
        let value = ProcessInfo.processInfo.environment[environmentVariable] ?? "auto"
        do {
            return try DeviceChoice(parsing: value)
        } catch SynapseError.unknownDevice(_, let available) {
            throw SynapseError.unknownDevice(name: "\(environmentVariable)=\(value)", available: available)
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .cpu: return "cpu"
        case .opencl(nil): return "opencl"
        case .opencl(let index?): return "opencl:\(index)"
        }
    }
}

public enum Devices {
    static let logger = Logger(label: "synapse.device")

    /// The backend for `choice`. `auto` prefers an OpenCL GPU or accelerator, then the CPU backend, logging
    /// one line when it does not use OpenCL. An OpenCL device of type CPU (PoCL, Intel's CPU runtime) is not
    /// picked by `auto`: it runs on the same cores as the CPU backend, which trains LeNet about 8x faster
    /// (5,100-8,500 vs 610-700 images/s in `synapse bench model` with PoCL 3.1); ask for it with `opencl` or `opencl:N`.
    /// An explicit OpenCL choice that cannot be met is an error naming the devices that do exist.
    /// `threads` sets the CPU backend's thread count (default: every core). `localRank`, a data-parallel process's
    /// rank among those on its machine, spreads the processes over the machine's GPUs: `auto` and `opencl` without
    /// an index take device `localRank` modulo their number.
    public static func backend(_ choice: DeviceChoice, threads: Int? = nil, localRank: Int = 0) throws -> Backend {
        switch choice {
        case .cpu:
            return try CPUBackend(threads: threads)
        case .auto:
            let devices = OpenCLDevice.all()
            let gpus = devices.filter { $0.kind == .gpu || $0.kind == .accelerator }
            guard let device = gpus.isEmpty ? nil : gpus[localRank % gpus.count] else {
                logger.notice(devices.isEmpty
                    ? "no OpenCL device found (no platform, or the ICD loader found none); using the CPU backend"
                    : "no OpenCL GPU; using the CPU backend, faster than OpenCL on the CPU (choose that with opencl:N)")
                return try CPUBackend(threads: threads)
            }
            do {
                return try OpenCLBackend(device: device)
            } catch {
                logger.warning("could not open opencl:\(device.index) (\(device.name)): \(error); using the CPU backend")
                return try CPUBackend(threads: threads)
            }
        case .opencl(let index):
            let devices = OpenCLDevice.all()
            guard !devices.isEmpty else { throw SynapseError.noOpenCLPlatform }
            let available = ["cpu"] + devices.map { "opencl:\($0.index) (\($0.name))" }
            let preferred = OpenCLDevice.preferred(among: devices)
            let alike = devices.filter { $0.kind == preferred?.kind }
            let device = index.map { i in devices.first { $0.index == i } } ?? (alike.isEmpty ? preferred : alike[localRank % alike.count])
            guard let device else {
                throw SynapseError.unknownDevice(name: choice.description, available: available)
            }
            return try OpenCLBackend(device: device)
        }
    }

    /// The CPU backend and one backend per OpenCL device: what the parity tests compare.
    public static func allBackends() throws -> [Backend] {
        [try CPUBackend()] + (try OpenCLDevice.all().map { try OpenCLBackend(device: $0) })
    }
}
