import SynapseCore

/// Mini-batches: the order of an epoch comes from Philox, so the same seed and epoch give the same batches on
/// every machine and device, and resuming at epoch `e` replays exactly the order an uninterrupted run would use.
extension Dataset {
    /// The order in which epoch `epoch` (≥ 0) visits the samples: a permutation of `0..<count`, the identity
    /// when `shuffle` is false. The shuffle is Fisher-Yates from the last position down; the swap for position
    /// `i` takes word `count - 1 - i` of stream `RandomStream.shuffle(epoch:)` under `seed` and maps it to
    /// `0...i` by `word * (i + 1) >> 32`, whose bias (at most `(i + 1) / 2^32`) is negligible for data sets.
    public func batchOrder(epoch: Int, seed: UInt64, shuffle: Bool) -> [Int] {
        shuffle ? permutation(count, seed: seed, stream: RandomStream.shuffle(epoch: epoch)) : Array(0..<count)
    }

    /// The sample indices of each batch of epoch `epoch`: `batchOrder` cut into `ceil(count / batchSize)`
    /// consecutive slices. The last batch is smaller when `batchSize` does not divide `count`; it is kept, so
    /// that every sample is seen exactly once per epoch.
    public func batches(epoch: Int, seed: UInt64, batchSize: Int, shuffle: Bool) throws -> [ArraySlice<Int>] {
        guard batchSize > 0 else {
            throw NNError.invalidSetting(name: "batch size", message: "\(batchSize) must be at least 1")
        }
        let order = batchOrder(epoch: epoch, seed: seed, shuffle: shuffle)
        return stride(from: 0, to: count, by: batchSize).map { order[$0..<min($0 + batchSize, count)] }
    }

    /// The images (`indices.count` x `sampleShape`, row-major) and labels of the samples at `indices`, in order.
    public func batch(indices: ArraySlice<Int>) -> (images: [Float], labels: [Int32]) {
        (gatherRows(images, rowSize: sampleSize, indices: indices, name: name), indices.map { labels[$0] })
    }
}

/// Rows `indices` of `values` (rows of `rowSize` one after another), copied one after another into a new array.
func gatherRows(_ values: [Float], rowSize size: Int, indices: ArraySlice<Int>, name: String) -> [Float] {
    let count = values.count / max(size, 1)
    return [Float](unsafeUninitializedCapacity: indices.count * size) { target, initialized in
        values.withUnsafeBufferPointer { source in
            for (k, index) in indices.enumerated() {
                precondition((0..<count).contains(index), "sample \(index) is outside 0..<\(count) of '\(name)'")
                target.baseAddress!.advanced(by: k * size).initialize(from: source.baseAddress!.advanced(by: index * size), count: size)
            }
        }
        initialized = indices.count * size
    }
}
