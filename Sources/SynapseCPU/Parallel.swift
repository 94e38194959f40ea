import Dispatch

extension CPUBackend {
    /// Below this many units of work, handing a chunk to another thread costs more than it saves.
    private static let minimumChunkWork = 32_768

    /// `0..<count` cut into at most `threads` contiguous chunks, each worth at least `minimumChunkWork`
    /// when one item costs `cost` units, so small inputs stay on the calling thread.
    private func chunks(_ count: Int, cost: Int) -> [Range<Int>] {
        let n = max(1, min(threads, count, count * cost / Self.minimumChunkWork))
        return (0..<n).map { i in (i * count / n)..<((i + 1) * count / n) }
    }

    private func perform(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations == 1 {
            body(0)
        } else {
            // The loops handed to these functions read shared inputs and write disjoint ranges of their outputs
            // (that is their contract), which the compiler cannot see through raw pointers.
            withoutActuallyEscaping(body) { body in
                let shared = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: iterations) { shared.value($0) }
            }
        }
    }

    /// Runs `body` over disjoint chunks of `0..<count`, concurrently when there is enough work.
    func parallelFor(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
        let ranges = chunks(count, cost: cost)
        perform(ranges.count) { body(ranges[$0]) }
    }

    /// The sum of `body` over the chunks of `0..<count`. Chunk results are added in chunk order, so the
    /// total is reproducible for a given thread count.
    func parallelSum(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Double) -> Double {
        let ranges = chunks(count, cost: cost)
        var partial = [Double](repeating: 0, count: ranges.count)
        partial.withUnsafeMutableBufferPointer { partial in
            perform(ranges.count) { partial[$0] = body(ranges[$0]) }
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

/// A value handed to other threads whose safety the type system cannot check; the caller states why it holds.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
