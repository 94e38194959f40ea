import Foundation
import Synchronization

/// The CPU backend's threads: `run(count, body)` calls `body(i)` for every `i` in `0..<count` on the calling thread
/// and the pool's workers, and returns once every call has returned. All of the backend's parallel work goes
/// through it, its GEMMs included (OpenBLAS itself runs single-threaded), so no second pool competes for the cores.
///
/// Idle workers spin, yielding the core, for `spinNanoseconds` before they sleep: a training step's ops follow one
/// another within microseconds, and a sleeping thread takes longer than that to wake (GCD's workers did, and lost
/// more on the RBM's small ops than the second core won). The caller claims indices too, so a job never waits for
/// a worker to wake: it does whatever the workers have not started.
final class WorkerPool: Sendable {
    private let state: PoolState
    /// Threads of the pool's own, besides the caller's.
    private let workers: Int

    /// A pool that runs jobs on the caller and `workers` threads of its own.
    init(workers: Int) {
        state = PoolState()
        self.workers = workers
        for _ in 0..<workers {
            let state = state
            let thread = Thread { state.work() }
            thread.name = "synapse-cpu"
            thread.start()
        }
    }

    deinit { state.stop() }

    /// Calls `body(i)` for each `i` in `0..<count`, concurrently where workers are free, in no particular order.
    /// A job started while another runs (from another thread, or from inside a job) runs on its caller alone.
    func run(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1, workers > 0, state.claim() else {
            for i in 0..<count { body(i) }
            return
        }
        defer { state.release() }
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                let job = Job(body: UnsafeRawPointer(pointer), count: count)
                state.post(job)
                job.help()
                job.waitUntilDone()
                state.post(nil)
            }
        }
    }
}

/// One `run`: its body (a pointer to the caller's closure, valid while `run` waits) and its progress.
private final class Job: Sendable {
    private nonisolated(unsafe) let body: UnsafeRawPointer
    private let count: Int
    private let next = Atomic<Int>(0)
    private let done = Atomic<Int>(0)

    init(body: UnsafeRawPointer, count: Int) {
        self.body = body
        self.count = count
    }

    /// Runs unclaimed indices until none is left. The body is touched only for a claimed index below `count`,
    /// so only while `run` still waits for that index to be done.
    func help() {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            guard i < count else { return }
            body.assumingMemoryBound(to: ((Int) -> Void).self).pointee(i)
            done.add(1, ordering: .releasing)
        }
    }

    func waitUntilDone() {
        var spins = 0
        while done.load(ordering: .acquiring) < count {
            spins += 1
            if spins > 64 { sched_yield() }
        }
    }
}

/// What the pool's threads share: the job on offer, a generation counter that moves whenever the offer changes,
/// and a mutex and condition variable for sleeping workers.
private final class PoolState: @unchecked Sendable {
    private static let spinNanoseconds: UInt64 = 1_000_000
    private let generation = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var job: Job?
    private var sleepers = 0
    private var stopping = false

    init() {
        mutex.initialize(to: pthread_mutex_t())
        wake.initialize(to: pthread_cond_t())
        precondition(pthread_mutex_init(mutex, nil) == 0 && pthread_cond_init(wake, nil) == 0,
                     "could not create the CPU backend's thread pool")
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
    }

    /// Whether the caller may post jobs: false while another caller's job runs.
    func claim() -> Bool { busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged }

    func release() { busy.store(false, ordering: .releasing) }

    /// Offers `job` (nil: nothing) to the workers.
    func post(_ job: Job?) {
        pthread_mutex_lock(mutex)
        self.job = job
        generation.add(1, ordering: .releasing)
        if sleepers > 0 { pthread_cond_broadcast(wake) }
        pthread_mutex_unlock(mutex)
    }

    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
    }

    /// A worker's life: wait for the offer to change, help with the job on offer, until the pool stops.
    func work() {
        var seen = 0
        while true {
            waitForChange(from: seen)
            pthread_mutex_lock(mutex)
            let (job, stop) = (self.job, stopping)
            seen = generation.load(ordering: .acquiring)
            pthread_mutex_unlock(mutex)
            if stop { return }
            job?.help()
        }
    }

    private func waitForChange(from seen: Int) {
        let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
        while generation.load(ordering: .acquiring) == seen {
            guard DispatchTime.now().uptimeNanoseconds < deadline else {
                pthread_mutex_lock(mutex)
                sleepers += 1
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
                sleepers -= 1
                pthread_mutex_unlock(mutex)
                return
            }
            sched_yield()
        }
    }
}
