import CMPI
import Foundation
import SynapseNN

/// An error of the MPI layer, with Open MPI's own message.
public struct MPIError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { "MPI: \(message)" }
}

/// The processes `mpirun` started, as one data-parallel group: this process's rank, their number, and sums over all
/// of them (Open MPI's all-reduce). Open MPI is loaded at run time, so Synapse runs without it when not launched by
/// `mpirun`. MPI starts once per process: `MPIWorld.joined()` starts it and hands out the one world.
public final class MPIWorld: DataParallelGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// The rank among the processes on this machine, which picks this process's GPU.
    public let localRank: Int

    private static let lock = NSLock()
    nonisolated(unsafe) private static var started: MPIWorld?

    /// Whether `mpirun` (Open MPI's launcher) started this process.
    public static var launchedByMPI: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// The world this process belongs to, starting MPI the first time.
    public static func joined() throws -> MPIWorld {
        try lock.withLock {
            if let started { return started }
            try check(synapse_mpi_start())
            var rank: Int32 = 0, size: Int32 = 0
            try check(synapse_mpi_rank(&rank))
            try check(synapse_mpi_size(&size))
            let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_RANK"].flatMap(Int.init) ?? Int(rank)
            let world = MPIWorld(rank: Int(rank), size: Int(size), localRank: local)
            started = world
            return world
        }
    }

    private init(rank: Int, size: Int, localRank: Int) {
        self.rank = rank
        self.size = size
        self.localRank = localRank
    }

    private static func check(_ code: Int32) throws {
        guard code == 0 else { throw MPIError(message: String(cString: synapse_mpi_error())) }
    }

    public func sum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try Self.check(synapse_mpi_sum_floats($0.baseAddress, Int64($0.count))) }
    }

    public func sum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try Self.check(synapse_mpi_sum_doubles($0.baseAddress, Int64($0.count))) }
    }

    /// `value` of every rank, in rank order.
    public func gather(_ value: UInt64) throws -> [UInt64] {
        var all = [UInt64](repeating: 0, count: size)
        try all.withUnsafeMutableBufferPointer { try Self.check(synapse_mpi_gather_u64(value, $0.baseAddress)) }
        return all
    }

    public func barrier() throws { try Self.check(synapse_mpi_barrier()) }

    /// Ends MPI for this process; every rank calls it before exiting normally.
    public func finish() throws { try Self.check(synapse_mpi_finish()) }

    /// Ends every rank of the job: what a rank does when it cannot go on, so the others do not wait for it forever.
    public func abort(code: Int32) -> Never {
        synapse_mpi_abort(code)
        exit(code)
    }
}
