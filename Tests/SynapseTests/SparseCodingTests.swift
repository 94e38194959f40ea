import Foundation
import Synapse
import XCTest

// Sparse coding: FISTA reaches the LASSO optimum of a small problem (its KKT conditions hold), the dictionary
// step keeps every atom at unit norm, and alternating the two learns a dictionary that codes the data better.

final class SparseCodingTests: SynapseTestCase {
    /// Examples made of a few atoms of a hidden dictionary, plus a little noise.
    static func examples(count: Int, features: Int, seed: UInt64) -> [Float] {
        var random = TestRandom(seed: seed)
        let hidden = random.floats(6 * features)
        return (0..<count).flatMap { _ -> [Float] in
            let a = random.int(below: 6), b = random.int(below: 6), wa = random.float(in: 0.5...2), wb = random.float(in: -2 ... -0.5)
            return (0..<features).map { f in wa * hidden[a * features + f] + wb * hidden[b * features + f] + 0.01 * random.float() }
        }
    }

    /// At the optimum, with g = (A Phi - X) Phi^T the gradient of the squared error: g_ik = -lambda sign(a_ik)
    /// where a_ik is not zero, and |g_ik| <= lambda where it is (to 1e-5).
    func testFISTAReachesTheLassoOptimum() {
        forEachBackend { backend in
            let (features, atoms, n): (Int, Int, Int) = (8, 12, 5)
            let lambda: Float = 0.1
            let coder = try SparseCoder(atoms: atoms, features: features, lambda: lambda, backend: backend, seed: 3)
            let xs = Self.examples(count: n, features: features, seed: 4)
            let codes = try backend.download(coder.encode(backend.tensor(xs, shape: [n, features]), iterations: 5000))
            let phi = try backend.download(coder.dictionary).map(Double.init)
            var nonZero = 0
            for i in 0..<n {
                let residual = (0..<features).map { f in
                    (0..<atoms).reduce(-Double(xs[i * features + f])) { $0 + Double(codes[i * atoms + $1]) * phi[$1 * features + f] }
                }
                for k in 0..<atoms {
                    let g = (0..<features).reduce(0.0) { $0 + residual[$1] * phi[k * features + $1] }
                    let a = Double(codes[i * atoms + k])
                    if a != 0 {
                        nonZero += 1
                        XCTAssertEqual(g, -Double(lambda) * (a > 0 ? 1 : -1), accuracy: 1e-5, "\(backend.name) example \(i) atom \(k)")
                    } else {
                        XCTAssertLessThanOrEqual(abs(g), Double(lambda) + 1e-5, "\(backend.name) example \(i) atom \(k)")
                    }
                }
            }
            XCTAssertGreaterThan(nonZero, 0)
            XCTAssertLessThan(nonZero, n * atoms, "\(backend.name): the codes should be sparse")
        }
    }

    /// Every atom has unit norm after a dictionary step, and ten alternations more than halve the objective and the
    /// codes per example (9.6 to 3.0 when measured: each example was made of two atoms); CPU and OpenCL learn the
    /// same dictionary (to 1e-3).
    func testDictionaryStepKeepsUnitAtomsAndLearning() {
        var learnt: [(String, [Float])] = []
        forEachBackend { backend in
            let (features, atoms, n): (Int, Int, Int) = (16, 24, 200)
            let coder = try SparseCoder(atoms: atoms, features: features, lambda: 0.3, backend: backend, seed: 5)
            let x = try backend.tensor(Self.examples(count: n, features: features, seed: 6), shape: [n, features])
            let before = try coder.objective(x, codes: coder.encode(x))
            for _ in 0..<10 {
                let codes = try coder.encode(x)
                try coder.updateDictionary(x, codes: codes)
                let phi = try backend.download(coder.dictionary)
                for k in 0..<atoms {
                    let norm = (0..<features).reduce(0.0) { $0 + Double(phi[k * features + $1] * phi[k * features + $1]) }.squareRoot()
                    XCTAssertEqual(norm, 1, accuracy: 1e-6, "\(backend.name) atom \(k)")
                }
            }
            let after = try coder.objective(x, codes: coder.encode(x))
            XCTAssertLessThan(after.loss, 0.5 * before.loss, "\(backend.name): objective \(before) -> \(after)")
            XCTAssertLessThan(after.nonZeros, 0.5 * before.nonZeros, "\(backend.name): codes per example \(before) -> \(after)")
            learnt.append((backend.name, try backend.download(coder.dictionary)))
        }
        for (name, phi) in learnt.dropFirst() {
            let worst = zip(phi, learnt[0].1).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "\(name) dictionary differs from \(learnt[0].0)")
        }
    }

    func testRefusesBadSettings() throws {
        let backend = try CPUBackend()
        assertNNError(contains: ["--lambda", "-1"]) { _ = try SparseCoder(atoms: 4, features: 3, lambda: -1, backend: backend, seed: 1) }
        let coder = try SparseCoder(atoms: 4, features: 3, lambda: 0.1, backend: backend, seed: 1)
        assertNNError(contains: ["7 values", "3 features"]) { _ = try coder.encode(backend.tensor(shape: [7])) }
    }
}
