import Foundation
import Synchronization
import SynapseCore

/// Processes that train one model data-parallel (the ranks of an MPI job): every one holds the whole model, takes
/// its shard of every global batch, and the gradients are averaged over the group before the same update
/// everywhere. SynapseNN knows the group only through this protocol; `SynapseDistributed` gives the MPI one.
public protocol DataParallelGroup: AnyObject {
    /// This process's place in the group, from 0, and the group's size.
    var rank: Int { get }
    var size: Int { get }
    /// In place: every element becomes its sum over the group.
    func sum(_ values: inout [Float]) throws
    func sum(_ values: inout [Double]) throws
    /// `value` of every member, in rank order.
    func gather(_ value: UInt64) throws -> [UInt64]
}

extension DataParallelGroup {
    /// The contiguous part of `0..<count` this rank takes: the rows of a global batch it trains on.
    public func shard(of count: Int) -> Range<Int> { (count * rank / size)..<(count * (rank + 1) / size) }

    /// Throws unless every rank holds the same parameter values (a hash of the arena compared across the group):
    /// every rank must build the same model from the same seed, or load the same checkpoint.
    public func checkSameParameters(_ arena: ParameterArena) throws {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in try arena.backend.download(arena.values) {
            hash = (hash ^ UInt64(value.bitPattern)) &* 0x0000_0100_0000_01b3
        }
        let hashes = try gather(hash)
        if let other = hashes.firstIndex(where: { $0 != hashes[0] }) {
            throw NNError.invalidSetting(name: "data-parallel training", message: "rank \(other) holds other initial "
                + "parameters than rank 0 (hash \(String(hashes[other], radix: 16)) against \(String(hashes[0], radix: 16))): "
                + "every rank must build the same model with the same seed, or resume the same checkpoint")
        }
    }
}

/// The rows of a global batch one rank trains on: randomized layers (dropout) draw the numbers of those rows, so a
/// data-parallel run draws what a single process training the whole batch draws.
public struct BatchShard: Sendable, Equatable {
    /// The shard's first row within the global batch.
    public var offset: Int
    /// The rows of the global batch.
    public var globalBatch: Int

    public init(offset: Int, globalBatch: Int) {
        self.offset = offset
        self.globalBatch = globalBatch
    }
}

/// The average of a step's gradients over the group, weighted by each rank's share of the global batch: every
/// rank's loss is a mean over its shard, so the sum over ranks of `gradient * shard / batch` is the gradient of the
/// global batch's mean loss. Through the host. With `overlap`, the gradients go in buckets of about `bucketBytes`, each
/// sent by a thread of its own as soon as backward has completed them (the last layers' first), while backward goes
/// on with the layers below; without, in one all-reduce of the whole arena after backward.
final class GradientAveraging: @unchecked Sendable {  // the queue's work reads only `group` and `failure`
    let group: DataParallelGroup
    let overlap: Bool
    /// `$SYNAPSE_ALLREDUCE_BUCKET` bytes, default 16 MiB.
    static let bucketBytes = ProcessInfo.processInfo.environment["SYNAPSE_ALLREDUCE_BUCKET"].flatMap(Int.init)
        .flatMap { $0 > 0 ? $0 : nil } ?? 16 << 20
    private var weight: Float = 1
    private var bucket: [Parameter] = []
    private var bucketCount = 0
    /// The all-reduces of one step run in order on this queue; the step waits for them before the update.
    private let queue = DispatchQueue(label: "synapse.all-reduce")
    private let failure = Mutex<Error?>(nil)
    /// Seconds per step that the update waited for the all-reduce (all of it without overlap), and steps averaged.
    private(set) var seconds = 0.0
    private(set) var steps = 0

    init(group: DataParallelGroup, overlap: Bool) {
        self.group = group
        self.overlap = overlap
    }

    /// Before backward: the rank's weight for this step (its share of the global batch); with overlap, `model`
    /// reports completed gradients.
    func begin(_ model: Graph, weight: Float) {
        self.weight = weight
        model.gradientsComplete = overlap ? { [unowned self] in try self.completed($0, backend: model.backend) } : nil
    }

    private func completed(_ parameters: [Parameter], backend: Backend) throws {
        bucket += parameters
        bucketCount += parameters.reduce(0) { $0 + $1.count }
        if bucketCount * 4 >= Self.bucketBytes { send(backend) }
    }

    /// Hands the bucket to the all-reduce thread.
    private func send(_ backend: Backend) {
        guard !bucket.isEmpty else { return }
        let views = UncheckedSendable((bucket.map(\.gradient), backend, weight))
        bucket = []
        bucketCount = 0
        queue.async { [unowned self] in
            guard failure.withLock({ $0 }) == nil else { return }
            do {
                try reduce(views.value.0, backend: views.value.1, weight: views.value.2)
            } catch {
                failure.withLock { $0 = error }
            }
        }
    }

    /// Scales `views` by `weight`, sums them over the group through one host buffer, and writes the sums back. A
    /// single view (the whole arena) goes without copies between the buffer and the views.
    private func reduce(_ views: [Tensor], backend: Backend, weight: Float) throws {
        if weight != 1 { for view in views { try backend.scale(view, by: weight) } }
        var values = try views.count == 1 ? backend.download(views[0]) : views.flatMap { try backend.download($0) }
        try group.sum(&values)
        guard views.count > 1 else { return try backend.upload(values, to: views[0]) }
        var at = 0
        for view in views {
            try backend.upload(Array(values[at..<at + view.count]), to: view)
            at += view.count
        }
    }

    /// After backward: every gradient of the arena is the group's weighted sum once this returns.
    func finish(_ model: Graph) throws {
        let waitStart = Date()
        let backend = model.backend
        if overlap {
            send(backend)
            queue.sync {}
            model.gradientsComplete = nil
            if let error = failure.withLock({ $0 }) {
                failure.withLock { $0 = nil }
                throw error
            }
        } else {
            try reduce([model.arena.gradients], backend: backend, weight: weight)
        }
        seconds += Date().timeIntervalSince(waitStart)
        steps += 1
    }
}
