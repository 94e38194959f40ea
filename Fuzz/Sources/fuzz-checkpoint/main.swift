// The checkpoint loader, for a tiny model (input [4], Dense(3) named fc1, seed 1) on the CPU backend.
//
// Each input is one checkpoint file (a crash file reproduces as-is with Checkpoint.resume):
// 1. Checkpoint.metadata(at:); the settings `synapse train` stores are read back with RunSettings and must
//    survive a round trip through RunSettings.metadata, and its curves (metadata "curves") are parsed, plotted
//    with Curves.svg and must survive a round trip through Curves.csv;
// 2. Checkpoint.resume into a fresh trainer: SGD(momentum 0.9), or Adam() when the metadata's optimizer starts
//    with "Adam". A refused file must leave the trainer as it was; a file whose metadata cannot be read must
//    be refused;
// 3. after a resume, one training epoch: one step on a fixed batch ([2, 4] inputs, labels 0 and 2), which must
//    not throw unless the loss is not finite (a file can hold extreme finite weights);
// 4. when the stepped state is finite and its counters in range, Checkpoint.save, and resuming that into
//    another fresh trainer must succeed and give back exactly what was saved.
import Foundation
import FuzzSupport
import Synapse

private let backend: CPUBackend = {
    do { return try CPUBackend(threads: 1) } catch { fatalError("fuzz setup: CPUBackend: \(error)") }
}()
private let inputPath = Scratch.path("input.safetensors")
private let savedPath = Scratch.path("saved.safetensors")
private let batch: [Float] = [0.5, -1, 2, 0.25, -0.5, 1.5, 0, 3]
private let batchLabels: [Int32] = [0, 2]
/// The fixed batch as the objective's data set.
private let data = try! Dataset(name: "batch", images: batch, labels: batchLabels, sampleShape: [4],
                                classNames: ["a", "b", "c"])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Scratch.write(fuzzInput(data, size), to: inputPath)

    let metadata = try? Checkpoint.metadata(at: inputPath)
    if let metadata {
        checkSettings(metadata)
        checkCurves(metadata)
    }
    let adam = metadata?["optimizer"]?.hasPrefix("Adam") ?? false

    // A fresh model and trainer per input (building them costs microseconds), so no state carries over.
    let trainer = makeTrainer(adam: adam)
    let before = state(of: trainer)
    do {
        try Checkpoint.resume(trainer, from: inputPath)
    } catch {
        fuzzCheck(state(of: trainer) == before, "a refused checkpoint changed the trainer (\(brief(error)))")
        return 0
    }
    fuzzCheck(metadata != nil, "resume accepts a file whose metadata Checkpoint.metadata(at:) refuses")

    // A whole epoch, not a bare step: checkpoints lie between epochs, and resume checks the step count against them.
    do {
        _ = try trainer.trainEpoch()
    } catch NNError.nonFiniteLoss {
        return 0
    } catch {
        fuzzCheck(false, "a training epoch after resuming failed: \(brief(error))")
    }

    // A checkpoint saved from a trainer must resume; not when the step made the state non-finite (a file can
    // hold extreme finite values) or pushed a counter past what a checkpoint may claim (a file can hold the limit).
    let stepped = state(of: trainer)
    let adamSteps = (trainer.optimizer as? Adam)?.stepCount ?? 0
    guard stepped.values.values.allSatisfy({ $0.allSatisfy(\.isFinite) }), trainer.iteration <= Checkpoint.maxIterations,
          trainer.epoch <= Checkpoint.maxEpochs,
          adamSteps <= Adam.maxStepCount else { return 0 }
    do {
        try Checkpoint.save(trainer, to: savedPath, metadata: metadata ?? [:])
    } catch {
        fuzzCheck(false, "saving a resumed trainer failed: \(brief(error))")
    }
    let restored = makeTrainer(adam: adam)
    do {
        try Checkpoint.resume(restored, from: savedPath)
    } catch {
        fuzzCheck(false, "a checkpoint written by Checkpoint.save does not resume: \(brief(error))")
    }
    fuzzCheck(state(of: restored) == stepped, "resuming a saved checkpoint gave a different state")
    return 0
}

private func makeTrainer(adam: Bool) -> Trainer {
    do {
        let model = try Sequential(inputShape: [4], layers: [Dense(3, name: "fc1")], backend: backend, seed: 1)
        let optimizer: Optimizer = adam ? try Adam() : try SGD(momentum: 0.9)
        return try Trainer(model: model, objective: Classification(train: data), optimizer: optimizer, learningRate: 0.01,
                           batchSize: 2)
    } catch {
        fatalError("fuzz setup: cannot build the model: \(error)")
    }
}

/// Everything a resume may change, values as bit patterns (so that NaN compares equal to itself).
private struct TrainerState: Equatable {
    var values: [String: [Float]]
    var epoch: Int
    var iteration: Int
    var scalars: [String: String]
    var counters: [String: UInt64]

    static func == (a: TrainerState, b: TrainerState) -> Bool {
        a.epoch == b.epoch && a.iteration == b.iteration && a.scalars == b.scalars && a.counters == b.counters
            && a.values.keys.sorted() == b.values.keys.sorted()
            && a.values.allSatisfy { sameBits($0.value, b.values[$0.key]!) }
    }
}

private func state(of trainer: Trainer) -> TrainerState {
    let model = trainer.model
    do {
        var values: [String: [Float]] = [:]
        for p in model.parameters { values[p.name] = try backend.download(p.value) }
        for (key, view) in try trainer.optimizer.state(for: model.arena) {
            values["optimizer." + key] = try backend.download(view)
        }
        return TrainerState(values: values, epoch: trainer.epoch, iteration: trainer.iteration,
                            scalars: trainer.optimizer.scalarState, counters: model.randomCounters)
    } catch {
        fatalError("fuzz setup: cannot read the trainer's state: \(error)")
    }
}

/// `synapse train`'s settings, read back from the metadata, must write out and read in again unchanged.
private func checkSettings(_ metadata: [String: String]) {
    guard let settings = try? RunSettings(metadata: metadata, path: inputPath) else { return }
    do {
        let again = try RunSettings(metadata: settings.metadata, path: inputPath)
        fuzzCheck(again == settings, "RunSettings changed in a round trip through its metadata")
    } catch {
        fuzzCheck(false, "RunSettings read from a checkpoint do not read back from their own metadata: \(brief(error))")
    }
}

/// The training curves `synapse train` keeps in the metadata: what parses must plot, and survive a CSV round trip.
private func checkCurves(_ metadata: [String: String]) {
    let points = Curves.parse(metadata["curves"] ?? "", through: Checkpoint.maxEpochs)
    let svg = Curves.svg(points, title: "")
    fuzzCheck(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"), "Curves.svg did not produce an SVG document")
    fuzzCheck(Curves.parse(Curves.csv(points), through: Checkpoint.maxEpochs) == points,
              "curves changed in a round trip through Curves.csv")
}
