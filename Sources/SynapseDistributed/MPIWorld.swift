import CMPI
import Foundation
import Synchronization
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
            world.startWatchdog()
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

    /// How long a rank waits in one collective before it gives up on the others: `$SYNAPSE_MPI_TIMEOUT` seconds,
    /// default 600 (a step waits for the slowest rank, and for rank 0 writing a checkpoint).
    public static var timeout: Double {
        ProcessInfo.processInfo.environment["SYNAPSE_MPI_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 600
    }

    /// When the collective under way began (seconds since the reference date), 0 when none is.
    private let collectiveStart = Atomic<UInt64>(0)

    /// A rank that died is noticed by `mpirun`, which ends the job; a cut network is not, and a collective would wait
    /// for it forever. This thread ends the process once a collective has waited `timeout` seconds, saying why;
    /// `mpirun` then ends the other ranks.
    private func startWatchdog() {
        let limit = Self.timeout, rank = self.rank
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: min(1, limit / 4))
                let start = collectiveStart.load(ordering: .relaxed)
                guard start > 0 else { continue }
                let waited = Date().timeIntervalSinceReferenceDate - Double(start) / 1000
                if waited > limit {
                    FileHandle.standardError.write(Data(("Error: rank \(rank) waited \(Int(waited)) s for the other ranks "
                        + "(SYNAPSE_MPI_TIMEOUT): a rank stopped answering or the network between them is cut; ending the job\n").utf8))
                    _exit(3)
                }
            }
        }
        thread.start()
    }

    private func collective<T>(_ body: () throws -> T) rethrows -> T {
        collectiveStart.store(UInt64(Date().timeIntervalSinceReferenceDate * 1000), ordering: .relaxed)
        defer { collectiveStart.store(0, ordering: .relaxed) }
        return try body()
    }

    public func sum(_ values: inout [Float]) throws {
        try collective {
            try values.withUnsafeMutableBufferPointer { try Self.check(synapse_mpi_sum_floats($0.baseAddress, Int64($0.count))) }
        }
    }

    public func sum(_ values: inout [Double]) throws {
        try collective {
            try values.withUnsafeMutableBufferPointer { try Self.check(synapse_mpi_sum_doubles($0.baseAddress, Int64($0.count))) }
        }
    }

    /// `value` of every rank, in rank order.
    public func gather(_ value: UInt64) throws -> [UInt64] {
        var all = [UInt64](repeating: 0, count: size)
        try collective {
            try all.withUnsafeMutableBufferPointer { try Self.check(synapse_mpi_gather_u64(value, $0.baseAddress)) }
        }
        return all
    }

    public func barrier() throws { try collective { try Self.check(synapse_mpi_barrier()) } }

    /// Ends MPI for this process; every rank calls it before exiting normally.
    public func finish() throws { try Self.check(synapse_mpi_finish()) }

    /// Ends every rank of the job: what a rank does when it cannot go on, so the others do not wait for it forever.
    public func abort(code: Int32) -> Never {
        synapse_mpi_abort(code)
        exit(code)
    }
}
