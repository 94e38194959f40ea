import ArgumentParser
import Foundation
import Synapse
import SynapseDistributed

struct BenchModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Training throughput of a model and each layer's forward and backward time (as `caffe time`).",
        discussion: """
            A step is what `synapse train` does per batch: forward, softmax cross-entropy, backward, and an SGD \
            update (momentum 0.9, weight decay 5e-4), on one random batch kept on the device, reading the loss \
            as often as training does. \
            After --warmup steps, three blocks of --steps steps are timed and the median block gives images per \
            second; the per-layer times are medians of --reps runs of each layer alone, so their sum can differ \
            from the step time.
            """
    )

    @OptionGroup var options: BenchOptions

    @Option(help: ArgumentHelp("mlp, lenet, alexnet (227x227x3, 1000 classes), alexnet-small, char-lstm (96 characters), or "
                               + "the pretraining of a layer-wise model: autoencoder, rbm, stacked-autoencoder, dbn.",
                               valueName: "name"))
    var model: String = "lenet"

    @Option(help: ArgumentHelp("Layer-wise models: hidden widths (default as synapse train).", valueName: "w1,w2,..."))
    var widths: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Layer-wise models: the layer whose pretraining is timed (default: the top one).", valueName: "k"))
    var pretrainLayer: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Autoencoders: the sparsity penalty's weight (default 0: none).", valueName: "beta"))
    var sparsityWeight: Float = 0

    @Option(parsing: .unconditional, help: ArgumentHelp("Autoencoders: the masking fraction (default 0).", valueName: "p"))
    var corruption: Float = 0

    @Flag(help: "RBMs: persistent contrastive divergence.")
    var persistent = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Images, or sequences, per batch.", valueName: "n"))
    var batch: Int = 64

    @Option(parsing: .unconditional, help: ArgumentHelp("char-lstm: LSTM units per layer.", valueName: "n"))
    var hidden: Int = 128

    @Option(parsing: .unconditional, help: ArgumentHelp("char-lstm: LSTM layers.", valueName: "n"))
    var layers: Int = 2

    @Option(parsing: .unconditional, help: ArgumentHelp("char-lstm: characters per sequence.", valueName: "n"))
    var sequenceLength: Int = 50

    @Option(parsing: .unconditional, help: ArgumentHelp("Training steps per timed block (three blocks are timed).", valueName: "n"))
    var steps: Int = 20

    @Option(parsing: .unconditional, help: ArgumentHelp("Untimed training steps first (kernel builds, allocations, caches).", valueName: "n"))
    var warmup: Int = 3

    @Flag(help: "Under mpirun: all-reduce the gradients in buckets beside backward, not in one piece after it.")
    var overlapAllreduce = false

    @Flag(help: "Time the whole step only, not each layer.")
    var noLayers = false

    func validate() throws {
        for (flag, value, range) in [("--batch", batch, 1...65_536), ("--steps", steps, 1...1_000_000),
                                     ("--warmup", warmup, 0...1_000_000), ("--hidden", hidden, RunSettings.sizeRange),
                                     ("--layers", layers, 1...64), ("--sequence-length", sequenceLength, 1...10_000)]
        where !range.contains(value) {
            throw ValidationError("\(flag) must be in \(range), got \(value)")
        }
    }

    func run() throws {
        let kind = try ModelKind(parsing: model)
        guard kind != .sparseCoding else {
            throw NNError.invalidSetting(name: "--model", message: "bench model times models trained by steps; sparse "
                + "coding solves for its codes and dictionary (Benchmarks/compare/classic.sh times its epochs)")
        }
        // Under mpirun every rank steps on its share of the batch and the gradients are all-reduced, as in training.
        let world = MPIWorld.launchedByMPI ? try MPIWorld.joined() : nil
        if let world {
            if world.rank != 0 { dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO) }
            guard !kind.readsText, !kind.isLayerwise else {
                throw NNError.invalidSetting(name: "mpirun", message: "bench model times data-parallel steps of the image classifiers only")
            }
            guard batch % world.size == 0 else {
                throw NNError.invalidSetting(name: "--batch", message: "\(batch) is the global batch, which the \(world.size) ranks share: it must be a multiple of \(world.size)")
            }
        }
        let backend = try options.deviceOption.backend(localRank: world?.localRank ?? 0)
        let bench = kind.readsText ? try textBench(backend)
            : kind.isLayerwise ? try pretrainingBench(kind, backend) : try imageBench(kind, backend, rows: batch / (world?.size ?? 1))
        bench.trainer.overlapAllReduce = overlapAllreduce
        bench.trainer.group = world
        var steps = 0
        func step() throws {
            let loss = try bench.trainer.step(forward: bench.forward)
            steps += 1
            // As in training, the loss is read every `lossInterval` steps.
            if steps % bench.trainer.lossInterval == 0 { _ = try backend.readScalar(loss) }
        }

        for _ in 0..<warmup { try step() }
        let allocationsBefore = Buffer.allocationCount
        // The median of three blocks of --steps steps, as Benchmarks/compare/pytorch_train.py times PyTorch.
        let seconds = try medianSeconds(backend, reps: 3, untimedFirst: false) {
            for _ in 0..<self.steps { try step() }
        }
        let allocations = Buffer.allocationCount - allocationsBefore
        let network = bench.trainer.model as! Sequential
        // A pretraining step's loss is not a classifier's, which the per-layer profile assumes.
        let layers = noLayers || kind.isLayerwise || world != nil ? [] : try profileLayers(network, input: bench.input, targets: bench.targets)
        let memory = network.memoryBytes
        let examplesPerSecond = Double(bench.examplesPerStep * (world?.size ?? 1) * self.steps) / seconds

        let report = ModelReport(device: backend.name, description: backend.deviceDescription, model: kind.rawValue,
                                 batch: batch, threads: (backend as? CPUBackend)?.threads, steps: self.steps,
                                 stepSeconds: seconds / Double(self.steps),
                                 imagesPerSecond: kind.readsText ? nil : examplesPerSecond,
                                 tokensPerSecond: kind.readsText ? examplesPerSecond : nil,
                                 kernelBuildSeconds: kernelBuildSeconds(backend), allocationsPerStep:
                                     Double(allocations) / Double(3 * self.steps),
                                 parameterBytes: memory.parameters, activationBytes: memory.activations, layers: layers)
        if options.json {
            try printJSON(report)
        } else {
            report.printTable()
        }
        if let world {
            let floats = network.arena.gradients.count
            print(String(format: "data-parallel: %d ranks of %d examples; all-reduce of %d floats (%.1f MB), waited for: %.2f ms a step",
                         world.size, batch / world.size, floats, Double(floats * 4) / 1e6,
                         1000 * (bench.trainer.allReduceSecondsPerStep ?? 0)))
            try world.finish()
        }
    }

    /// A trainer, the forward pass of one step on data kept on the device, and that data.
    private struct Bench {
        let trainer: Trainer
        let forward: () throws -> Tensor
        let input: Tensor
        let targets: Tensor
        let examplesPerStep: Int
    }

    /// Refuses a benchmark batch of more than `count` values (1 GiB of floats): it lives in host memory too, so it is
    /// bounded before anything is made. `what` says what the batch holds.
    private func checkBatchValues(_ count: Int, _ what: String) throws {
        let most = 1 << 28
        guard count <= most else {
            throw NNError.invalidSetting(name: "--batch", message: "\(batch) \(what) are more than the \(most) values a benchmark batch may hold")
        }
    }

    /// The objective's data is the one batch, which stays on the device: only the step is timed.
    /// `rows`: this process's share of the batch.
    private func imageBench(_ kind: ModelKind, _ backend: Backend, rows batch: Int) throws -> Bench {
        let (sampleShape, classes) = kind == .alexnet ? ([3, 227, 227], 1000) : ([1, 28, 28], 10)
        let inputShape = [batch] + sampleShape
        try checkBatchValues(inputShape.reduce(1, *), "images of \(describe(sampleShape))")
        let network = try kind.build(inputShape: sampleShape, classes: classes, backend: backend, seed: 1)
        let values = benchmarkValues(inputShape.reduce(1, *)), labelValues = (0..<batch).map { Int32($0 % classes) }
        let objective = Classification(train: try Dataset(name: "benchmark", images: values, labels: labelValues,
                                                          sampleShape: sampleShape,
                                                          classNames: (0..<classes).map(String.init)))
        let trainer = try Trainer(model: network, objective: objective, optimizer: try SGD(momentum: 0.9, weightDecay: 5e-4),
                                  learningRate: 0.01, batchSize: batch)
        let input = try backend.tensor(values, shape: inputShape), labels = try backend.tensor(int32: labelValues)
        return Bench(trainer: trainer, forward: { try objective.loss(input: input, labels: labels, model: network) },
                     input: input, targets: labels, examplesPerStep: batch)
    }

    /// The pretraining of one layer of a layer-wise model (the layers below frozen) on one batch of random pixels in
    /// [0, 1], uploaded every step as in training; the optimizer is the one `synapse train` uses for the model.
    private func pretrainingBench(_ kind: ModelKind, _ backend: Backend) throws -> Bench {
        var settings = RunSettings()
        settings.useDefaults(for: kind)
        if let widths { settings.widths = try TrainCommand.parseWidths(widths) }
        settings.sparsityWeight = sparsityWeight
        settings.corruption = corruption
        settings.persistent = persistent
        try settings.validate()
        let stack = try kind.stack(settings)!
        let layer = pretrainLayer ?? stack.widths.count
        let sampleShape = [1, 28, 28]
        let network = try stack.pretrainingModel(layer: layer, inputShape: sampleShape, backend: backend, seed: 1)
        let pixels = benchmarkValues(batch * 784).map { ($0 + 1) / 2 }
        let data = try TensorDataset(name: "benchmark", reconstructing: kind == .rbm ? pixels.map { $0.rounded() } : pixels,
                                     shape: sampleShape)
        let objective = try stack.pretrainingObjective(layer: layer, model: network, train: data, test: nil, batchSize: batch)
        let rate = kind.isUnsupervised ? settings.learningRate! : settings.pretrainLearningRate
        let trainer = try Trainer(model: network, objective: objective, optimizer: try makeOptimizer(settings),
                                  learningRate: rate, batchSize: batch)
        let only = try objective.batches(epoch: 1, seed: 1, batchSize: batch)[0]
        let input = try backend.tensor(pixels, shape: [batch] + sampleShape)
        return Bench(trainer: trainer, forward: { try objective.forward(only, model: network) }, input: input, targets: input,
                     examplesPerStep: batch)
    }

    /// A character model over 96 characters on random text, as Benchmarks/compare/pytorch_lstm.py times PyTorch's.
    private func textBench(_ backend: Backend) throws -> Bench {
        let characters = 96
        // Twice the batch's text, and four sequences at least: the objective holds 40% of it out as validation text,
        // which must be longer than a sequence.
        let length = max(batch, 2) * (sequenceLength + 1) * 2
        try checkBatchValues(length, "sequences of \(sequenceLength) characters")
        let network = try Sequential(inputShape: [sequenceLength],
                                     layers: Models.charLSTM(vocabulary: characters, hidden: hidden, layers: layers),
                                     backend: backend, seed: 1)
        let tokens = benchmarkValues(length).map { Int32(($0 + 1) * 47.99) % Int32(characters) }
        let vocabulary = try CharacterVocabulary((0..<characters).map { Unicode.Scalar(UInt8(32 + $0)) })
        let objective = try LanguageModelling(corpus: TextCorpus(name: "random", vocabulary: vocabulary, tokens: tokens),
                                              steps: sequenceLength, validationFraction: 0.4)
        let trainer = try Trainer(model: network, objective: objective, optimizer: try SGD(momentum: 0.9),
                                  learningRate: 0.01, batchSize: batch)
        let count = batch * sequenceLength
        let input = try backend.tensor(int32: Array(tokens[..<count]), shape: [batch, sequenceLength])
        let targets = try backend.tensor(int32: Array(tokens[1...count]))
        return Bench(trainer: trainer, forward: { try objective.loss(input: input, targets: targets, model: network) },
                     input: input, targets: targets, examplesPerStep: count)
    }

    /// Each layer's forward in order, then each backward in reverse, timed alone, each with a call of its own.
    private func profileLayers(_ network: Sequential, input: Tensor, targets: Tensor) throws -> [LayerTime] {
        let backend = network.backend
        let calls = network.layers.map { _ in LayerCall(backend: backend) }
        var x = input
        var forward: [Double] = []
        for (layer, call) in zip(network.layers, calls) {
            // As in training, the first layer computes no gradient for the data.
            call.prepare(inputs: [x], training: true, needsInputGradients: [call !== calls[0]])
            var y = x
            forward.append(try medianSeconds(backend, reps: options.reps) { y = try layer.forward(call)[0] })
            x = y
        }
        let loss = SoftmaxCrossEntropy(backend: backend)
        // A sequence model's logits are a row per character.
        _ = try loss.forward(x.reshaped([x.count / x.shape.last!, x.shape.last!]), targets: targets)
        var gradient = try loss.backward().reshaped(x.shape)
        var backward: [Double] = []
        for (layer, call) in zip(network.layers, calls).reversed() {
            var dx: Tensor?
            backward.append(try medianSeconds(backend, reps: options.reps) {
                dx = try layer.backward(call, outputGradients: [gradient])[0]
            })
            gradient = dx ?? gradient
        }
        backward.reverse()
        return network.layers.indices.map { i in
            LayerTime(name: network.layers[i].name, summary: network.layers[i].summary,
                      output: network.layerShapes[i], forwardMs: forward[i] * 1e3, backwardMs: backward[i] * 1e3)
        }
    }
}

struct LayerTime: Encodable {
    let name: String
    let summary: String
    let output: [Int]
    let forwardMs: Double
    let backwardMs: Double
}

struct ModelReport: Encodable {
    let device: String
    let description: String
    let model: String
    let batch: Int
    let threads: Int?
    let steps: Int
    let stepSeconds: Double
    let imagesPerSecond: Double?
    let tokensPerSecond: Double?
    let kernelBuildSeconds: Double
    /// Device allocations per training step after the warm-up steps.
    let allocationsPerStep: Double
    /// Parameter values and gradients (the arena), and the layers' activation buffers, in bytes.
    let parameterBytes: Int
    let activationBytes: Int
    let layers: [LayerTime]

    func printTable() {
        print("\(model), batch \(batch), on \(device): \(description)")
        if !layers.isEmpty {
            let names = max(10, layers.map { $0.name.count + 2 }.max()!), summaries = max(40, layers.map { $0.summary.count + 2 }.max()!)
            print(column("layer", names) + column("", summaries) + column("output", 16)
                  + column("forward ms", 12, right: true) + column("backward ms", 13, right: true))
            for l in layers {
                print(column(l.name, names) + column(l.summary, summaries) + column(describe(l.output), 16)
                      + column(String(format: "%.3f", l.forwardMs), 12, right: true)
                      + column(String(format: "%.3f", l.backwardMs), 13, right: true))
            }
            let forward = layers.reduce(0) { $0 + $1.forwardMs }, backward = layers.reduce(0) { $0 + $1.backwardMs }
            print(column("total", names + summaries + 16) + column(String(format: "%.3f", forward), 12, right: true)
                  + column(String(format: "%.3f", backward), 13, right: true))
        }
        let rate = imagesPerSecond.map { String(format: "%.1f images/s", $0) }
            ?? String(format: "%.0f characters/s", tokensPerSecond ?? 0)
        print(String(format: "training step: %.2f ms, %@ (median of 3 blocks of %d steps)", stepSeconds * 1e3, rate, steps))
        print(String(format: "kernel build (compile or cache load), excluded above: %.2f s", kernelBuildSeconds))
        print(String(format: "memory: parameter arena %.1f MiB (values and gradients), activations %.1f MiB; "
                     + "%.0f device allocations per step after warm-up", Double(parameterBytes) / 1_048_576,
                     Double(activationBytes) / 1_048_576, allocationsPerStep))
    }
}
