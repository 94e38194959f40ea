import Foundation
import SynapseCore

extension CPUBackend {
    /// Below this many units of work, handing a chunk to another thread costs more than it saves.
    private static let minimumChunkWork = 32_768

    /// `0..<count` cut into at most `threads` contiguous chunks, each worth at least `minimumChunkWork`
    /// when one item costs `cost` units, so small inputs stay on the calling thread, as does everything a part of
    /// `concurrently` runs.
    private func chunks(_ count: Int, cost: Int) -> [Range<Int>] {
        let n = PartThread.isPart ? 1 : max(1, min(threads, count, count * cost / Self.minimumChunkWork))
        return (0..<n).map { i in (i * count / n)..<((i + 1) * count / n) }
    }

    /// Runs the parts on up to `threads` threads at once, each part's ops (GEMMs included) on its own thread: for
    /// work whose single ops are too small to share out, such as the convolutions of small images.
    public func concurrently(_ parts: Int, _ body: (Int) throws -> Void) throws {
        guard parts > 1, threads > 1, !PartThread.isPart else {
            for part in 0..<max(parts, 0) { try body(part) }
            return
        }
        var failures = [Error?](repeating: nil, count: parts)
        let workers = min(parts, threads)
        let ranges = (0..<workers).map { i in (i * parts / workers)..<((i + 1) * parts / workers) }
        failures.withUnsafeMutableBufferPointer { failures in
            pool.run(workers) { i in
                PartThread.isPart = true
                defer { PartThread.isPart = false }
                for part in ranges[i] {
                    do { try body(part) } catch { failures[part] = error }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    /// Runs `body` over disjoint chunks of `0..<count`, concurrently when there is enough work: `body` reads shared
    /// inputs and writes only its chunk's part of the outputs (the pool calls it from several threads at once).
    func parallelFor(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
        let ranges = chunks(count, cost: cost)
        pool.run(ranges.count) { body(ranges[$0]) }
    }

    /// The sum of `body` over the chunks of `0..<count`. Chunk results are added in chunk order, so the
    /// total is reproducible for a given thread count.
    func parallelSum(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Double) -> Double {
        let ranges = chunks(count, cost: cost)
        var partial = [Double](repeating: 0, count: ranges.count)
        partial.withUnsafeMutableBufferPointer { partial in
            pool.run(ranges.count) { partial[$0] = body(ranges[$0]) }
        }
        return partial.reduce(0, +)
    }
}

/// `sum of p[i]` (or of `p[i]^2`) over `range`, in Double. A single running sum cannot vectorise (the
/// additions may not be reordered), so eight independent lanes accumulate and are added at the end.
func doubleSum(_ p: UnsafePointer<Float>, _ range: Range<Int>, squared: Bool = false) -> Double {
    var lanes = SIMD8<Double>()
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        var v = SIMD8<Double>()
        for j in 0..<8 { v[j] = Double(p[i + j]) }
        lanes += squared ? v * v : v
        i += 8
    }
    var total = lanes.sum()
    for j in i..<range.upperBound {
        let v = Double(p[j])
        total += squared ? v * v : v
    }
    return total
}

/// Whether the calling thread is running a part of `CPUBackend.concurrently`.
enum PartThread {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    static var isPart: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}
