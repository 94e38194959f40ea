import ArgumentParser
import Foundation
import Synapse

struct BenchKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "GEMM over a size sweep, AlexNet's five convolutions forward and backward, pooling, activations, LRN, softmax and dropout.",
        discussion: """
            GEMM and convolutions report GFLOP/s against the device's theoretical FP32 peak (cores x clock x \
            FMA lanes, from /proc/cpuinfo or the OpenCL device and a table of GPU architectures); the memory-bound \
            ops report GB/s (bytes each must read and write once) against a measured peak, the bandwidth of a \
            large copy or in-place scale on the same device.
            """
    )

    @OptionGroup var options: BenchOptions

    @Option(help: ArgumentHelp("Square GEMM sizes, comma-separated.", valueName: "n,n,..."))
    var sizes: String = "256,512,1024,2048"

    @Option(help: ArgumentHelp("Images per batch for the convolution, pooling and LRN benchmarks (AlexNet's shapes).",
                               valueName: "n"))
    var batch: Int = 16

    @Option(help: ArgumentHelp("Run only the benchmarks whose name contains this text, e.g. gemm or conv2.",
                               valueName: "text"))
    var filter: String?

    func validate() throws {
        guard (1...1024).contains(batch) else { throw ValidationError("--batch must be in 1...1024, got \(batch)") }
        guard !gemmSizes.isEmpty, gemmSizes.allSatisfy({ (1...16_384).contains($0) }) else {
            throw ValidationError("--sizes must be integers in 1...16384 separated by commas, got '\(sizes)'")
        }
    }

    private var gemmSizes: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let backend = try options.deviceOption.backend()
        let peak = try Peak.of(backend)
        let benchmarks = try KernelBenchmarks(backend: backend, batch: batch, gemmSizes: gemmSizes).all
            .filter { filter == nil || $0.name.contains(filter!) }
        guard !benchmarks.isEmpty else {
            throw NNError.invalidSetting(name: "--filter", message: "no benchmark name contains '\(filter ?? "")'")
        }
        if !options.json {
            print("\(backend.name): \(backend.deviceDescription)")
            print("peak: \(peak.flopsText); \(peak.bandwidthText)")
            if let opencl = backend as? OpenCLBackend { print("GEMM parameters: \(opencl.gemmPlanSource)") }
            print(column("benchmark", 18) + column("shape", 34) + column("ms", 10, right: true)
                  + column("rate", 16, right: true) + column("of peak", 9, right: true))
        }
        var results: [KernelResult] = []
        for benchmark in benchmarks {
            let seconds = try medianSeconds(backend, reps: options.reps, benchmark.body)
            let result = KernelResult(benchmark, seconds: seconds, peak: peak)
            results.append(result)
            if !options.json {
                print(column(result.name, 18) + column(result.shape, 34)
                      + column(String(format: "%.3f", seconds * 1e3), 10, right: true)
                      + column(result.rateText, 16, right: true)
                      + column(result.percentOfPeak.map { String(format: "%.1f%%", $0) } ?? "-", 9, right: true))
            }
        }
        let build = kernelBuildSeconds(backend)
        if options.json {
            try printJSON(KernelReport(device: backend.name, description: backend.deviceDescription,
                                       peakGflops: peak.gflops, peakGflopsSource: peak.gflopsSource,
                                       peakBandwidthGBs: peak.bandwidthGBs, peakBandwidthSource: peak.bandwidthSource,
                                       kernelBuildSeconds: build, kernels: results))
        } else {
            print(String(format: "kernel build (compile or cache load), excluded above: %.2f s", build))
        }
    }
}

/// One benchmark: `flops` for compute-bound work or `bytes` moved for memory-bound work.
struct KernelBenchmark {
    let name: String
    let shape: String
    var flops: Double = 0
    var bytes: Double = 0
    let body: () throws -> Void
}

/// The benchmarks, with their buffers allocated and filled once.
struct KernelBenchmarks {
    let all: [KernelBenchmark]

    init(backend: Backend, batch: Int, gemmSizes: [Int]) throws {
        var list: [KernelBenchmark] = []
        for n in gemmSizes {
            let a = try backend.tensor(benchmarkValues(n * n, seed: 1)), b = try backend.tensor(benchmarkValues(n * n, seed: 2))
            let c = try backend.tensor(shape: [n * n])
            list.append(KernelBenchmark(name: "gemm-\(n)", shape: "\(n)x\(n)x\(n)", flops: 2 * pow(Double(n), 3)) {
                try backend.gemm(transA: false, transB: false, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b, ldb: n,
                                 beta: 0, c: c, ldc: n)
            })
        }
        list += try Self.alexNetConvolutions(backend: backend, batch: batch)

        // AlexNet's first pooling, LRN and activations: [batch, 96, 55, 55].
        let (channels, side) = (96, 55)
        let count = batch * channels * side * side
        let x = try backend.tensor(benchmarkValues(count, seed: 3)), dy = try backend.tensor(benchmarkValues(count, seed: 4))
        let y = try backend.tensor(shape: [count]), dx = try backend.tensor(shape: [count])
        let shape = "[\(batch), \(channels), \(side), \(side)]"
        let pool = PoolGeometry(planes: batch * channels, height: side, width: side, kernelH: 3, kernelW: 3,
                                strideH: 2, strideW: 2)
        let pooled = try backend.tensor(shape: [pool.outputCount])
        let argmax = try backend.tensor(shape: [pool.outputCount], dtype: .int32)
        let floatBytes = 4.0
        list.append(KernelBenchmark(name: "maxpool-fwd", shape: shape + " 3x3/2",
                                    bytes: floatBytes * Double(pool.inputCount + 2 * pool.outputCount)) {
            try backend.maxPoolForward(input: x, output: pooled, argmax: argmax, geometry: pool)
        })
        list.append(KernelBenchmark(name: "maxpool-bwd", shape: shape + " 3x3/2",
                                    bytes: floatBytes * Double(pool.inputCount + 2 * pool.outputCount)) {
            try backend.maxPoolBackward(gradOutput: pooled, argmax: argmax, gradInput: dx, geometry: pool)
        })
        for (name, activation) in [("relu", Activation.relu), ("sigmoid", .sigmoid), ("tanh", .tanh)] {
            list.append(KernelBenchmark(name: "\(name)-fwd", shape: shape, bytes: floatBytes * 2 * Double(count)) {
                try backend.activationForward(activation, input: x, output: y)
            })
            list.append(KernelBenchmark(name: "\(name)-bwd", shape: shape, bytes: floatBytes * 3 * Double(count)) {
                try backend.activationBackward(activation, input: x, output: y, gradOutput: dy, gradInput: dx)
            })
        }
        let lrn = LRNGeometry(batch: batch, channels: channels, spatial: side * side)
        let scale = try backend.tensor(shape: [count])
        list.append(KernelBenchmark(name: "lrn-fwd", shape: shape + " size 5", bytes: floatBytes * 3 * Double(count)) {
            try backend.lrnForward(input: x, output: y, scale: scale, geometry: lrn)
        })
        list.append(KernelBenchmark(name: "lrn-bwd", shape: shape + " size 5", bytes: floatBytes * 5 * Double(count)) {
            try backend.lrnBackward(input: x, output: y, scale: scale, gradOutput: dy, gradInput: dx, geometry: lrn)
        })
        list.append(KernelBenchmark(name: "dropout-fwd", shape: shape + " p 0.5", bytes: floatBytes * 2 * Double(count)) {
            try backend.dropoutForward(input: x, output: y, probability: 0.5, address: PhiloxAddress(seed: 1))
        })
        // Softmax over ImageNet's 1000 classes, a batch of 256 rows per image in --batch.
        let (rows, classes) = (256 * batch, 1000)
        let matrix = 0..<rows * classes
        list.append(KernelBenchmark(name: "softmax-fwd", shape: "[\(rows), \(classes)]",
                                    bytes: floatBytes * 2 * Double(rows * classes)) {
            try backend.softmaxForward(input: x.elements(matrix), output: y.elements(matrix), rows: rows, cols: classes)
        })
        list.append(KernelBenchmark(name: "softmax-bwd", shape: "[\(rows), \(classes)]",
                                    bytes: floatBytes * 3 * Double(rows * classes)) {
            try backend.softmaxBackward(output: y.elements(matrix), gradOutput: dy.elements(matrix),
                                        gradInput: dx.elements(matrix), rows: rows, cols: classes)
        })
        all = list
    }

    /// bvlc_alexnet's conv1-conv5 as the Conv2D layer runs them (im2col, GEMM, transpose), forward and
    /// backward (weight and input gradients: twice the forward FLOPs).
    static func alexNetConvolutions(backend: Backend, batch: Int) throws -> [KernelBenchmark] {
        let layers: [(name: String, input: [Int], out: Int, kernel: Int, stride: Int, pad: Int, groups: Int)] = [
            ("conv1", [3, 227, 227], 96, 11, 4, 0, 1),
            ("conv2", [96, 27, 27], 256, 5, 1, 2, 2),
            ("conv3", [256, 13, 13], 384, 3, 1, 1, 1),
            ("conv4", [384, 13, 13], 384, 3, 1, 1, 2),
            ("conv5", [384, 13, 13], 256, 3, 1, 1, 2),
        ]
        var list: [KernelBenchmark] = []
        for spec in layers {
            let conv = Conv2D(spec.out, kernel: spec.kernel, stride: spec.stride, padding: spec.pad, groups: spec.groups,
                              name: spec.name)
            let model = try Sequential(inputShape: spec.input, layers: [conv], backend: backend, seed: 1)
            let inputShape = [batch] + spec.input, outputShape = [batch] + model.outputShape
            let x = try backend.tensor(benchmarkValues(inputShape.reduce(1, *), seed: 5), shape: inputShape)
            let dy = try backend.tensor(benchmarkValues(outputShape.reduce(1, *), seed: 6), shape: outputShape)
            let call = LayerCall(backend: backend)
            call.prepare(inputs: [x], training: true, needsInputGradients: [true])
            let macs = Double(outputShape.reduce(1, *)) * Double(spec.input[0] / spec.groups * spec.kernel * spec.kernel)
            let shape = "\(describe(inputShape)) k\(spec.kernel)/\(spec.stride) g\(spec.groups) -> \(spec.out)"
            list.append(KernelBenchmark(name: "\(spec.name)-fwd", shape: shape, flops: 2 * macs) {
                _ = try conv.forward(x, call)
            })
            // Backward needs a forward first, which --filter may have left out: the untimed first run does it.
            var forwardDone = false
            list.append(KernelBenchmark(name: "\(spec.name)-bwd", shape: shape, flops: 4 * macs) {
                if !forwardDone { _ = try conv.forward(x, call) }
                forwardDone = true
                _ = try conv.backward(dy, call)
            })
        }
        return list
    }
}

struct KernelResult: Encodable {
    let name: String
    let shape: String
    let seconds: Double
    let gflops: Double?
    let gigabytesPerSecond: Double?
    let percentOfPeak: Double?

    init(_ benchmark: KernelBenchmark, seconds: Double, peak: Peak) {
        name = benchmark.name
        shape = benchmark.shape
        self.seconds = seconds
        if benchmark.flops > 0 {
            let gflops = benchmark.flops / seconds / 1e9
            self.gflops = gflops
            gigabytesPerSecond = nil
            percentOfPeak = peak.gflops.map { 100 * gflops / $0 }
        } else {
            let rate = benchmark.bytes / seconds / 1e9
            gflops = nil
            gigabytesPerSecond = rate
            percentOfPeak = 100 * rate / peak.bandwidthGBs
        }
    }

    var rateText: String {
        if let gflops { return String(format: "%.1f GFLOP/s", gflops) }
        return String(format: "%.1f GB/s", gigabytesPerSecond ?? 0)
    }
}

struct KernelReport: Encodable {
    let device: String
    let description: String
    let peakGflops: Double?
    let peakGflopsSource: String
    let peakBandwidthGBs: Double
    let peakBandwidthSource: String
    let kernelBuildSeconds: Double
    let kernels: [KernelResult]
}

/// The device's FP32 peak (theoretical) and memory bandwidth (measured).
struct Peak {
    var gflops: Double?
    var gflopsSource: String
    var bandwidthGBs: Double
    var bandwidthSource: String

    var flopsText: String {
        gflops.map { String(format: "%.0f GFLOP/s FP32", $0) + " (\(gflopsSource))" } ?? "FP32 peak unknown (\(gflopsSource))"
    }
    var bandwidthText: String { String(format: "%.1f GB/s", bandwidthGBs) + " (\(bandwidthSource))" }

    static func of(_ backend: Backend) throws -> Peak {
        let (gflops, source) = theoreticalGflops(backend)
        // Both read and write every byte once. The CPU backend's copy is one memcpy on one core; its
        // scale runs on every thread. On OpenCL either may be the faster.
        let count = 32 << 20
        let a = try backend.tensor(shape: [count]), b = try backend.tensor(shape: [count])
        let copy = try medianSeconds(backend, reps: 5) { try backend.copy(from: a, to: b) }
        let scale = try medianSeconds(backend, reps: 5) { try backend.scale(a, by: 1) }
        return Peak(gflops: gflops, gflopsSource: source, bandwidthGBs: 8 * Double(count) / min(copy, scale) / 1e9,
                    bandwidthSource: "measured: the faster of a copy and an in-place scale of 128 MiB")
    }

    private static func theoreticalGflops(_ backend: Backend) -> (Double?, String) {
        if let cpu = backend as? CPUBackend {
            return cpuPeak(cores: cpu.threads)
        }
        guard let device = (backend as? OpenCLBackend)?.device else { return (nil, "unknown backend") }
        if device.kind == .cpu { return cpuPeak(cores: device.computeUnits) }
        // FP32 lanes per compute unit (an NVIDIA SM, an AMD CU), each doing one FMA (2 flops) per cycle.
        let name = device.name.uppercased()
        let lanes: Int?
        if ["A100", "A30", "V100", "P100", "T4", "RTX 20"].contains(where: name.contains) {
            lanes = 64
        } else if ["H100", "H200", "H800", "L40", "L4", "RTX 40", "RTX 30", "A10", "A40", "RTX A"].contains(where: name.contains) {
            lanes = 128
        } else if device.vendor.uppercased().contains("ADVANCED MICRO") {
            lanes = 64
        } else {
            lanes = nil
        }
        guard let lanes else { return (nil, "\(device.name) is not in the table of GPU architectures") }
        let gflops = Double(device.computeUnits * lanes * 2 * device.maxClockMHz) / 1e3
        return (gflops, "theoretical: \(device.computeUnits) compute units x \(lanes) lanes x 2 x \(device.maxClockMHz) MHz")
    }

    /// cores x clock x flops per cycle, from /proc/cpuinfo: two FMA units per core, 8 lanes with AVX2 and
    /// 16 with AVX-512.
    private static func cpuPeak(cores: Int) -> (Double?, String) {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return (nil, "/proc/cpuinfo unreadable")
        }
        let lines = info.split(separator: "\n")
        func field(_ key: String) -> String? {
            lines.first { $0.hasPrefix(key) }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard let mhz = field("cpu MHz").flatMap(Double.init), let flags = field("flags")?.split(separator: " ") else {
            return (nil, "no clock or flags in /proc/cpuinfo")
        }
        let (perCycle, isa): (Int, String) = flags.contains("avx512f") ? (64, "AVX-512")
            : flags.contains("avx2") && flags.contains("fma") ? (32, "AVX2+FMA") : (8, "SSE")
        let gflops = Double(cores) * mhz / 1e3 * Double(perCycle)
        return (gflops, String(format: "theoretical: %d cores x %.2f GHz x %d flop/cycle", cores, mhz / 1e3, perCycle) + " (\(isa))")
    }
}
