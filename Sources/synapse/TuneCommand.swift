import ArgumentParser
import Foundation
import Synapse

struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Search the OpenCL GEMM kernel's tile parameters on a device and store the fastest for later runs.",
        discussion: """
            Four matrix shapes are tuned: large, medium (a batch of rows), few rows (convolutions with few \
            filters) and few columns. Each \
            candidate is compiled, checked against the current defaults' result and timed; the winners are written \
            to the kernel cache directory ($SYNAPSE_CACHE_DIR, else $XDG_CACHE_HOME/synapse, else ~/.cache/synapse) \
            and used by every later run on this device, driver and kernel source.
            """
    )

    @Option(help: ArgumentHelp("opencl or opencl:N (see `synapse devices`).", valueName: "device"))
    var device: String = "opencl"

    @Option(parsing: .unconditional, help: ArgumentHelp("Random candidates tried per shape, besides the defaults.", valueName: "n"))
    var candidates: Int = 40

    func validate() throws {
        guard (0...100_000).contains(candidates) else { throw ValidationError("--candidates must be in 0...100000, got \(candidates)") }
    }

    func run() throws {
        guard let backend = try Devices.backend(DeviceChoice(parsing: device)) as? OpenCLBackend else {
            throw NNError.invalidSetting(name: "--device", message: "tune searches OpenCL kernel parameters; '\(device)' is the CPU backend, which uses OpenBLAS")
        }
        print("tuning GEMM on \(backend.name): \(backend.deviceDescription)")
        let tuner = GemmTuner(backend: backend, candidates: candidates)
        var current: GemmPlan.Shape?
        let plan = try tuner.tune { shape, trial in
            if shape != current {
                current = shape
                let (m, n, k) = tuner.problem(shape)
                print("\(shape.rawValue): m=\(m) n=\(n) k=\(k)")
            }
            let result = trial.gflops.map { String(format: "%8.1f GFLOP/s", $0) } ?? "       -        "
            print("  \(result)  \(trial.parameters)\(trial.note.isEmpty ? "" : "  \(trial.note)")")
        }
        let defaults = GemmPlan.defaults(for: backend.device)
        for shape in GemmPlan.Shape.allCases {
            print("\(shape.rawValue): \(plan[shape])\(plan[shape] == defaults[shape] ? " (the default)" : "")")
        }
        print("stored in \(try GemmTuning.store(plan, for: backend.device))")
    }
}
