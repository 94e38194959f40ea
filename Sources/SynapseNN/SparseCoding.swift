import Foundation
import SynapseCore

/// Sparse coding (Olshausen & Field): a dictionary of unit-norm atoms `Phi` `[atoms, features]` and, for each
/// example `x`, a code `a` that minimises `1/2 ||x - a Phi||^2 + lambda ||a||_1`. Learning alternates the two
/// steps: `encode` solves the LASSO for the codes with the dictionary fixed (FISTA, Beck & Teboulle, on the
/// device), and `updateDictionary` solves the least-squares problem for the atoms with the codes fixed, one atom
/// at a time (block coordinate descent, as Mairal et al.'s dictionary learning), each atom then put back on the
/// unit sphere.
public final class SparseCoder {
    /// The device the dictionary and the codes live on.
    public let backend: Backend
    /// Atoms in the dictionary (more than `features` makes it overcomplete).
    public let atoms: Int
    /// Values per example: the pixels of a patch.
    public let features: Int
    /// The L1 weight lambda: larger gives sparser codes.
    public let lambda: Float
    /// The dictionary `[atoms, features]`, each row of unit Euclidean norm.
    public let dictionary: Tensor
    private let call: LayerCall

    /// A dictionary of `atoms` random unit-norm atoms (Gaussian directions drawn from Philox under `seed`).
    public init(atoms: Int, features: Int, lambda: Float, backend: Backend, seed: UInt64) throws {
        guard atoms > 0, features > 0 else {
            throw NNError.invalidSetting(name: "sparse coding", message: "needs atoms and features, got \(atoms) and \(features)")
        }
        guard lambda.isFinite, lambda >= 0 else {
            throw NNError.invalidSetting(name: "--lambda", message: "must be finite and not negative, got \(lambda)")
        }
        self.backend = backend
        self.atoms = atoms
        self.features = features
        self.lambda = lambda
        call = LayerCall(backend: backend)
        dictionary = try backend.tensor(shape: [atoms, features])
        var values = Initializer.gaussian(mean: 0, std: 1).values(count: atoms * features, fanIn: features, fanOut: atoms,
                                                                   address: PhiloxAddress(seed: seed, stream: RandomStream.parameter(0)))
        Self.normalizeRows(&values, width: features)
        try backend.upload(values, to: dictionary)
    }

    /// Scales every row of `values` to unit norm; a row of zeros becomes the first unit vector.
    static func normalizeRows(_ values: inout [Float], width: Int) {
        for row in 0..<values.count / width {
            let range = row * width..<(row + 1) * width
            let norm = values[range].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            if norm > 0 {
                for i in range { values[i] = Float(Double(values[i]) / norm) }
            } else {
                values[range.lowerBound] = 1
            }
        }
    }

    /// The Lipschitz constant of the codes' gradient: the largest eigenvalue of `Phi Phi^T`, by power iteration on
    /// the host (the Gram matrix is `atoms x atoms`) from the same start each time, until the estimate moves by less
    /// than a millionth (at most 100 steps).
    private func lipschitz() throws -> Double {
        let values = try backend.download(try gram()).map(Double.init)
        var v = [Double](repeating: 1 / Double(atoms).squareRoot(), count: atoms), w = v, estimate = 0.0
        for _ in 0..<100 {
            values.withUnsafeBufferPointer { g in
                for i in 0..<atoms {
                    var sum = 0.0
                    for j in 0..<atoms { sum += g[i &* atoms &+ j] * v[j] }
                    w[i] = sum
                }
            }
            let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { return 1 }
            let converged = abs(norm - estimate) <= 1e-6 * norm
            estimate = norm
            for i in 0..<atoms { v[i] = w[i] / norm }
            if converged { break }
        }
        return estimate * 1.01   // a little above the estimate, so that the step is safely below 1/L
    }

    /// `Phi Phi^T`, `[atoms, atoms]`, in the coder's buffers.
    private func gram() throws -> Tensor {
        let g = try call.tensor("gram", shape: [atoms, atoms])
        try backend.gemm(transA: false, transB: true, m: atoms, n: atoms, k: features, alpha: 1, a: dictionary, lda: features,
                         b: dictionary, ldb: features, beta: 0, c: g, ldc: atoms)
        return g
    }

    /// The codes `[n, atoms]` of the examples `x` `[n, features]`: up to `iterations` steps of FISTA from zero codes,
    /// each a gradient step on the squared error (`A G - X Phi^T`, with `G = Phi Phi^T`) of size `1/L`, a soft
    /// threshold at `lambda / L`, and Nesterov's extrapolation. With a `tolerance`, every tenth step reads whether the
    /// codes moved by less than `tolerance` times their norm in that step, and stops if so (a read from the
    /// device); 0 runs every step. The result is written to a buffer of the coder's, valid until the next call.
    public func encode(_ x: Tensor, iterations: Int = 200, tolerance: Float = 0) throws -> Tensor {
        guard x.count % features == 0, x.count > 0 else {
            throw NNError.invalidSetting(name: "sparse coding", message: "\(x.count) values are not whole examples of \(features) features")
        }
        guard (1...100_000).contains(iterations) else {
            throw NNError.invalidSetting(name: "--iterations", message: "must be in 1...100000, got \(iterations)")
        }
        let n = x.count / features, step = Float(1 / (try lipschitz())), g = try gram()
        let correlations = try call.tensor("correlations", shape: [n, atoms])
        try backend.gemm(transA: false, transB: true, m: n, n: atoms, k: features, alpha: 1, a: x, lda: features,
                         b: dictionary, ldb: features, beta: 0, c: correlations, ldc: atoms)
        var codes = try call.tensor("codesA", shape: [n, atoms]), previous = try call.tensor("codesB", shape: [n, atoms])
        let point = try call.tensor("extrapolated", shape: [n, atoms])
        for t in [codes, previous, point] { try backend.fill(t, value: 0) }
        var momentum = 1.0
        let change = try call.tensor("change", shape: [n, atoms]), norms = try call.tensor("norms", shape: [2])
        for iteration in 1...iterations {
            // codes_new = soft(point - step * (point G - C), step * lambda), into the older buffer.
            try backend.gemm(transA: false, transB: false, m: n, n: atoms, k: atoms, alpha: -step, a: point, lda: atoms,
                             b: g, ldb: atoms, beta: 0, c: previous, ldc: atoms)
            try backend.axpy(alpha: step, x: correlations, y: previous)
            try backend.axpy(alpha: 1, x: point, y: previous)
            try backend.softThreshold(previous, threshold: step * lambda, output: previous)
            swap(&codes, &previous)
            let next = (1 + (1 + 4 * momentum * momentum).squareRoot()) / 2
            // point = codes + (momentum - 1) / next * (codes - previous)
            try backend.copy(from: codes, to: point)
            try backend.scale(point, by: Float(1 + (momentum - 1) / next))
            try backend.axpy(alpha: -Float((momentum - 1) / next), x: previous, y: point)
            momentum = next
            if tolerance > 0, iteration % 10 == 0 {
                try backend.copy(from: codes, to: change)
                try backend.axpy(alpha: -1, x: previous, y: change)
                try backend.sumOfSquares(change, result: norms.elements(0..<1))
                try backend.sumOfSquares(codes, result: norms.elements(1..<2))
                let squares = try backend.download(norms)
                if squares[0] <= tolerance * tolerance * squares[1] { break }
            }
        }
        return codes
    }

    /// One least-squares step for the dictionary with the codes `a` `[n, atoms]` of the examples `x` `[n, features]`
    /// fixed: for each atom in turn, the value that minimises the squared error with the others fixed,
    /// `phi_k += (X^T a_k - Phi^T M_k) / M_kk` with `M = A^T A`, then scaled to unit norm (an atom no example uses is
    /// left as it is). The products are made on the device, the atom-by-atom sweep on the host.
    public func updateDictionary(_ x: Tensor, codes a: Tensor) throws {
        let n = try examples(x, codes: a, atLeast: 1)
        let (gram, targets) = try statistics(x, codes: a, examples: n)
        try updateDictionary(gram: gram, targets: targets)
    }

    /// The examples in `x` (`[n, features]`), whose codes `a` (`[n, atoms]`) are; at least `minimum` of them.
    private func examples(_ x: Tensor, codes a: Tensor, atLeast minimum: Int = 0) throws -> Int {
        let n = x.count / features
        guard x.count == n * features, a.count == n * atoms, n >= minimum else {
            throw NNError.invalidSetting(name: "sparse coding", message: "codes \(describe(a.shape)) do not match examples \(describe(x.shape))")
        }
        return n
    }

    /// `A^T A` and `A^T X` of a batch, made on the device, as host arrays.
    private func statistics(_ x: Tensor, codes a: Tensor, examples n: Int) throws -> (gram: [Double], targets: [Double]) {
        let m = try call.tensor("codeGram", shape: [atoms, atoms]), b = try call.tensor("dataCodes", shape: [atoms, features])
        try backend.gemm(transA: true, transB: false, m: atoms, n: atoms, k: n, alpha: 1, a: a, lda: atoms, b: a, ldb: atoms,
                         beta: 0, c: m, ldc: atoms)
        try backend.gemm(transA: true, transB: false, m: atoms, n: features, k: n, alpha: 1, a: a, lda: atoms, b: x,
                         ldb: features, beta: 0, c: b, ldc: features)
        return (try backend.download(m).map(Double.init), try backend.download(b).map(Double.init))
    }

    /// The atom-by-atom least-squares sweep for the statistics `M = A^T A` (`gram`) and `B = A^T X` (`targets`).
    private func updateDictionary(gram: [Double], targets: [Double]) throws {
        var phi = try backend.download(dictionary).map(Double.init)
        var atom = [Double](repeating: 0, count: features)
        for k in 0..<atoms where gram[k * atoms + k] > 0 {
            // residual_k = B_k - sum_j M_kj phi_j, and phi_k moves by residual_k / M_kk.
            for f in 0..<features { atom[f] = targets[k * features + f] }
            phi.withUnsafeBufferPointer { phi in
                for j in 0..<atoms {
                    let weight = gram[k * atoms + j], row = phi.baseAddress! + j * features
                    for f in 0..<features { atom[f] -= weight * row[f] }
                }
            }
            let scale = 1 / gram[k * atoms + k]
            for f in 0..<features { atom[f] = phi[k * features + f] + atom[f] * scale }
            let norm = atom.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { continue }
            for f in 0..<features { phi[k * features + f] = atom[f] / norm }
        }
        try backend.upload(phi.map { Float($0) }, to: dictionary)
    }

    /// One pass over `patches` (`[n, features]`, on the host) in batches of `batchSize`, in an order drawn from Philox
    /// for `epoch` under `seed`: per batch, the codes (`iterations` FISTA steps) and a dictionary step on the
    /// statistics `A^T A` and `A^T X` of the epoch's batches so far, older batches weighted down by `forgetting` each
    /// step (Mairal et al.'s online dictionary learning; one batch alone makes the atoms jump). The statistics start
    /// afresh each epoch, so an epoch depends only on the dictionary it starts from. `progress` gets the batches done,
    /// their count and the objective summed so far; the sum over the epoch is returned.
    public func trainEpoch(_ patches: [Float], epoch: Int, seed: UInt64, batchSize: Int, iterations: Int, tolerance: Float = 0,
                           forgetting: Double = 0.95, progress: (Int, Int, Double) -> Void = { _, _, _ in }) throws -> Double {
        let data = try TensorDataset(name: "patches", reconstructing: patches, shape: [features])
        let batches = try data.batches(epoch: epoch, seed: seed, batchSize: batchSize, shuffle: true)
        let call = LayerCall(backend: backend)
        var total = 0.0
        var gram = [Double](repeating: 0, count: atoms * atoms), targets = [Double](repeating: 0, count: atoms * features)
        for batch in batches {
            let x = try data.uploadInputs(batch.samples, call: call)
            let codes = try encode(x, iterations: iterations, tolerance: tolerance)
            total += try objective(x, codes: codes).loss
            let (m, b) = try statistics(x, codes: codes, examples: batch.examples)
            for i in gram.indices { gram[i] = forgetting * gram[i] + m[i] }
            for i in targets.indices { targets[i] = forgetting * targets[i] + b[i] }
            try updateDictionary(gram: gram, targets: targets)
            progress(batch.index + 1, batches.count, total)
        }
        return total
    }

    /// The objective `1/2 ||x - a Phi||^2 + lambda ||a||_1` summed over the examples, its squared-error part alone,
    /// and the mean number of non-zero codes per example: the residual made on the device, the sums on the host.
    public func objective(_ x: Tensor, codes a: Tensor) throws -> (loss: Double, squaredError: Double, nonZeros: Double) {
        let n = try examples(x, codes: a)
        guard n > 0 else { return (0, 0, 0) }
        let residual = try call.tensor("residual", shape: [n, features])
        try backend.copy(from: x.reshaped([n, features]), to: residual)
        try backend.gemm(transA: false, transB: false, m: n, n: features, k: atoms, alpha: -1, a: a, lda: atoms, b: dictionary,
                         ldb: features, beta: 1, c: residual, ldc: features)
        let squaredError = try backend.download(residual).reduce(0.0) { $0 + 0.5 * Double($1) * Double($1) }
        var l1 = 0.0, nonZeros = 0
        for code in try backend.download(a) where code != 0 {
            l1 += Double(lambda) * Double(abs(code))
            nonZeros += 1
        }
        return (squaredError + l1, squaredError, Double(nonZeros) / Double(n))
    }
}
