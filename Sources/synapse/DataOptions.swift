import ArgumentParser
import Foundation
import Synapse

/// Where the training and test sets come from, shared by `train` and `evaluate`.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A directory of IDX files (MNIST, Fashion-MNIST; plain or .gz) or of CIFAR-10 binary files.",
                               valueName: "dir"))
    var data: String = Dataset.defaultDirectory

    @Option(help: ArgumentHelp("Use only the first N training images (0: all).", valueName: "n"))
    var trainLimit: Int = 0

    @Option(help: ArgumentHelp("Use only the first N test images (0: all).", valueName: "n"))
    var testLimit: Int = 0

    /// The training and test sets, normalised per channel with `normalization` (fitted to the training set
    /// when nil) and the normalisation used.
    func load(normalization given: Normalization? = nil) throws -> (train: Dataset, test: Dataset, normalization: Normalization) {
        guard trainLimit >= 0, testLimit >= 0 else {
            throw NNError.invalidSetting(name: trainLimit < 0 ? "--train-limit" : "--test-limit", message: "must not be negative")
        }
        guard FileManager.default.fileExists(atPath: data) else {
            let hint = data == Dataset.defaultDirectory ? " (install it with: sudo apt-get install dataset-fashion-mnist)" : ""
            throw NNError.dataFile(path: data, message: "no such directory\(hint)")
        }
        let isCIFAR = FileManager.default.fileExists(atPath: (data as NSString).appendingPathComponent("test_batch.bin"))
        var (train, test) = isCIFAR ? try Dataset.loadCIFAR10(directory: data) : try Dataset.loadIDX(directory: data)
        if trainLimit > 0 { train = try train.subset(first: trainLimit) }
        if testLimit > 0 { test = try test.subset(first: testLimit) }
        let normalization = given ?? Normalization.fit(train)
        try normalization.apply(to: &train)
        try normalization.apply(to: &test)
        return (train, test, normalization)
    }
}

/// `--device`, defaulting to `$SYNAPSE_DEVICE` and then `auto`.
struct DeviceOption: ParsableArguments {
    @Option(help: ArgumentHelp("auto, cpu, opencl or opencl:N (see `synapse devices`); default $SYNAPSE_DEVICE, else auto.",
                               valueName: "device"))
    var device: String?

    @Option(help: ArgumentHelp("Threads of the CPU backend (default: every core).", valueName: "n"))
    var threads: Int?

    func backend() throws -> Backend {
        if let threads, threads < 1 {
            throw NNError.invalidSetting(name: "--threads", message: "must be at least 1, got \(threads)")
        }
        return try Devices.backend(device.map(DeviceChoice.init(parsing:)) ?? DeviceChoice.fromEnvironment(), threads: threads)
    }
}

extension Normalization {
    /// As checkpoint metadata: comma-separated per-channel values.
    var metadata: [String: String] {
        ["normalization.mean": mean.map { "\($0)" }.joined(separator: ","),
         "normalization.std": std.map { "\($0)" }.joined(separator: ",")]
    }

    init?(metadata: [String: String]) {
        func floats(_ key: String) -> [Float]? {
            metadata[key].flatMap { text in
                let values = text.split(separator: ",").compactMap { Float($0) }
                return values.isEmpty ? nil : values
            }
        }
        guard let mean = floats("normalization.mean"), let std = floats("normalization.std"),
              let normalization = try? Normalization(mean: mean, std: std) else { return nil }
        self = normalization
    }
}
