import SynapseCore

/// Training checkpoints as safetensors files. Parameters are stored under their `state_dict` names
/// (`conv1.weight`, ...) in PyTorch's layouts, optimizer state under `optimizer.<parameter>.<slot>`, and
/// everything else a resumed run needs (epoch, step, seed, dropout stream positions, optimizer scalars)
/// in the header's metadata. Files are written atomically, so an interrupted save keeps the previous one.
public enum Checkpoint {
    /// The value of the metadata key `format` that marks a Synapse checkpoint; loading refuses any other.
    public static let format = "synapse-checkpoint-1"
    static let optimizerPrefix = "optimizer."
    static let randomPrefix = "rng."
    static let optimizerScalarPrefix = "optimizer_state."
    static let objectivePrefix = "objective."

    /// Saves the trainer's model, optimizer and position; `metadata` adds the caller's own keys (settings).
    public static func save(_ trainer: Trainer, to path: String, metadata extra: [String: String] = [:]) throws {
        let model = trainer.model, backend = model.backend
        var tensors: [String: SafeTensors.Entry] = [:]
        for p in model.parameters {
            tensors[p.name] = SafeTensors.Entry(shape: p.shape, values: try backend.download(p.value))
        }
        for (key, view) in try trainer.optimizer.state(for: model.arena) {
            tensors[optimizerPrefix + key] = SafeTensors.Entry(shape: view.shape, values: try backend.download(view))
        }
        if let objective = trainer.objective as? StatefulObjective {
            for (key, view) in try objective.state(for: model) {
                tensors[objectivePrefix + key] = SafeTensors.Entry(shape: view.shape, values: try backend.download(view))
            }
        }
        var metadata = extra
        metadata["format"] = format
        metadata["architecture"] = model.architecture
        metadata["seed"] = String(model.seed)
        metadata["epoch"] = String(trainer.epoch)
        metadata["iteration"] = String(trainer.iteration)
        metadata["optimizer"] = trainer.optimizer.summary
        for (key, value) in trainer.optimizer.scalarState { metadata[optimizerScalarPrefix + key] = value }
        for (layer, counter) in model.randomCounters { metadata[randomPrefix + layer] = String(counter) }
        try SafeTensors(tensors: tensors, metadata: metadata).write(to: path)
    }

    /// Restores a trainer saved by `save`: weights, optimizer state, epoch, step and dropout streams.
    /// The trainer's model must have the checkpoint's architecture and seed.
    public static func resume(_ trainer: Trainer, from path: String) throws {
        let file = try SafeTensors.read(from: path)
        let model = trainer.model
        try checkSynapseFile(file, model: model, path: path)
        guard file.metadata["seed"] == String(model.seed) else {
            throw NNError.checkpoint(path: path, message:
                "it was trained with seed \(file.metadata["seed"] ?? "?"), this model was built with seed \(model.seed); resume with the same seed")
        }
        func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int {
            guard let text = file.metadata[key], let value = Int(text) else {
                throw NNError.checkpoint(path: path, message: "metadata field '\(key)' is missing or not an integer")
            }
            guard range.contains(value) else {
                throw NNError.checkpoint(path: path, message: "metadata field '\(key)' is \(value), outside \(range)")
            }
            return value
        }
        let epoch = try integer("epoch", in: 0...maxEpochs), iteration = try integer("iteration", in: 0...maxIterations)
        // Checkpoints are saved between epochs, so the step count follows from the epoch; the schedule reads it.
        let perEpoch = try trainer.objective.batches(epoch: 1, seed: model.seed, batchSize: trainer.batchSize).count
        guard iteration == epoch * perEpoch else {
            throw NNError.checkpoint(path: path, message: "metadata field 'iteration' is \(iteration), but \(epoch) epochs of "
                + "\(perEpoch) batches take \(epoch * perEpoch) steps: the file was altered, or the data or batch size differ")
        }
        var counters: [String: UInt64] = [:]
        for layer in model.randomCounters.keys {
            guard let value = file.metadata[randomPrefix + layer].flatMap(UInt64.init) else {
                throw NNError.checkpoint(path: path, message: "metadata field '\(randomPrefix + layer)' is missing or not a count")
            }
            counters[layer] = value
        }
        guard file.metadata["optimizer"] == trainer.optimizer.summary else {
            throw NNError.checkpoint(path: path, message:
                "it was saved with \(file.metadata["optimizer"] ?? "no optimizer"), not \(trainer.optimizer.summary)")
        }
        // Everything is checked before anything is uploaded, so a refused checkpoint leaves the trainer as it was.
        let state = try trainer.optimizer.state(for: model.arena)
        for (key, view) in state.sorted(by: { $0.key < $1.key }) {
            guard let entry = file.tensors[optimizerPrefix + key], entry.values.count == view.count else {
                throw NNError.checkpoint(path: path, message:
                    "optimizer state '\(optimizerPrefix + key)' is missing or does not hold \(view.count) values")
            }
            try checkFinite(entry, name: optimizerPrefix + key, path: path)
        }
        let objectiveState = try (trainer.objective as? StatefulObjective)?.state(for: model) ?? [:]
        for (key, view) in objectiveState.sorted(by: { $0.key < $1.key }) {
            guard let entry = file.tensors[objectivePrefix + key], entry.values.count == view.count else {
                throw NNError.checkpoint(path: path, message:
                    "objective state '\(objectivePrefix + key)' is missing or does not hold \(view.count) values")
            }
            try checkFinite(entry, name: objectivePrefix + key, path: path)
        }
        try checkParameters(file, of: model, path: path)
        var scalars: [String: String] = [:]
        for (key, value) in file.metadata where key.hasPrefix(optimizerScalarPrefix) {
            scalars[String(key.dropFirst(optimizerScalarPrefix.count))] = value
        }
        do {
            try trainer.optimizer.restore(scalarState: scalars)
        } catch NNError.invalidSetting(let name, let message) {
            throw NNError.checkpoint(path: path, message: "optimizer state '\(optimizerScalarPrefix + name)': \(message)")
        }
        try upload(file, into: model)
        for (key, view) in state {
            try view.backend.upload(file.tensors[optimizerPrefix + key]!.values, to: view)
        }
        for (key, view) in objectiveState {
            try view.backend.upload(file.tensors[objectivePrefix + key]!.values, to: view)
        }
        model.randomCounters = counters
        trainer.epoch = epoch
        trainer.iteration = iteration
    }

    /// The largest epoch and step a checkpoint may claim: far beyond any real run, and far enough below
    /// `Int.max` that counting on from them cannot overflow (and exact as Doubles, which schedules use).
    public static let maxEpochs = 1_000_000
    /// The largest step count a checkpoint may claim, for the same reasons as `maxEpochs`.
    public static let maxIterations = 1 << 53

    /// Loads only the weights of a Synapse checkpoint (for evaluation or fine-tuning).
    public static func loadWeights(into model: Graph, from path: String) throws {
        let file = try SafeTensors.read(from: path)
        try checkSynapseFile(file, model: model, path: path)
        try checkParameters(file, of: model, path: path)
        try upload(file, into: model)
    }

    /// Imports a safetensors file of weights saved from PyTorch (`safetensors.torch.save_file(model.state_dict())`)
    /// for a module with the same parameter names and shapes. Every parameter must be present; tensors the
    /// model does not have are refused by name, as PyTorch's strict `load_state_dict` does.
    public static func importWeights(into model: Graph, from path: String) throws {
        let file = try SafeTensors.read(from: path)
        try checkParameters(file, of: model, path: path)
        try upload(file, into: model)
    }

    /// The per-sample input shape and the layer names, in order, that a checkpoint's `architecture` metadata lists
    /// (`input [1, 28, 28]`, then `name: summary` per layer); nil when it lists none.
    public static func layout(in metadata: [String: String]) -> (input: [Int], layers: [String])? {
        let lines = (metadata["architecture"] ?? "").split(separator: "\n")
        guard let first = lines.first, let open = first.firstIndex(of: "["), let close = first.lastIndex(of: "]"),
              open < close else { return nil }
        let dimensions = first[first.index(after: open)..<close].split(separator: ",").map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !dimensions.isEmpty, dimensions.allSatisfy({ $0.map { (1...(1 << 24)).contains($0) } ?? false }) else { return nil }
        let layers = lines.dropFirst().compactMap { line in line.split(separator: ":").first.map(String.init) }
        return (dimensions.map { $0! }, layers)
    }

    /// The metadata of a checkpoint (settings, seed, epoch), to rebuild the model before resuming.
    public static func metadata(at path: String) throws -> [String: String] {
        try SafeTensors.readMetadata(from: path)
    }

    private static func checkSynapseFile(_ file: SafeTensors, model: Graph, path: String) throws {
        guard file.metadata["format"] == format else {
            throw NNError.checkpoint(path: path, message:
                "not a Synapse checkpoint (metadata 'format' is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"); to load PyTorch weights use importWeights)")
        }
        let saved = file.metadata["architecture"] ?? ""
        guard saved == model.architecture else {
            let ours = model.architecture.split(separator: "\n"), theirs = saved.split(separator: "\n")
            let first = zip(ours, theirs).first { $0 != $1 }
            let detail = first.map { "the checkpoint has '\($0.1)' where the model has '\($0.0)'" }
                ?? (saved.isEmpty ? "its metadata has no 'architecture'"
                    : "the checkpoint has \(theirs.count - 1) layers, the model \(ours.count - 1)")
            throw NNError.checkpoint(path: path, message: "it is for a different architecture: \(detail)")
        }
    }

    /// Checks that `file` holds every parameter of `model` with the right shape and only finite values, and no
    /// tensor besides them and the optimizer's and objective's state (as PyTorch's strict `load_state_dict`), so
    /// that a refused file leaves the model untouched and a damaged one never trains or evaluates silently.
    private static func checkParameters(_ file: SafeTensors, of model: Graph, path: String) throws {
        let names = Set(model.parameters.map(\.name))
        let unexpected = file.tensors.keys.filter { !names.contains($0) && !$0.hasPrefix(optimizerPrefix) && !$0.hasPrefix(objectivePrefix) }.sorted()
        guard unexpected.isEmpty else {
            throw NNError.checkpoint(path: path, message:
                "tensors the model does not have: \(unexpected.joined(separator: ", ")); the model's parameters are \(model.parameters.map(\.name).joined(separator: ", "))")
        }
        try checkShapes(file.tensors.mapValues(\.shape), of: model.parameters, path: path)
        for p in model.parameters { try checkFinite(file.tensors[p.name]!, name: p.name, path: path) }
    }

    /// Checks that the tensors of `shapes` hold every one of `parameters` with its shape.
    static func checkShapes(_ shapes: [String: [Int]], of parameters: [Parameter], path: String) throws {
        for p in parameters {
            guard let shape = shapes[p.name] else {
                throw NNError.checkpoint(path: path, message: "it has no tensor '\(p.name)' (shape \(describe(p.shape)))")
            }
            guard shape == p.shape else {
                throw NNError.checkpoint(path: path, message:
                    "tensor '\(p.name)' has shape \(describe(shape)), the model needs \(describe(p.shape))")
            }
        }
    }

    /// Builds, with `body`, a model to load the checkpoint at `path` into. Every parameter the model creates is
    /// checked against the checkpoint's tensor shapes before the parameters' memory is allocated, so that settings
    /// (edited, or another file's) describing a model far larger than the file's tensors fail at once rather than
    /// after allocating it.
    public static func building<Model>(for path: String, _ body: () throws -> Model) throws -> Model {
        let planned = PlannedParameters(path: path, shapes: try SafeTensors.readShapes(from: path))
        return try PlannedParameters.$expected.withValue(planned) { try body() }
    }

    private static func checkFinite(_ entry: SafeTensors.Entry, name: String, path: String) throws {
        if let index = entry.values.firstIndex(where: { !$0.isFinite }) {
            let count = entry.values.lazy.filter { !$0.isFinite }.count
            throw NNError.checkpoint(path: path, message:
                "tensor '\(name)' holds \(count) NaN or infinite value\(count == 1 ? "" : "s") (the first at element \(index), \(entry.values[index]))")
        }
    }

    /// Uploads every parameter from a file `checkParameters` has accepted.
    private static func upload(_ file: SafeTensors, into model: Graph) throws {
        for p in model.parameters { try p.value.backend.upload(file.tensors[p.name]!.values, to: p.value) }
    }
}

/// The parameter shapes a model is being built to load (`Checkpoint.building`): `BuildContext` checks the
/// parameters it creates against them before it allocates any.
struct PlannedParameters: Sendable {
    @TaskLocal static var expected: PlannedParameters?
    let path: String
    let shapes: [String: [Int]]
}
