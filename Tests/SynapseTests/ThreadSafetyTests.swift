import Foundation
import Synapse
import XCTest

// Backends under threads: first contact with OpenCL from several threads at once, one backend shared by
// several training threads, a backend per thread, and backends that are freed when dropped.

final class ThreadSafetyTests: SynapseTestCase {
    /// Runs `body(i)` for `i` in `0..<count` on that many threads at once, released together.
    static func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let start = DispatchSemaphore(value: 0), done = DispatchGroup()
        for i in 0..<count {
            done.enter()
            Thread {
                start.wait()
                body(i)
                done.leave()
            }.start()
        }
        for _ in 0..<count { start.signal() }
        done.wait()
    }

    /// A small conv net whose weight-gradient GEMMs split K on OpenCL (the shared scratch), trained for
    /// eight steps from `seed`; returns every loss and the final weights.
    static func train(seed: UInt64, on backend: Backend) throws -> [Float] {
        let model = try Sequential(inputShape: [2, 12, 12], layers: [
            Conv2D(4, kernel: 3, name: "conv1"), ActivationLayer(.relu), Pool2D.max(2), Flatten(),
            Dense(16, name: "fc1"), ActivationLayer(.relu), Dropout(0.3, name: "drop1"), Dense(5, name: "fc2"),
        ], backend: backend, seed: seed)
        let data = try TrainingTests.noise(count: 64, shape: [2, 12, 12], classes: 5, seed: seed)
        let trainer = try Trainer(model: model, objective: Classification(train: data), optimizer: SGD(momentum: 0.9),
                                  learningRate: 0.05, batchSize: 16)
        var losses: [Float] = []
        for _ in 0..<2 { losses.append(Float(try trainer.trainEpoch().trainLoss)) }
        return try losses + model.parameters.flatMap { try backend.download($0.value) }
    }

    /// Results of `train` for each seed, computed on separate threads; an error becomes a failure.
    static func trainConcurrently(seeds: [UInt64], backends: @escaping @Sendable (Int) throws -> Backend) -> [Result<[Float], Error>] {
        let results = Results(count: seeds.count)
        concurrently(seeds.count) { i in results.set(i, Result { try train(seed: seeds[i], on: backends(i)) }) }
        return results.values
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Result<[Float], Error>]
        init(count: Int) { stored = Array(repeating: .failure(CancellationError()), count: count) }
        func set(_ i: Int, _ value: Result<[Float], Error>) { lock.withLock { stored[i] = value } }
        var values: [Result<[Float], Error>] { lock.withLock { stored } }
    }

    func assertSameAsSequential(_ results: [Result<[Float], Error>], _ sequential: [[Float]], _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        for (i, result) in results.enumerated() {
            switch result {
            case .failure(let error):
                XCTFail("\(what), thread \(i): \(error)", file: file, line: line)
            case .success(let values):
                guard let first = zip(values, sequential[i]).enumerated().first(where: { $1.0.bitPattern != $1.1.bitPattern })?.offset ??
                        (values.count == sequential[i].count ? nil : min(values.count, sequential[i].count)) else { continue }
                XCTFail("\(what), thread \(i): differs from the same run alone at element \(first) of \(values.count) "
                        + "(the first two are the losses)", file: file, line: line)
            }
        }
    }

    let seeds: [UInt64] = [11, 12, 13, 14]

    /// Defect 5: four threads train four models on one shared backend; each gets, bit for bit, what it
    /// gets alone (a kernel's arguments were set by one thread and enqueued by another).
    func testOneBackendSharedByTrainingThreads() {
        forEachBackend { backend in
            let sequential = try seeds.map { try Self.train(seed: $0, on: backend) }
            for round in 0..<3 {
                assertSameAsSequential(Self.trainConcurrently(seeds: seeds) { _ in backend }, sequential,
                                       "\(backend.name) shared, round \(round)")
            }
        }
    }

    /// Each thread opens its own backend on the same device; results equal sequential use.
    func testABackendPerThread() throws {
        let cpu = try CPUBackend()
        let cpuSequential = try seeds.map { try Self.train(seed: $0, on: cpu) }
        assertSameAsSequential(Self.trainConcurrently(seeds: seeds) { _ in try CPUBackend() }, cpuSequential, "cpu per thread")
        for device in try openCLDevices() {
            let backend = try OpenCLBackend(device: device)
            let sequential = try seeds.map { try Self.train(seed: $0, on: backend) }
            assertSameAsSequential(Self.trainConcurrently(seeds: seeds) { _ in try OpenCLBackend(device: device) },
                                   sequential, "opencl:\(device.index) per thread")
        }
    }

    /// Defect 3: OpenCL first touched by several threads at once (each asking for a backend, even the CPU's)
    /// crashed in the ICD loader about half the time. It has to be the first contact of a process, so the
    /// test runs itself in fresh processes, each of which must exit cleanly.
    func testFirstContactWithOpenCLFromSeveralThreads() throws {
        if ProcessInfo.processInfo.environment[Self.childVariable] != nil {
            Self.concurrently(8) { i in
                do {
                    switch i % 3 {
                    case 0: _ = try Devices.backend(.cpu)
                    case 1: _ = try Devices.backend(.auto)
                    default: if let device = OpenCLDevice.all().first { _ = try OpenCLBackend(device: device) }
                    }
                } catch {
                    print("thread \(i): \(error)")
                    exit(1)
                }
            }
            return
        }
        for run in 0..<6 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["SynapseTests.ThreadSafetyTests/testFirstContactWithOpenCLFromSeveralThreads"]
            child.environment = ProcessInfo.processInfo.environment.merging([Self.childVariable: "1"]) { $1 }
            child.standardOutput = FileHandle.nullDevice
            try child.run()
            child.waitUntilExit()
            XCTAssertEqual(child.terminationReason, .exit, "run \(run): the child died of signal \(child.terminationStatus)")
            XCTAssertEqual(child.terminationStatus, 0, "run \(run)")
        }
    }

    static let childVariable = "SYNAPSE_TEST_FIRST_CONTACT_CHILD"

    /// Defect 4: every OpenCLBackend leaked (its split-K scratch buffer held it). A dropped backend, with
    /// everything that was allocated on it, is now freed, and opening and dropping backends in a loop
    /// does not grow the process.
    func testDroppedOpenCLBackendsAreFreed() throws {
        for device in try openCLDevices() {
            weak var dropped: OpenCLBackend?
            try {
                let backend = try OpenCLBackend(device: device)
                dropped = backend
                _ = try Self.train(seed: 1, on: backend)
            }()
            XCTAssertNil(dropped, "opencl:\(device.index): the backend outlived every reference to it")

            func openAndDrop() throws { _ = try Self.train(seed: 2, on: OpenCLBackend(device: device)) }
            for _ in 0..<3 { try openAndDrop() }
            let before = Self.residentBytes()
            for _ in 0..<20 { try openAndDrop() }
            let growth = Self.residentBytes() - before
            XCTAssertLessThan(growth, 16 << 20, "opencl:\(device.index): 20 backends opened and dropped grew the process by \(growth >> 20) MiB")
        }
    }

    /// A CPU backend starts threads of its own; a dropped one stops them, so backends made and dropped in a loop
    /// (one per request, say) do not pile up threads.
    func testDroppedCPUBackendsStopTheirThreads() throws {
        let before = Self.threadCount()
        for seed in 0..<20 {
            weak var dropped: CPUBackend?
            try {
                let backend = try CPUBackend(threads: 4)
                dropped = backend
                _ = try Self.train(seed: UInt64(seed), on: backend)
            }()
            XCTAssertNil(dropped, "the CPU backend outlived every reference to it")
        }
        // The threads exit on their own once told to: wait for them.
        let deadline = Date().addingTimeInterval(10)
        while Self.threadCount() > before, Date() < deadline { usleep(10_000) }
        XCTAssertLessThanOrEqual(Self.threadCount(), before, "20 CPU backends of 4 threads made and dropped left threads")
    }

    /// Threads of this process (Linux: /proc/self/task).
    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    static func residentBytes() -> Int {
        let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(getpagesize()) : 0
    }
}
