import ArgumentParser
import Foundation
import Synapse

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Kernel microbenchmarks and per-layer timings of a model, on any device.",
        discussion: """
            Times are medians over repeated runs, each waited for with synchronize(). Every benchmark runs once \
            before timing, so kernel compilation (or loading from the cache) is excluded; its total is reported \
            separately. Compare devices with ratios measured in one run: these figures move with machine load.
            """,
        subcommands: [BenchKernelsCommand.self, BenchModelCommand.self]
    )
}

/// Options shared by the bench subcommands.
struct BenchOptions: ParsableArguments {
    @OptionGroup var deviceOption: DeviceOption

    @Option(parsing: .unconditional, help: ArgumentHelp("Timed runs per measurement (the median is reported).", valueName: "n"))
    var reps: Int = 5

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard (1...10_000).contains(reps) else { throw ValidationError("--reps must be in 1...10000, got \(reps)") }
    }
}

/// Median seconds of `reps` runs of `body`, after one untimed run (which builds any kernel it needs)
/// unless `untimedFirst` is false; every run is waited for.
func medianSeconds(_ backend: Backend, reps: Int, untimedFirst: Bool = true, _ body: () throws -> Void) throws -> Double {
    if untimedFirst { try body() }
    try backend.synchronize()
    var times: [Double] = []
    for _ in 0..<reps {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        try backend.synchronize()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

/// Seconds spent compiling or loading kernels on `backend` so far (zero for the CPU backend).
func kernelBuildSeconds(_ backend: Backend) -> Double {
    (backend as? OpenCLBackend)?.kernelBuildSeconds ?? 0
}

/// Floats in [-1, 1) from a fixed sequence: benchmark inputs, never used for results.
func benchmarkValues(_ count: Int, seed: UInt32 = 1) -> [Float] {
    var state = seed &* 747_796_405 &+ 2_891_336_453
    return (0..<count).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return Float(state >> 8) / Float(1 << 23) - 1
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `text` padded on the right (or the left, for numbers) to `width` characters.
func column(_ text: String, _ width: Int, right: Bool = false) -> String {
    let pad = String(repeating: " ", count: max(0, width - text.count))
    return right ? pad + text : text + pad
}
