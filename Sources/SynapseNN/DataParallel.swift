import Foundation
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
/// global batch's mean loss. Through the host, in one all-reduce of the whole gradient arena.
final class GradientAveraging {
    let group: DataParallelGroup
    private var host: [Float] = []
    /// Seconds spent in the all-reduce (with its download and upload) and steps averaged, for reports.
    private(set) var seconds = 0.0
    private(set) var steps = 0

    init(group: DataParallelGroup) { self.group = group }

    func average(_ arena: ParameterArena, shard: Int, batch: Int) throws {
        let start = Date()
        let backend = arena.backend
        // A single rank's weight is exactly 1: its gradients stay bit for bit those of a run without a group.
        if shard != batch { try backend.scale(arena.gradients, by: Float(shard) / Float(batch)) }
        host = try backend.download(arena.gradients)
        try group.sum(&host)
        try backend.upload(host, to: arena.gradients)
        seconds += Date().timeIntervalSince(start)
        steps += 1
    }
}
