import Foundation
import Synapse
import XCTest

// Regression tests for what a hostile or damaged checkpoint, a bad path or a bad setting used to do: crash,
// hang, or load silently. Each test names the defect it guards.

final class ReliabilityTests: SynapseTestCase {
    static func net(_ backend: Backend) throws -> Sequential {
        try Sequential(inputShape: [4], layers: [Dense(6, name: "fc1"), ActivationLayer(.relu), Dense(3, name: "fc2")],
                       backend: backend, seed: 5)
    }

    static let data = try! TrainingTests.noise(count: 32, shape: [4], classes: 3, seed: 21)

    /// A fresh `net` on the CPU backend, classifying `data` with `optimizer`.
    static func trainer(_ optimizer: Optimizer, schedule: LearningRateSchedule = .fixed) throws -> Trainer {
        try Trainer(model: net(try CPUBackend()), objective: Classification(train: data), optimizer: optimizer,
                    learningRate: 0.1, schedule: schedule, batchSize: 8)
    }

    /// A checkpoint after one epoch of `optimizer`, and the path it is at.
    func savedCheckpoint(_ optimizer: Optimizer) throws -> (SafeTensors, String) {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("run.safetensors").path
        let trainer = try Self.trainer(optimizer)
        try trainer.fit(epochs: 1, checkpoint: path)
        return (try SafeTensors.read(from: path), path)
    }

    /// Writes `file` changed by `edit` over `path`, then resumes a fresh trainer from it.
    func resume(_ file: SafeTensors, at path: String, optimizer: Optimizer, _ edit: (inout SafeTensors) -> Void) throws -> Trainer {
        var edited = file
        edit(&edited)
        try edited.write(to: path)
        let trainer = try Self.trainer(optimizer)
        try Checkpoint.resume(trainer, from: path)
        return trainer
    }

    /// Defect 1: an `iteration` of Int.max crashed the next step with an overflow; now every integer the
    /// checkpoint holds is range-checked, and the trainer is left as it was.
    func testOutOfRangeCountsInACheckpointAreRefused() throws {
        let (file, path) = try savedCheckpoint(try SGD(momentum: 0.9))
        for (key, value) in [("iteration", "\(Int.max)"), ("iteration", "\(Int.max - 1)"), ("iteration", "-1"),
                             ("iteration", "\(Checkpoint.maxIterations + 1)"), ("epoch", "\(Int.max)"),
                             ("epoch", "\(Checkpoint.maxEpochs + 1)"), ("epoch", "1.5")] {
            assertNNError(contains: [path, "'\(key)'"]) {
                _ = try resume(file, at: path, optimizer: try SGD(momentum: 0.9)) { $0.metadata[key] = value }
            }
        }
        let trainer = try resume(file, at: path, optimizer: try SGD(momentum: 0.9)) { _ in }
        XCTAssertEqual(trainer.iteration, 4)
        XCTAssertEqual(trainer.currentLearningRate, 0.1)
    }

    /// A step count in range that does not follow from the epoch would silently shift the learning-rate
    /// schedule; it is refused, naming what it should be.
    func testAStepCountThatDisagreesWithTheEpochIsRefused() throws {
        let (file, path) = try savedCheckpoint(try SGD(momentum: 0.9))
        XCTAssertEqual(file.metadata["iteration"], "4")
        for (epoch, iteration) in [("1", "5"), ("1", "\(Checkpoint.maxIterations)"), ("2", "4"), ("0", "4")] {
            assertNNError(contains: [path, "'iteration' is \(iteration)", "take \(4 * Int(epoch)!) steps"]) {
                _ = try resume(file, at: path, optimizer: try SGD(momentum: 0.9)) {
                    $0.metadata["epoch"] = epoch
                    $0.metadata["iteration"] = iteration
                }
            }
        }
    }

    /// Defect 1, Adam's half: its step count is restored with a range check, at resume rather than at the
    /// first step.
    func testOutOfRangeAdamStepCountIsRefused() throws {
        let (file, path) = try savedCheckpoint(try Adam())
        XCTAssertEqual(file.metadata["optimizer_state.adam.step"], "4")
        for value in ["\(Int.max)", "\(Int.max - 1)", "-2", "four"] {
            assertNNError(contains: ["optimizer_state.adam.step", value]) {
                _ = try resume(file, at: path, optimizer: try Adam()) { $0.metadata["optimizer_state.adam.step"] = value }
            }
        }
    }

    /// Defect 7: NaN or infinite weights or optimizer state load no more; the error names the tensor.
    func testNonFiniteTensorsAreRefusedByName() throws {
        let (file, path) = try savedCheckpoint(try SGD(momentum: 0.9))
        for (tensor, value) in [("fc1.weight", Float.nan), ("fc2.bias", Float.infinity),
                                ("optimizer.fc1.bias.momentum", -Float.infinity)] {
            var damaged = file
            damaged.tensors[tensor]!.values[1] = value
            try damaged.write(to: path)
            assertNNError(contains: [path, "'\(tensor)'", "NaN or infinite"]) {
                let trainer = try Self.trainer(try SGD(momentum: 0.9))
                try Checkpoint.resume(trainer, from: path)
            }
            guard !tensor.hasPrefix("optimizer.") else { continue }
            assertNNError(contains: ["'\(tensor)'", "NaN or infinite"]) {
                try Checkpoint.loadWeights(into: Self.net(try CPUBackend()), from: path)
            }
            var weightsOnly = SafeTensors(tensors: damaged.tensors.filter { !$0.key.hasPrefix("optimizer.") })
            weightsOnly.metadata = [:]
            try weightsOnly.write(to: path)
            assertNNError(contains: ["'\(tensor)'", "NaN or infinite"]) {
                try Checkpoint.importWeights(into: Self.net(try CPUBackend()), from: path)
            }
        }
    }

    /// Defect 7: a normalisation that would divide by (nearly) zero, or that does not parse, is refused; a
    /// checkpoint without one gives nil, so that callers say so rather than refit silently.
    func testStoredNormalizationIsChecked() throws {
        XCTAssertNil(try Normalization.stored(in: [:], path: "x"))
        XCTAssertEqual(try Normalization.stored(in: ["normalization.mean": "0.5", "normalization.std": "0.25"], path: "x"),
                       try Normalization(mean: [0.5], std: [0.25]))
        for (mean, std, needle) in [("0.5", "1e-45", "std"), ("0.5", "0", "std"), ("0.5", "nan", "std"),
                                    ("inf", "1", "mean"), ("0.5,abc", "1,1", "'abc'"), ("0.5", "1,1", "per channel"),
                                    ("", "1", "''")] {
            assertNNError(contains: ["checkpoint x", needle]) {
                _ = try Normalization.stored(in: ["normalization.mean": mean, "normalization.std": std], path: "x")
            }
        }
        assertNNError(contains: ["'normalization.std' is missing"]) {
            _ = try Normalization.stored(in: ["normalization.mean": "0.5"], path: "x")
        }
        XCTAssertThrowsError(try Normalization(mean: [0], std: [Float.leastNonzeroMagnitude]))
        let nearlyConstant = try Dataset(name: "flat", images: [0.5, 0.5, 0.5, 0.5 + 1e-7], labels: [0, 0, 0, 0],
                                         sampleShape: [1, 1, 1], classNames: ["a"])
        XCTAssertEqual(Normalization.fit(nearlyConstant).std, [1], "a channel that varies by less than minimumStd is only centred")
    }

    /// Defect 7: the checkpoint path is checked before the first epoch, so a path that cannot be written
    /// fails in seconds; and the messages say what is wrong in words, not in Foundation's error codes.
    func testCheckpointPathIsCheckedBeforeTraining() throws {
        let directory = try TrainingTests.temporaryDirectory()
        let cases = [(directory.appendingPathComponent("missing/run.safetensors").path, "does not exist"),
                     (directory.path, "is a directory"), ("/dev/null", "not a regular file"), ("", "empty")]
        for (path, needle) in cases {
            let trainer = try Self.trainer(try SGD())
            assertNNError(contains: [needle]) { try trainer.fit(epochs: 1, checkpoint: path) }
            XCTAssertEqual(trainer.iteration, 0, "\(path): refused before the first step")
        }
        for (path, needle) in [(directory.path, "is a directory"), ("/dev/null", "not a regular file"),
                               (directory.appendingPathComponent("none.safetensors").path, "no such file")] {
            do {
                _ = try SafeTensors.read(from: path)
                XCTFail("\(path) was read")
            } catch {
                XCTAssertTrue("\(error)".contains(needle), "\(error)")
                XCTAssertFalse("\(error)".contains("NSCocoaErrorDomain") || "\(error)".contains("Error Domain"), "\(error)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [], "no probe file left behind")
    }

    /// Defect 7: the temporary file of a save killed before its rename is removed by the next save to the
    /// same path once its process is gone; a live process's temporary file is left alone.
    func testStaleTemporaryFilesOfKilledSavesAreRemoved() throws {
        let directory = try TrainingTests.temporaryDirectory()
        let path = directory.appendingPathComponent("run.safetensors").path
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let stale = "run.safetensors.tmp-\(finished.processIdentifier)-12345"
        let live = "run.safetensors.tmp-\(getppid())-678"
        let unrelated = "other.safetensors.tmp-\(finished.processIdentifier)-9"
        for name in [stale, live, unrelated] {
            XCTAssertTrue(FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: Data([1])))
        }
        try SafeTensors(tensors: ["x": .init(shape: [1], values: [1])]).write(to: path)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)),
                       ["run.safetensors", live, unrelated])
    }

    /// Defect 7: what `epochDone` records (the CLI writes the curves there) comes after the epoch's
    /// checkpoint is saved, so curves never show an epoch the checkpoint lacks.
    func testEpochDoneSeesTheSavedCheckpoint() throws {
        let path = try TrainingTests.temporaryDirectory().appendingPathComponent("run.safetensors").path
        let trainer = try Self.trainer(try SGD())
        var seen: [String] = []
        try trainer.fit(epochs: 2, checkpoint: path, metadata: { report, _ in
            ["note": "epoch \(report.epoch)"]
        }, epochDone: { report, _ in
            let saved = try Checkpoint.metadata(at: path)
            XCTAssertEqual(saved["epoch"], String(report.epoch))
            seen.append(saved["note"] ?? "")
        })
        XCTAssertEqual(seen, ["epoch 1", "epoch 2"])
    }

    /// Defect 7: settings that cannot be right are refused where they are made.
    func testImpossibleSettingsAreRefused() throws {
        assertNNError(contains: ["--schedule", "minimum rate 0.5", "above the base rate 0.1"]) {
            _ = try Self.trainer(try SGD(), schedule: .cosine(maxIterations: 10, minimum: 0.5))
        }
        for threads in [0, CPUBackend.maximumThreads + 1] {
            XCTAssertThrowsError(try CPUBackend(threads: threads)) { error in
                XCTAssertTrue("\(error)".contains("needs 1...1024 threads, got \(threads)"), "\(error)")
            }
        }
        var settings = RunSettings()
        settings.epochs = 0
        assertNNError(contains: ["--epochs"]) { try settings.validate() }
        let stored = RunSettings().metadata
        for (key, value, needle) in [("batch_size", "0", "--batch-size"), ("epochs", "\(Int.max)", "--epochs"),
                                     ("momentum", "1.5", "--momentum"), ("lr", "nan", "--lr"),
                                     ("train_limit", "-4", "--train-limit"), ("seed", "-1", "settings.seed"),
                                     ("data", "", "--data")] {
            assertNNError(contains: ["checkpoint c", needle]) {
                _ = try RunSettings(metadata: stored.merging(["settings." + key: value]) { $1 }, path: "c")
            }
        }
        XCTAssertEqual(try RunSettings(metadata: stored, path: "c"), RunSettings())
    }

    /// Defect 8: a fresh classifier's loss is about ln(classes), as with PyTorch's initialisation: the
    /// output layer starts small whatever the scale of the features below it.
    func testAFreshClassifierStartsNearLogOfTheClassCount() throws {
        let data = try TrainingTests.noise(count: 64, shape: [1, 28, 28], seed: 31)
        var normalized = data
        try Normalization.fit(data).apply(to: &normalized)
        for kind in [ModelKind.mlp, .lenet, .alexnetSmall] {
            let model = try kind.build(inputShape: [1, 28, 28], classes: 10, backend: try CPUBackend(), seed: 1)
            let loss = try Classification.report(model: model, on: normalized, batchSize: 64).loss
            XCTAssertEqual(loss, log(10), accuracy: 0.15, "\(kind.rawValue)")
        }
    }

    /// Found by fuzz-idx: an image file of zero rows (and no images) loaded as a data set of shape
    /// [1, 0, N], which Dataset's own initialiser refuses; the reader now says so.
    func testIDXImagesWithoutPixelsAreRefused() throws {
        let directory = try TrainingTests.temporaryDirectory()
        let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 0]
        for prefix in ["train", "t10k"] {
            try Data(images).write(to: directory.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        assertNNError(contains: ["train-images-idx3-ubyte", "0x131072 pixels"]) { _ = try Dataset.loadIDX(directory: directory.path) }
    }
}
