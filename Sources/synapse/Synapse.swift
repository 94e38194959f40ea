import ArgumentParser
import Foundation
import Synapse

@main
struct SynapseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synapse",
        abstract: "Synapse: deep learning on OpenCL GPUs, with an OpenBLAS CPU fallback.",
        subcommands: [TrainCommand.self, EvaluateCommand.self, SampleCommand.self, FiltersCommand.self, Word2VecCommand.self,
                      SimilarCommand.self, AnalogyCommand.self, RelatedCommand.self, EvaluateWordsCommand.self, CorpusCommand.self,
                      BenchCommand.self, TuneCommand.self, DevicesCommand.self]
    )

    /// Runs the command; before an error is told, what was printed is flushed, so that where standard output and
    /// standard error go to one log (a pipe, a file) the error comes after it.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            fflush(nil)
            exit(withError: error)
        }
    }
}

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List every OpenCL device and the CPU backend, and show which one `auto` picks."
    )

    func run() throws {
        let devices = OpenCLDevice.all()
        if devices.isEmpty {
            print("OpenCL: no platform or device found (is an ICD such as pocl-opencl-icd installed?)")
        }
        var platform = ""
        for device in devices {
            if device.platformName != platform {
                platform = device.platformName
                print("OpenCL platform: \(platform)")
            }
            print("  opencl:\(device.index)  \(device.name)")
            print("      type \(device.kind.rawValue), \(device.computeUnits) compute units, "
                  + "\(gib(device.globalMemoryBytes)) global memory (max buffer \(gib(device.maxAllocationBytes))), "
                  + "\(device.localMemoryBytes / 1024) KiB local memory")
            print("      \(device.openCLCVersion), driver \(device.driverVersion), vendor \(device.vendor)")
        }
        let cpu = try CPUBackend()
        print("CPU backend: cpu  \(cpu.threads) threads, \(cpu.blasDescription), loops in \(CPUBackend.vectorInstructions)")
        let choice = try DeviceChoice.fromEnvironment()
        let chosen = try Devices.backend(choice)
        let source = choice == .auto ? "auto" : "\(DeviceChoice.environmentVariable)=\(choice)"
        print("Chosen (\(source)): \(chosen.name)  \(chosen.deviceDescription)")
    }

    private func gib(_ bytes: Int) -> String {
        String(format: "%.1f GiB", Double(bytes) / 1_073_741_824)
    }
}
