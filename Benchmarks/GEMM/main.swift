// GEMM throughput, side by side in one process: Synapse's CPU backend against a direct OpenBLAS call,
// and Synapse's OpenCL kernel against CLBlast on the same OpenCL device and queue, each pair timed call for call in turns.
// Rows named "1T" run on one thread on the CPU (both sides), as a part of the batch does in a model.
// Kernel compilation is excluded from the timings and reported separately.
//
//   swift run -c release gemm-bench [--reps N] [--device opencl:N] [--json]
//
// --json: the table goes to stderr, and stdout gets one JSON object with each shape's GFLOP/s
// (`{"rows": [{"shape", "m", "n", "k", "synapse_cpu", "openblas", "synapse_opencl", "clblast"}]}`, null where not run).
import CBLAS
import COpenCL
import Foundation
import Synapse

struct Shape {
    let name: String
    let m, n, k: Int
    let transB: Bool
    /// Timed on one thread (both sides), as the CPU backend runs a part of the batch's products.
    var oneThread = false
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

let shapes = [
    Shape(name: "512^3", m: 512, n: 512, k: 512, transB: false),
    Shape(name: "1024^3", m: 1024, n: 1024, k: 1024, transB: false),
    Shape(name: "2048^3", m: 2048, n: 2048, k: 2048, transB: false),
    // AlexNet fc6 forward: Y[128, 4096] = X[128, 9216] * W[4096, 9216]^T
    Shape(name: "fc6 128x4096x9216 NT", m: 128, n: 4096, k: 9216, transB: true),
    // Products of few rows with a large B, which the CPU backend's own loops multiply reading B in place
    // (`CPUBackend.readsBInPlace`): a 512-unit LSTM's time step for a batch of 50, forward and backward, and
    // AlexNet's fc6 forward at batch 16.
    Shape(name: "lstm 50x2048x512 NT", m: 50, n: 2048, k: 512, transB: true),
    Shape(name: "lstm 50x512x2048", m: 50, n: 512, k: 2048, transB: false),
    Shape(name: "fc6 16x4096x9216 NT", m: 16, n: 4096, k: 9216, transB: true),
    // Products of a part of the batch, on one thread, with few rows, which the CPU backend cuts into blocks for
    // OpenBLAS's unpacked kernels where it has them: LeNet's conv1 forward for 11 images and conv2's weight
    // gradient for 16, a 128-unit LSTM's time step for 25 sequences forward and backward; and, in place, a
    // 512-unit LSTM's step backward for 25.
    Shape(name: "1T conv 6x8624x25", m: 6, n: 8624, k: 25, transB: false, oneThread: true),
    Shape(name: "1T wgrad 16x150x1600 NT", m: 16, n: 150, k: 1600, transB: true, oneThread: true),
    Shape(name: "1T lstm 25x512x128 NT", m: 25, n: 512, k: 128, transB: true, oneThread: true),
    Shape(name: "1T lstm 25x128x512", m: 25, n: 128, k: 512, transB: false, oneThread: true),
    Shape(name: "1T lstm 25x512x2048", m: 25, n: 512, k: 2048, transB: false, oneThread: true),
]

func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    return args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
}
let reps = Int(option("--reps") ?? "") ?? 5
let json = CommandLine.arguments.contains("--json")

/// A line of the human-readable report: stdout, or stderr when stdout carries the JSON.
func say(_ items: String...) {
    let line = items.joined(separator: " ") + "\n"
    if json { FileHandle.standardError.write(Data(line.utf8)) } else { print(line, terminator: "") }
}

/// Median seconds per call of `body`, which must leave its work finished, after one untimed call (the first
/// wakes threads and faults in memory).
func median(_ body: () throws -> Void) rethrows -> Double {
    try body()
    let times = try (0..<reps).map { _ in try seconds(body) }.sorted()
    return times[reps / 2]
}

/// Seconds one call of `body` takes.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Median seconds per call of `a` and of `b`, timed in turns (a, b, a, b, ...) after one untimed call of each, so
/// that both meet the same moments of a noisy machine; at least `reps` turns, and more for quick calls (up to about
/// a second of work in all, at most 200 turns).
func pairedMedians(_ a: () throws -> Void, _ b: () throws -> Void) rethrows -> (Double, Double) {
    try a()
    try b()
    var times = [(try seconds(a), try seconds(b))]
    let turns = max(reps, min(200, Int(1 / (times[0].0 + times[0].1))))
    for _ in 1..<turns { times.append((try seconds(a), try seconds(b))) }
    let (first, second) = (times.map(\.0).sorted(), times.map(\.1).sorted())
    return (first[turns / 2], second[turns / 2])
}

func random(_ count: Int, seed: UInt64) -> [Float] {
    (0..<count).map { Philox.uniform(Philox.word(PhiloxAddress(seed: seed, counter: UInt64($0)))) - 0.5 }
}

/// CLBlast's C API, loaded at run time so the package does not need CLBlast to build.
struct CLBlast {
    typealias Sgemm = @convention(c) (Int32, Int32, Int32, Int, Int, Int, Float, cl_mem?, Int, Int, cl_mem?, Int, Int,
                                      Float, cl_mem?, Int, Int, UnsafeMutablePointer<cl_command_queue?>?,
                                      UnsafeMutablePointer<cl_event?>?) -> Int32
    let sgemm: Sgemm

    init?() {
        guard let handle = dlopen("libclblast.so.1", RTLD_NOW) ?? dlopen("libclblast.so", RTLD_NOW),
              let symbol = dlsym(handle, "CLBlastSgemm") else { return nil }
        sgemm = unsafeBitCast(symbol, to: Sgemm.self)
    }

    func run(_ s: Shape, a: cl_mem, b: cl_mem, c: cl_mem, queue: cl_command_queue) throws {
        var q: cl_command_queue? = queue
        let status = sgemm(101, 111, s.transB ? 112 : 111, s.m, s.n, s.k, 1, a, 0, s.k, b, 0, s.transB ? s.k : s.n,
                           0, c, 0, s.n, &q, nil)
        guard status == 0 else { throw SynapseError.openCL(call: "CLBlastSgemm", code: status) }
        clFinish(queue)
    }
}

do {
    let cpu = try CPUBackend(), oneThread = try CPUBackend(threads: 1)
    let devices = OpenCLDevice.all()
    let chosen = try option("--device").map { try DeviceChoice(parsing: $0) } ?? .opencl(index: nil)
    let opencl = devices.isEmpty ? nil : try Devices.backend(chosen) as? OpenCLBackend
    let clblast = CLBlast()

    say("GEMM benchmark, FP32, row-major, medians of at least \(reps) calls in turns with the reference (up to about a second); GFLOP/s (higher is better)")
    say("CPU: \(cpu.deviceDescription)")
    if let opencl {
        say("OpenCL: \(opencl.deviceDescription), GEMM parameters \(opencl.gemmPlan.large) (\(opencl.gemmPlanSource))")
    } else {
        say("OpenCL: no device; OpenCL columns skipped")
    }
    if clblast == nil { say("CLBlast: libclblast.so.1 not found (apt-get install libclblast-dev); column skipped") }
    say("")

    func cell(_ value: Double?) -> String { value.map { String(format: "%8.1f", $0) } ?? "       -" }
    func ratio(_ a: Double?, _ b: Double?) -> String {
        guard let a, let b else { return "     -" }
        return String(format: "%5.2fx", a / b)
    }
    say("shape                      Synapse-CPU  OpenBLAS  ratio | Synapse-OCL  CLBlast  ratio")

    var buildNotes: [String] = []
    var rows: [[String: Any]] = []
    for shape in shapes {
        let aHost = random(shape.m * shape.k, seed: 1), bHost = random(shape.k * shape.n, seed: 2)
        let lda = shape.k, ldb = shape.transB ? shape.k : shape.n

        let cpu = shape.oneThread ? oneThread : cpu
        let a = try cpu.tensor(aHost), b = try cpu.tensor(bHost), c = try cpu.tensor(shape: [shape.m * shape.n])
        var cHost = [Float](repeating: 0, count: shape.m * shape.n)
        let (ours, blas) = try pairedMedians({
            try cpu.gemm(transA: false, transB: shape.transB, m: shape.m, n: shape.n, k: shape.k, alpha: 1,
                         a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: shape.n)
        }, {
            // OpenBLAS with its own threads, as many as the backend has.
            synapse_blas_set_threads(Int32(cpu.threads))
            synapse_sgemm(0, shape.transB ? 1 : 0, Int32(shape.m), Int32(shape.n), Int32(shape.k), 1, aHost, Int32(lda),
                          bHost, Int32(ldb), 0, &cHost, Int32(shape.n))
            synapse_blas_set_threads(1)
        })

        var oclGflops: Double?, clblastGflops: Double?
        if let opencl {
            let a = try opencl.tensor(aHost), b = try opencl.tensor(bHost), c = try opencl.tensor(shape: [shape.m * shape.n])
            func run() throws {
                try opencl.gemm(transA: false, transB: shape.transB, m: shape.m, n: shape.n, k: shape.k, alpha: 1,
                                a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: shape.n)
                try opencl.synchronize()
            }
            let before = opencl.kernelBuildSeconds
            try run()  // the first call compiles the kernel: reported below, not timed
            if opencl.kernelBuildSeconds > before {
                buildNotes.append(String(format: "Synapse GEMM kernel build, or load from the binary cache (%@): %.2f s", shape.name, opencl.kernelBuildSeconds - before))
            }
            if let clblast {
                let queue = opencl.commandQueue
                let (am, bm, cm) = (try opencl.memory(of: a), try opencl.memory(of: b), try opencl.memory(of: c))
                let first = try seconds { try clblast.run(shape, a: am, b: bm, c: cm, queue: queue) }
                buildNotes.append(String(format: "CLBlast first call incl. its kernel build (%@): %.2f s", shape.name, first))
                let (synapse, reference) = try pairedMedians(run) { try clblast.run(shape, a: am, b: bm, c: cm, queue: queue) }
                (oclGflops, clblastGflops) = (shape.flops / synapse / 1e9, shape.flops / reference / 1e9)
            } else {
                oclGflops = shape.flops / (try median { try run() }) / 1e9
            }
        }
        let oursGflops = shape.flops / ours / 1e9, blasGflops = shape.flops / blas / 1e9
        say(shape.name.padding(toLength: 26, withPad: " ", startingAt: 0), cell(oursGflops), "  ", cell(blasGflops),
            ratio(oursGflops, blasGflops), "|  ", cell(oclGflops), cell(clblastGflops), ratio(oclGflops, clblastGflops))
        rows.append(["shape": shape.name, "m": shape.m, "n": shape.n, "k": shape.k, "synapse_cpu": oursGflops,
                     "openblas": blasGflops, "synapse_opencl": oclGflops ?? NSNull(), "clblast": clblastGflops ?? NSNull()])
    }
    say("")
    buildNotes.forEach { say($0) }
    if json {
        let data = try JSONSerialization.data(withJSONObject: ["rows": rows], options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
