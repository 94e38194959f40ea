import Foundation
import SynapseCore
import SynapseKernels

/// A tuned `GemmPlan` stored in the kernel cache directory, one file per device, driver and gemm.cl
/// source: a driver update or a kernel change makes the tuning stale, and it is then ignored.
public enum GemmTuning {
    /// The stored plan for `device`, and the file it came from; nil when there is none or it is unreadable.
    public static func load(for device: OpenCLDevice) -> (plan: GemmPlan, file: String)? {
        let url = file(for: device)
        guard let data = try? Data(contentsOf: url), let plan = try? JSONDecoder().decode(GemmPlan.self, from: data),
              (try? plan.validate(for: device)) != nil else { return nil }
        return (plan, url.path)
    }

    /// Writes atomically (temporary file, then rename); returns the path.
    public static func store(_ plan: GemmPlan, for device: OpenCLDevice) throws -> String {
        let url = file(for: device)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(plan).write(to: url, options: .atomic)
        return url.path
    }

    /// Where the plan for `device` is stored: a file in the kernel cache directory whose name is a hash of the
    /// device, its driver and platform versions, and the gemm.cl source.
    public static func file(for device: OpenCLDevice) -> URL {
        let key = KernelCache.key(device: device, options: "gemm tuning", source: KernelSources.gemm)
        return KernelCache.standard().directory.appendingPathComponent("gemm-plan-\(key).json")
    }
}

/// Searches gemm.cl's `-D` parameters on one device, per matrix shape, as CLBlast's tuner does: a random
/// sample of the valid combinations (plus the current defaults), each checked against the defaults'
/// result and timed; the fastest correct one wins.
public struct GemmTuner {
    /// The device tuned, which runs every trial.
    public let backend: OpenCLBackend
    /// Candidates tried per shape, besides the defaults.
    public var candidates: Int
    /// Timed runs per candidate, after the run that checks its result; the median counts.
    public var reps = 3

    /// A tuner on `backend`'s device that tries `candidates` random parameter sets per shape besides the defaults.
    public init(backend: OpenCLBackend, candidates: Int = 40) {
        self.backend = backend
        self.candidates = candidates
    }

    /// The problem each shape is tuned on: square for `large`, a batch of 64 rows for `medium`,
    /// a convolution-like wide product for few rows, its transpose for few columns. GPUs get larger
    /// problems, which they need to be timed meaningfully.
    public func problem(_ shape: GemmPlan.Shape) -> (m: Int, n: Int, k: Int) {
        let big = backend.device.kind == .cpu ? 1024 : 4096
        switch shape {
        case .large: return (big, big, big)
        case .medium: return (GemmPlan.mediumLimit, big * 2, big)
        case .fewRows: return (16, big * 16, 256)
        case .fewColumns: return (big * 16, 16, 256)
        }
    }

    /// One candidate's outcome.
    public struct Trial {
        /// The candidate tried.
        public let parameters: GemmParameters
        /// Its speed in GFLOP/s, the median of `reps` timed runs; nil when it failed to build or gave a wrong result.
        public let gflops: Double?   // nil: it failed to build or gave a wrong result
        /// Why it failed, in words; empty when it succeeded.
        public let note: String
    }

    /// Tunes each shape, reporting every trial; returns the winning plan.
    public func tune(progress: (GemmPlan.Shape, Trial) -> Void) throws -> GemmPlan {
        var plan = GemmPlan.defaults(for: backend.device)
        var random = SplitMix(seed: 0x5EED)
        for shape in GemmPlan.Shape.allCases {
            let (m, n, k) = problem(shape)
            let a = try backend.tensor(values(m * k, seed: 1)), b = try backend.tensor(values(k * n, seed: 2))
            let c = try backend.tensor(shape: [m * n])
            let reference = plan[shape]
            try run(reference, m, n, k, a, b, c)
            let expected = try backend.download(c)
            var best: (GemmParameters, Double)?
            for parameters in [reference] + sample(shape, count: candidates, random: &random) {
                let trial = try self.trial(parameters, m, n, k, a, b, c, expected: expected)
                progress(shape, trial)
                if let gflops = trial.gflops, gflops > best?.1 ?? 0 { best = (parameters, gflops) }
            }
            if let best { plan[shape] = best.0 }
        }
        return plan
    }

    private func trial(_ p: GemmParameters, _ m: Int, _ n: Int, _ k: Int, _ a: Tensor, _ b: Tensor, _ c: Tensor,
                       expected: [Float]) throws -> Trial {
        do {
            try backend.fill(c, value: .nan)
            try run(p, m, n, k, a, b, c)
            let got = try backend.download(c)
            // Inputs are in [-1, 1): sums of k products agree to a few ulps of sqrt(k) between orders.
            let tolerance = 1e-5 * Float(k).squareRoot() * 4
            if let bad = got.indices.first(where: { !(abs(got[$0] - expected[$0]) <= tolerance) }) {
                return Trial(parameters: p, gflops: nil, note: "wrong result at element \(bad): \(got[bad]) vs \(expected[bad])")
            }
            var times: [Double] = []
            for _ in 0..<reps {
                let start = DispatchTime.now().uptimeNanoseconds
                try run(p, m, n, k, a, b, c)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let seconds = times.sorted()[times.count / 2]
            return Trial(parameters: p, gflops: 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9, note: "")
        } catch let error as SynapseError {
            let firstLine = error.description.split(separator: "\n").first.map(String.init) ?? ""
            return Trial(parameters: p, gflops: nil, note: "failed: \(firstLine)")
        }
    }

    private func run(_ p: GemmParameters, _ m: Int, _ n: Int, _ k: Int, _ a: Tensor, _ b: Tensor, _ c: Tensor) throws {
        try backend.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                         beta: 0, c: c, ldc: n, parameters: p)
        try backend.synchronize()
    }

    /// `count` distinct valid parameter sets for `shape`, drawn at random from the grid.
    func sample(_ shape: GemmPlan.Shape, count: Int, random: inout SplitMix) -> [GemmParameters] {
        let narrow = [8, 16, 32], medium = [16, 32, 64], wide = [32, 64, 128, 256]
        let rows = shape == .fewRows ? narrow : shape == .medium ? medium : wide
        let columns = shape == .fewColumns ? narrow : wide
        var grid: [GemmParameters] = []
        for mwg in rows { for nwg in columns { for kwg in [8, 16, 32] {
            for mdimc in [2, 4, 8, 16, 32] { for ndimc in [2, 4, 8, 16, 32] { for vwn in [1, 2, 4, 8] {
                let p = GemmParameters(mwg: mwg, nwg: nwg, kwg: kwg, mdimc: mdimc, ndimc: ndimc, vwn: vwn)
                // Each work-item keeps at most 64 accumulators, and a work-group has at least 32 work-items.
                guard (try? p.validate(for: backend.device)) != nil, mdimc * ndimc >= 32,
                      (mwg / mdimc) * (nwg / ndimc) <= 64 else { continue }
                grid.append(p)
            } } }
        } } }
        let untuned = GemmPlan.defaults(for: backend.device)[shape]
        grid.removeAll { $0 == untuned }
        var chosen: [GemmParameters] = []
        while chosen.count < count, !grid.isEmpty {
            chosen.append(grid.remove(at: Int(random.next() % UInt64(grid.count))))
        }
        return chosen
    }

    private func values(_ count: Int, seed: UInt64) -> [Float] {
        (0..<count).map { Philox.uniform(Philox.word(PhiloxAddress(seed: seed, counter: UInt64($0)))) * 2 - 1 }
    }
}

/// A small deterministic generator for the tuner's sampling (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
