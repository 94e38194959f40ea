import Foundation
import Synapse
import XCTest

/// `Backend.concurrently` on the CPU backend, and the layers that cut their batch into parts with it (Conv2D, the
/// recurrent layers): every part runs once, a part's error comes back, and the results do not depend on how many
/// threads ran the parts.
final class PartsTests: SynapseTestCase {
    struct PartFailed: Error, Equatable { let part: Int }

    func testConcurrentlyRunsEveryPartOnceAndRethrowsTheFirstFailure() throws {
        for threads in [1, 2, 3] {
            let backend = try CPUBackend(threads: threads)
            var runs = [Int](repeating: 0, count: 7)
            try runs.withUnsafeMutableBufferPointer { runs in
                try backend.concurrently(7) { part in
                    runs[part] += 1
                    // A part that asks for parts again runs them on its own thread.
                    try backend.concurrently(3) { _ in }
                }
            }
            XCTAssertEqual(runs, Array(repeating: 1, count: 7), "\(threads) threads")
            XCTAssertThrowsError(try backend.concurrently(6) { part in
                if part == 2 || part == 4 { throw PartFailed(part: part) }
            }, "\(threads) threads") { error in
                XCTAssertEqual(error as? PartFailed, PartFailed(part: 2), "\(threads) threads: the first part's error")
            }
        }
    }

    /// A convolution whose parts run several chunks each (the columns of two images fill a chunk) and a stacked
    /// LSTM, on 1, 2 and 3 threads (a batch of 13: one, two and three parts, at least four images each):
    /// outputs, input gradients and parameter gradients agree with one thread's (a weight gradient's sum over the
    /// parts is added in another order).
    func testLayersCutIntoPartsAgreeAcrossThreadCounts() throws {
        let cases: [(String, () -> [Layer], [Int])] = [
            ("Conv2D", { [Conv2D(6, kernel: 5, padding: 1, name: "conv")] }, [3, 40, 40]),
            ("Conv2D, 2 groups", { [Conv2D(4, kernel: 3, groups: 2, name: "conv")] }, [4, 9, 9]),
            ("LSTM", { [LSTM(hidden: 8, layers: 2, name: "lstm")] }, [6, 5]),
            ("RNN", { [RNN(hidden: 8, name: "rnn")] }, [6, 5]),
        ]
        for (name, layers, inputShape) in cases {
            let reference = try Self.pass(layers(), inputShape: inputShape, threads: 1)
            for threads in [2, 3] {
                let backend = try CPUBackend(threads: threads)
                let got = try Self.pass(layers(), inputShape: inputShape, threads: threads)
                let call = OpCall(backend, name, "batch 13 of \(inputShape), \(threads) threads against 1")
                for (what, (g, r)) in zip(["output", "input gradient"] + (2..<got.count).map { "parameter \($0 - 2)" },
                                          zip(got, reference)) {
                    assertClose(g, r.map(Double.init), call, what)
                }
            }
        }
    }

    /// Forward and backward of `sum(y * r)` through `layers` over a batch of 13 on a CPU backend of `threads`
    /// threads: the output, the input gradient and every parameter gradient.
    static func pass(_ layers: [Layer], inputShape: [Int], threads: Int) throws -> [[Float]] {
        let backend = try CPUBackend(threads: threads)
        let model = try Sequential(inputShape: inputShape, layers: layers, backend: backend, seed: 3)
        var random = TestRandom(seed: 9)
        let batch = 13
        let x = try backend.tensor(random.floats(batch * inputShape.reduce(1, *)), shape: [batch] + inputShape)
        let y = try model.forward(x, training: true)
        model.zeroGradients()
        let dx = try model.backward(backend.tensor(random.floats(y.count), shape: y.shape))
        return try [backend.download(y), backend.download(dx)] + model.parameters.map { try backend.download($0.gradient) }
    }
}
