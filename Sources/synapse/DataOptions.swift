import ArgumentParser
import Foundation
import Synapse

/// Where the training and test sets come from, shared by `train` and `evaluate`. Each option is nil unless
/// typed, so that a resumed run can tell a flag the user gave from a default.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A directory of IDX files (MNIST, Fashion-MNIST; plain or .gz) or of CIFAR-10 binary files (default \(Dataset.defaultDirectory)); for char-lstm a UTF-8 text file, plain or .gz, or a directory of them (default \(TextCorpus.defaultPath)).",
                               valueName: "path"))
    var data: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Use only the first N training images (default 0: all).", valueName: "n"))
    var trainLimit: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Use only the first N test images (default 0: all).", valueName: "n"))
    var testLimit: Int?

    /// `path` made absolute and standardised, so that a checkpoint names its data wherever it is resumed from and
    /// two spellings of one place compare equal.
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// The training and test sets in `directory`, cut to the limits (0: all), normalised per channel with
    /// `normalization` (when nil, the one `pixels` makes from the training set), and the normalisation used.
    static func load(directory: String, trainLimit: Int, testLimit: Int, normalization given: Normalization?,
                     pixels: PixelScaling = .standardized) throws
        -> (train: Dataset, test: Dataset, normalization: Normalization) {
        for (flag, limit) in [("--train-limit", trainLimit), ("--test-limit", testLimit)]
        where !RunSettings.limitRange.contains(limit) {
            throw NNError.invalidSetting(name: flag, message: "must be in \(RunSettings.limitRange), got \(limit)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            let hint = directory == Dataset.defaultDirectory ? " (install it with: sudo apt-get install dataset-fashion-mnist)" : ""
            throw NNError.dataFile(path: directory, message: "no such directory\(hint)")
        }
        guard isDirectory.boolValue else {
            throw NNError.dataFile(path: directory, message: "is not a directory; --data names the directory that holds the data set's files")
        }
        let isCIFAR = FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("test_batch.bin"))
        var (train, test) = isCIFAR ? try Dataset.loadCIFAR10(directory: directory) : try Dataset.loadIDX(directory: directory)
        if trainLimit > 0 { train = try train.subset(first: trainLimit) }
        if testLimit > 0 { test = try test.subset(first: testLimit) }
        let normalization = try given ?? pixels.normalization(fitting: train)
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

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads of the CPU backend (default: every core).", valueName: "n"))
    var threads: Int?

    /// `localRank`: see `Devices.backend`.
    func backend(localRank: Int = 0) throws -> Backend {
        if let threads, !(1...CPUBackend.maximumThreads).contains(threads) {
            throw NNError.invalidSetting(name: "--threads", message: "must be in 1...\(CPUBackend.maximumThreads), got \(threads)")
        }
        warnIfMoreThanCores(threads: threads)
        return try Devices.backend(device.map(DeviceChoice.init(parsing:)) ?? DeviceChoice.fromEnvironment(), threads: threads,
                                   localRank: localRank)
    }
}

/// Says so on standard error (where it cannot spoil `--json` output) when `threads` is more than the machine's
/// cores: the threads beyond them take turns on the cores, and every op shared out waits for its slowest part, so a
/// step runs slower than on one thread per core.
func warnIfMoreThanCores(threads: Int?) {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    guard let threads, threads > cores else { return }
    let warning = "warning: --threads \(threads) is more than this machine's \(cores) cores; threads beyond the cores take "
        + "turns on them and slow every step (leave --threads out for one per core)\n"
    FileHandle.standardError.write(Data(warning.utf8))
}
