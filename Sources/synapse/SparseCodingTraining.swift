import Foundation
import Synapse

/// `synapse train --model sparse-coding`: patches cut from photographs, then per epoch, batch after batch, FISTA
/// codes and a dictionary step. After every epoch the held-out patches' objective, reconstruction error and
/// sparsity are reported, the dictionary is saved (atomically; `filters` draws its atoms) and the curves are written.
/// The patches and their order come from Philox under the seed, so `--resume` continues exactly.
struct SparseCodingTraining {
    let settings: RunSettings
    let backend: Backend
    let checkpoint: String
    let curvesBase: String
    /// The checkpoint's metadata when resuming.
    let saved: [String: String]?

    /// FISTA steps per batch at most, and the relative change of the codes in a step below which they stop (at 1%
    /// the held-out error and sparsity were those of 100 steps to within 0.0001 and one code per patch).
    static let iterations = 100
    static let tolerance: Float = 1e-2
    static let tensorName = "dictionary.weight"

    /// What a checkpoint's `architecture` says for these settings: the patch size, atoms and lambda.
    static func architecture(_ settings: RunSettings) -> String {
        let size = settings.patchSize
        return "input [1, \(size), \(size)]\ndictionary: SparseCoder(\(size * size)->\(settings.widths[0]), lambda \(settings.lambda))"
    }

    /// The training patches and the held-out ones (a tenth as many, from another stream), cut from the photographs
    /// in `directory`, as rows of `[count, patchSize^2]`.
    static func patches(_ settings: RunSettings, directory: String) throws -> (images: Int, train: [Float], test: [Float]) {
        guard settings.widths.count == 1 else {
            throw NNError.invalidSetting(name: "--widths", message: "sparse coding has one dictionary: give its atoms, e.g. --widths 128")
        }
        let images = try Photographs.load(directory: directory), size = settings.patchSize
        return (images.count, try Photographs.patches(images, size: size, count: settings.patchCount, seed: settings.seed),
                try Photographs.patches(images, size: size, count: max(1, settings.patchCount / 10), seed: settings.seed &+ 1))
    }

    /// Loads the dictionary of a checkpoint whose metadata is `saved` into `coder`, after checking that the settings
    /// give its architecture (as `Checkpoint.resume` does for models). Returns the epochs it has trained.
    static func restore(_ coder: SparseCoder, from checkpoint: String, saved: [String: String], settings: RunSettings) throws -> Int {
        let architecture = Self.architecture(settings)
        guard saved["architecture"] == architecture else {
            throw NNError.checkpoint(path: checkpoint, message: "it is for a different architecture: its metadata says "
                + "'\(saved["architecture"].map { $0.replacingOccurrences(of: "\n", with: "; ") } ?? "nothing")', its settings "
                + "give '\(architecture.replacingOccurrences(of: "\n", with: "; "))'")
        }
        let file = try SafeTensors.read(from: checkpoint), shape = [coder.atoms, coder.features]
        guard let entry = file.tensors[tensorName], entry.shape == shape, entry.values.allSatisfy(\.isFinite) else {
            throw NNError.checkpoint(path: checkpoint, message: "it has no finite '\(tensorName)' of shape \(shape)")
        }
        // A checkpoint is written after an epoch, so it holds at least one.
        guard let text = saved["epoch"], let epoch = Int(text), (1...Checkpoint.maxEpochs).contains(epoch) else {
            throw NNError.checkpoint(path: checkpoint, message: "metadata field 'epoch' is missing or out of 1...\(Checkpoint.maxEpochs)")
        }
        try coder.dictionary.backend.upload(entry.values, to: coder.dictionary)
        return epoch
    }

    func run() throws {
        let (photographs, train, test) = try Self.patches(settings, directory: settings.data)
        let size = settings.patchSize, features = size * size, atoms = settings.widths[0]
        print("data: \(photographs) photographs in \(settings.data), \(settings.patchCount) patches of \(size)x\(size) "
              + "(and \(test.count / features) held out)")
        print("device: \(backend.name)  \(backend.deviceDescription)")
        let coder = try SparseCoder(atoms: atoms, features: features, lambda: settings.lambda, backend: backend, seed: settings.seed)
        let title = "sparse coding of \(settings.data), \(backend.name)"
        var epoch = 0
        var points: [CurvePoint] = []
        if let saved {
            epoch = try Self.restore(coder, from: checkpoint, saved: saved, settings: settings)
            points = resumedCurves(saved, checkpoint: checkpoint, epochs: epoch)
            if epoch >= settings.epochs {
                print("nothing to do: the checkpoint has already trained \(epoch) of \(settings.epochs) epochs")
                restoreCurves(points, epochs: epoch, metric: .meanSquaredError, base: curvesBase, title: title)
                return
            }
        }
        try AtomicFile.checkWritable(checkpoint, fail: { NNError.checkpoint(path: checkpoint, message: $0) })
        print("sparse coding: \(atoms) atoms of \(size)x\(size), lambda \(settings.lambda), FISTA \(Self.iterations) steps, "
              + "batch \(settings.batchSize), seed \(settings.seed)")
        let heldOut = try backend.tensor(test, shape: [test.count / features, features])
        let count = train.count / features
        while epoch < settings.epochs {
            epoch += 1
            var bar: ProgressBar?
            let start = Date()
            let lossSum = try coder.trainEpoch(train, epoch: epoch, seed: settings.seed, batchSize: settings.batchSize,
                                               iterations: Self.iterations, tolerance: Self.tolerance) { done, batches, total in
                if bar == nil { bar = ProgressBar(title: "epoch \(epoch)/\(settings.epochs)", total: batches, unit: "patch/s") }
                let seen = min(count, done * settings.batchSize), elapsed = Date().timeIntervalSince(start)
                bar?.update(done: done, loss: Float(total / Double(seen)), imagesPerSecond: Double(seen) / max(elapsed, 1e-9),
                            elapsed: elapsed)
            }
            let seconds = Date().timeIntervalSince(start)
            let (loss, nonZeros, error) = try Self.evaluate(coder, heldOut)
            bar?.finish(String(format: "epoch %d/%d  train objective %.4f  test objective %.4f  test mean squared error %.4f  "
                              + "%.1f of %d codes non-zero  %.1f s", epoch, settings.epochs, lossSum / Double(count), loss,
                              error, nonZeros, atoms, seconds))
            points.append(CurvePoint(epoch: epoch, trainLoss: lossSum / Double(count), testLoss: loss, metric: error,
                                     learningRate: 0, seconds: seconds,
                                     examplesPerSecond: Double(count) / max(seconds, 1e-9)))
            var metadata = settings.metadata
            metadata["format"] = Checkpoint.format
            metadata["architecture"] = Self.architecture(settings)
            metadata["epoch"] = String(epoch)
            metadata["curves"] = Curves.csv(points, metric: .meanSquaredError)
            let values = try backend.download(coder.dictionary)
            try SafeTensors(tensors: [Self.tensorName: .init(shape: [atoms, features], values: values)], metadata: metadata)
                .write(to: checkpoint)
            writeCurves(points, metric: .meanSquaredError, base: curvesBase, title: title)
        }
        print("checkpoint: \(checkpoint)  curves: \(curvesBase).csv, \(curvesBase).svg  (synapse filters draws the atoms)")
    }

    /// The objective per patch, the mean non-zero codes per patch, and the mean squared error per pixel of the
    /// reconstructions `a Phi` of the held-out patches.
    static func evaluate(_ coder: SparseCoder, _ patches: Tensor) throws -> (Double, Double, Double) {
        let codes = try coder.encode(patches, iterations: Self.iterations, tolerance: Self.tolerance)
        let (loss, squaredError, nonZeros) = try coder.objective(patches, codes: codes)
        let n = patches.batch
        return (loss / Double(n), nonZeros, 2 * squaredError / Double(n * coder.features))
    }
}
