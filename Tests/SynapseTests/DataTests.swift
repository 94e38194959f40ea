import Foundation
import Synapse
import XCTest

/// Data set readers (IDX, CIFAR-10), normalisation and mini-batch order. Files are written into a fresh
/// temporary directory per test; gzip files are made with the system's `gzip`, an independent writer.
final class DataTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - Helpers

    /// An IDX file: magic `00 00 type rank`, big-endian dimensions, then `data`.
    private func idx(type: UInt8 = 0x08, shape: [Int], data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for dimension in shape {
            bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: dimension >> $0) }
        }
        return bytes + data
    }

    /// Writes `bytes` to `name` in the test directory (creating folders) and returns the path.
    @discardableResult
    private func write(_ bytes: [UInt8], _ name: String, in folder: URL? = nil) throws -> String {
        let url = (folder ?? directory).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Compresses `path` to `path.gz` (removing `path`) with the system's gzip; returns the new path.
    @discardableResult
    private func gzip(_ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-f", path]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "gzip \(path)")
        return path + ".gz"
    }

    /// A small MNIST-like directory: `counts` training and test images of 2 x 3 pixels; pixel j of image i
    /// is `(i * 6 + j) * 5 % 256`, label i is `i % 10`. Training images are gzipped, test images plain.
    private func writeIDXDirectory(_ name: String, train: Int = 12, test: Int = 4, trainLabels: [UInt8]? = nil)
        throws -> URL {
        let folder = directory.appendingPathComponent(name)
        func pixels(_ n: Int) -> [UInt8] { (0..<n * 6).map { UInt8($0 * 5 % 256) } }
        func labels(_ n: Int) -> [UInt8] { (0..<n).map { UInt8($0 % 10) } }
        let trainLabels = trainLabels ?? labels(train)
        try gzip(write(idx(shape: [train, 2, 3], data: pixels(train)), "train-images-idx3-ubyte", in: folder))
        try gzip(write(idx(shape: [trainLabels.count], data: trainLabels), "train-labels-idx1-ubyte", in: folder))
        try write(idx(shape: [test, 2, 3], data: pixels(test)), "t10k-images-idx3-ubyte", in: folder)
        try write(idx(shape: [test], data: labels(test)), "t10k-labels-idx1-ubyte", in: folder)
        return folder
    }

    /// A data set of `count` samples of `shape` whose values encode (sample, element): `sample * 1000 + element`.
    private func indexedDataset(count: Int, shape: [Int] = [2, 2, 2]) throws -> Dataset {
        let size = shape.reduce(1, *)
        let images: [Float] = (0..<count * size).map { i in Float(i / size * 1000 + i % size) }
        return try Dataset(name: "indexed", images: images,
                           labels: (0..<count).map { Int32($0 % 3) }, sampleShape: shape, classNames: ["a", "b", "c"])
    }

    // MARK: - IDX

    func testIDXRoundTripPlainAndGzip() throws {
        let data = (0..<24).map { UInt8($0 * 11 % 256) }
        let plain = try write(idx(shape: [3, 2, 4], data: data), "plain-idx3-ubyte")
        let compressed = try gzip(write(idx(shape: [3, 2, 4], data: data), "compressed-idx3-ubyte"))
        for path in [plain, compressed] {
            let file = try IDXFile(path: path)
            XCTAssertEqual(file.shape, [3, 2, 4], path)
            XCTAssertEqual(file.bytes, data, path)
        }
    }

    func testIDXTruncated() throws {
        let full = idx(shape: [3, 2, 4], data: [UInt8](repeating: 7, count: 24))
        let short = try write(Array(full.dropLast(5)), "short-idx3-ubyte")
        assertNNError(contains: [short, "truncated", "need 24 bytes", "found 19"]) { _ = try IDXFile(path: short) }

        let header = try write(Array(full.prefix(9)), "header-idx3-ubyte")
        assertNNError(contains: [header, "truncated header", "found 5"]) { _ = try IDXFile(path: header) }

        // A gzip stream cut off in the data, or only in its 8-byte trailer (CRC and length), where every IDX byte
        // is still there: zlib notices the missing end either way.
        for cut in [20, 3] {
            let compressed = try gzip(write(idx(shape: [100, 100], data: (0..<10_000).map { UInt8($0 % 251) }),
                                            "cut\(cut)-idx2-ubyte"))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: compressed))
            try bytes.prefix(bytes.count - cut).write(to: URL(fileURLWithPath: compressed))
            assertNNError(contains: [compressed, "truncated: the gzip stream breaks off"]) {
                _ = try IDXFile(path: compressed)
            }
        }
    }

    func testIDXTrailingData() throws {
        let path = try write(idx(shape: [2, 2], data: [1, 2, 3, 4, 5]), "long-idx2-ubyte")
        assertNNError(contains: [path, "unexpected data after the 4 bytes"]) { _ = try IDXFile(path: path) }
    }

    func testIDXWrongMagic() throws {
        let path = try write([0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0], "zip-idx1-ubyte")
        assertNNError(contains: [path, "not an IDX file", "50 4B 03 04"]) { _ = try IDXFile(path: path) }
        let tiny = try write([0, 0], "tiny-idx1-ubyte")
        assertNNError(contains: [tiny, "too short", "2 bytes"]) { _ = try IDXFile(path: tiny) }
    }

    func testIDXUnsupportedType() throws {
        let path = try write(idx(type: 0x0D, shape: [1], data: [0, 0, 0, 0]), "float-idx1-ubyte")
        assertNNError(contains: [path, "unsupported", "0x0D", "32-bit float", "0x08"]) {
            _ = try IDXFile(path: path)
        }
    }

    func testIDXAbsurdDimensionsAreRejectedBeforeAllocating() throws {
        let path = try write(idx(shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], data: [1, 2, 3]), "huge-idx3-ubyte")
        assertNNError(contains: [path, "[4294967295, 4294967295, 4294967295]", "more than"]) {
            _ = try IDXFile(path: path)
        }
        // No images, but rows times columns overflow: refused, not read as an empty file of impossible samples.
        let empty = try write(idx(shape: [0, 0xFFFF_FFFF, 0xFFFF_FF15], data: []), "empty-idx3-ubyte")
        assertNNError(contains: [empty, "[0, 4294967295, 4294967061]", "more than"]) { _ = try IDXFile(path: empty) }
        // Plausible dimensions but almost no data: reported as truncated, without allocating 2 GB first.
        let big = try write(idx(shape: [40_000, 40_000], data: [1, 2, 3]), "big-idx2-ubyte")
        assertNNError(contains: [big, "need 1600000000 bytes", "found 3"]) { _ = try IDXFile(path: big) }
    }

    func testIDXMissingFile() {
        let path = directory.appendingPathComponent("absent-idx1-ubyte").path
        assertNNError(contains: [path, "no such file"]) { _ = try IDXFile(path: path) }
        assertNNError(contains: [directory.path, "is a directory"]) { _ = try IDXFile(path: directory.path) }
    }

    // MARK: - IDX data sets

    func testLoadIDXDirectory() throws {
        let folder = try writeIDXDirectory("my-fashion-set")
        let (train, test) = try Dataset.loadIDX(directory: folder.path)
        XCTAssertEqual(train.count, 12)
        XCTAssertEqual(test.count, 4)
        XCTAssertEqual(train.sampleShape, [1, 2, 3])
        XCTAssertEqual(test.sampleShape, [1, 2, 3])
        XCTAssertEqual(train.name, "my-fashion-set/train")
        XCTAssertEqual(train.classCount, 10)
        XCTAssertEqual(train.classNames[0], "T-shirt/top")
        XCTAssertEqual(train.classNames[9], "Ankle boot")
        XCTAssertEqual(train.labels, (0..<12).map { Int32($0 % 10) })
        XCTAssertEqual(test.labels, [0, 1, 2, 3])
        XCTAssertEqual(train.images.count, 72)
        for (i, value) in train.images.enumerated() {
            XCTAssertEqual(value, Float(i * 5 % 256) / 255, "pixel \(i)")
        }
        XCTAssertEqual(train.images[51], 1) // byte 255
        XCTAssertEqual(Array(test.images), Array(train.images.prefix(24)))

        let digits = try Dataset.loadIDX(directory: writeIDXDirectory("digits").path)
        XCTAssertEqual(digits.train.classNames, (0..<10).map { String($0) })
    }

    func testLoadIDXCountMismatch() throws {
        let folder = try writeIDXDirectory("mismatch", trainLabels: [1, 2])
        let needles = ["train-images-idx3-ubyte.gz", "12 images", "train-labels-idx1-ubyte.gz", "2 labels"]
        assertNNError(contains: needles) {
            _ = try Dataset.loadIDX(directory: folder.path)
        }
    }

    func testLoadIDXWithoutImages() throws {
        let folder = try writeIDXDirectory("empty", train: 0, trainLabels: [])
        assertNNError(contains: ["train-images-idx3-ubyte.gz", "holds no images"]) {
            _ = try Dataset.loadIDX(directory: folder.path)
        }
    }

    func testLoadIDXLabelOutOfRange() throws {
        let folder = try writeIDXDirectory("badlabel", train: 3, trainLabels: [0, 10, 1])
        assertNNError(contains: ["train-labels-idx1-ubyte.gz", "label 10 at index 1", "0..<10"]) {
            _ = try Dataset.loadIDX(directory: folder.path)
        }
    }

    func testLoadIDXWrongRank() throws {
        let folder = try writeIDXDirectory("rank")
        try write(idx(shape: [4, 6], data: [UInt8](repeating: 0, count: 24)), "t10k-images-idx3-ubyte", in: folder)
        assertNNError(contains: ["t10k-images-idx3-ubyte", "expected 3 dimensions", "[4, 6]"]) {
            _ = try Dataset.loadIDX(directory: folder.path)
        }
    }

    func testLoadIDXMissingDirectoryOrFile() throws {
        let absent = directory.appendingPathComponent("nowhere").path
        assertNNError(contains: [absent, "no such directory"]) { _ = try Dataset.loadIDX(directory: absent) }

        let folder = try writeIDXDirectory("incomplete")
        try FileManager.default.removeItem(at: folder.appendingPathComponent("t10k-labels-idx1-ubyte"))
        assertNNError(contains: [folder.path, "missing", "t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte.gz"]) {
            _ = try Dataset.loadIDX(directory: folder.path)
        }
    }

    /// The real Fashion-MNIST (Debian's `dataset-fashion-mnist`), when installed.
    func testRealFashionMNIST() throws {
        let path = Dataset.defaultDirectory
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path),
                          "\(path) is absent (install Debian's dataset-fashion-mnist to run this test)")
        let start = Date()
        let (train, test) = try Dataset.loadIDX(directory: path)
        print("loaded Fashion-MNIST in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(train.sampleShape, [1, 28, 28])
        XCTAssertEqual(train.images.count, 60_000 * 784)
        XCTAssertEqual(train.classNames[9], "Ankle boot")
        var trainCounts = [Int](repeating: 0, count: 10), testCounts = trainCounts
        for label in train.labels { trainCounts[Int(label)] += 1 }
        for label in test.labels { testCounts[Int(label)] += 1 }
        XCTAssertEqual(trainCounts, [Int](repeating: 6000, count: 10))
        XCTAssertEqual(testCounts, [Int](repeating: 1000, count: 10))
        // Reference values read with Python's gzip module: the first labels, the first image's byte sum and maximum.
        XCTAssertEqual(Array(train.labels.prefix(5)), [9, 0, 0, 3, 0])
        let first = train.images.prefix(784)
        XCTAssertEqual(first.reduce(0, +), 76_247 / 255, accuracy: 1e-3)
        XCTAssertEqual(first.max(), 1)
    }

    // MARK: - CIFAR-10

    /// A CIFAR-10 record: `label`, then 3072 pixels where pixel j is `(seed + j) % 256`.
    private func cifarRecord(label: UInt8, seed: Int) -> [UInt8] {
        [label] + (0..<3072).map { UInt8((seed + $0) % 256) }
    }

    func testCIFAR10RoundTrip() throws {
        let folder = directory.appendingPathComponent("cifar-10-batches-bin")
        for batch in 1...5 {
            try write((0..<2).flatMap { cifarRecord(label: UInt8((2 * batch + $0) % 10), seed: 10 * batch + $0) },
                      "data_batch_\(batch).bin", in: folder)
        }
        try write(cifarRecord(label: 7, seed: 3), "test_batch.bin", in: folder)
        let (train, test) = try Dataset.loadCIFAR10(directory: folder.path)
        XCTAssertEqual(train.count, 10)
        XCTAssertEqual(test.count, 1)
        XCTAssertEqual(train.sampleShape, [3, 32, 32])
        XCTAssertEqual(train.classNames[0], "airplane")
        XCTAssertEqual(train.classNames[9], "truck")
        XCTAssertEqual(train.labels, [2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
        XCTAssertEqual(test.labels, [7])
        // Sample 3 is record 1 of data_batch_2: seed 21.
        XCTAssertEqual(Array(train.images[3 * 3072..<4 * 3072]), (0..<3072).map { Float((21 + $0) % 256) / 255 })
        XCTAssertEqual(Array(test.images), (0..<3072).map { Float((3 + $0) % 256) / 255 })
    }

    func testCIFAR10BadSizeAndLabel() throws {
        let odd = try write(cifarRecord(label: 1, seed: 0) + [9], "odd.bin")
        assertNNError(contains: [odd, "3074 bytes", "3073-byte"]) { _ = try CIFAR10File(path: odd) }
        let empty = try write([], "empty.bin")
        assertNNError(contains: [empty, "size 0 bytes"]) { _ = try CIFAR10File(path: empty) }
        let bad = try write(cifarRecord(label: 1, seed: 0) + cifarRecord(label: 10, seed: 0), "bad.bin")
        assertNNError(contains: [bad, "record 1", "label 10"]) { _ = try CIFAR10File(path: bad) }

        let folder = directory.appendingPathComponent("partial-cifar")
        try write(cifarRecord(label: 1, seed: 0), "data_batch_1.bin", in: folder)
        assertNNError(contains: [folder.path, "missing data_batch_2.bin"]) {
            _ = try Dataset.loadCIFAR10(directory: folder.path)
        }
    }

    // MARK: - Data sets, normalisation

    func testDatasetValidationAndSubset() throws {
        XCTAssertThrowsError(try Dataset(name: "x", images: [0, 0, 0], labels: [0, 0], sampleShape: [1, 1, 2],
                                         classNames: ["a"]))
        XCTAssertThrowsError(try Dataset(name: "x", images: [0, 0], labels: [1], sampleShape: [1, 1, 2],
                                         classNames: ["a"]))
        XCTAssertThrowsError(try Dataset(name: "x", images: [0, .nan], labels: [0], sampleShape: [1, 1, 2],
                                         classNames: ["a"]))
        XCTAssertThrowsError(try Dataset(name: "x", images: [], labels: [], sampleShape: [1, 1 << 32, 1 << 32],
                                         classNames: ["a"])) { error in
            XCTAssertTrue("\(error)".contains("more than"), "\(error)")
        }

        let data = try indexedDataset(count: 5)
        let middle = try data.subset(1..<3)
        XCTAssertEqual(middle.count, 2)
        XCTAssertEqual(middle.labels, [1, 2])
        let expected: [Float] = (0..<16).map { (i: Int) in Float((i / 8 + 1) * 1000 + i % 8) }
        XCTAssertEqual(middle.images, expected)
        XCTAssertEqual(try data.subset(first: 2).labels, [0, 1])
        XCTAssertEqual(try data.subset(first: 50).count, 5)
        XCTAssertThrowsError(try data.subset(3..<6))
        XCTAssertThrowsError(try data.subset(first: -1))
    }

    func testNormalizationGivesZeroMeanUnitStd() throws {
        var random = TestRandom(seed: 11)
        // Three channels with different offsets and scales, one of them far from zero.
        let count = 40, plane = 25
        var images = [Float]()
        for _ in 0..<count {
            for (offset, scale) in [(Float(0.5), Float(0.1)), (100, 3), (-2, 0.01)] {
                images += random.floats(plane).map { offset + scale * $0 }
            }
        }
        var train = try Dataset(name: "random", images: images, labels: [Int32](repeating: 0, count: count),
                                sampleShape: [3, 5, 5], classNames: ["only"])
        let normalization = Normalization.fit(train)
        XCTAssertEqual(normalization.mean[1], 100, accuracy: 0.5)
        try normalization.apply(to: &train)
        let after = Normalization.fit(train)
        // Float32 inputs near -2 are spaced 2.4e-7 apart, 4e-5 of channel 2's std: that bounds the agreement.
        for c in 0..<3 {
            XCTAssertEqual(after.mean[c], 0, accuracy: 1e-4, "channel \(c) mean")
            XCTAssertEqual(after.std[c], 1, accuracy: 1e-4, "channel \(c) std")
        }

        var constant = try Dataset(name: "constant", images: [Float](repeating: 4, count: 8),
                                   labels: [0, 0], sampleShape: [1, 2, 2], classNames: ["only"])
        let flat = Normalization.fit(constant)
        XCTAssertEqual(flat, try Normalization(mean: [4], std: [1]))
        try flat.apply(to: &constant)
        XCTAssertEqual(constant.images, [Float](repeating: 0, count: 8))
        XCTAssertThrowsError(try normalization.apply(to: &constant), "3 channels applied to 1")
        XCTAssertThrowsError(try Normalization(mean: [0], std: [0]))
    }

    // MARK: - Batches

    func testBatchOrderIsADeterministicPermutation() throws {
        let data = try indexedDataset(count: 1000, shape: [1, 1, 1])
        let order = data.batchOrder(epoch: 0, seed: 42, shuffle: true)
        XCTAssertEqual(order.sorted(), Array(0..<1000), "a permutation")
        XCTAssertNotEqual(order, Array(0..<1000))
        XCTAssertEqual(data.batchOrder(epoch: 0, seed: 42, shuffle: true), order, "same seed and epoch")
        XCTAssertNotEqual(data.batchOrder(epoch: 1, seed: 42, shuffle: true), order, "another epoch")
        XCTAssertNotEqual(data.batchOrder(epoch: 0, seed: 43, shuffle: true), order, "another seed")
        XCTAssertEqual(data.batchOrder(epoch: 3, seed: 42, shuffle: false), Array(0..<1000))

        // Pinned: the order is part of what makes runs reproducible across machines and versions. The value was
        // also computed by an independent Python implementation of Philox4x32-10 and this Fisher-Yates.
        let small = try indexedDataset(count: 10, shape: [1, 1, 1])
        XCTAssertEqual(small.batchOrder(epoch: 0, seed: 42, shuffle: true), [7, 8, 6, 5, 4, 2, 0, 9, 1, 3])
        XCTAssertEqual(try small.subset(first: 1).batchOrder(epoch: 0, seed: 42, shuffle: true), [0])
        XCTAssertEqual(try small.subset(first: 0).batchOrder(epoch: 0, seed: 42, shuffle: true), [])
    }

    func testBatchesCoverEveryIndexOnce() throws {
        let data = try indexedDataset(count: 10, shape: [1, 1, 1])
        let batches = try data.batches(epoch: 2, seed: 7, batchSize: 4, shuffle: true)
        XCTAssertEqual(batches.map(\.count), [4, 4, 2], "ceil(10 / 4) batches, the last smaller")
        XCTAssertEqual(batches.flatMap { $0 }, data.batchOrder(epoch: 2, seed: 7, shuffle: true))
        XCTAssertEqual(try data.batches(epoch: 0, seed: 7, batchSize: 5, shuffle: false).map(Array.init),
                       [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
        XCTAssertThrowsError(try data.batches(epoch: 0, seed: 7, batchSize: 0, shuffle: true))
    }

    func testBatchGathersSamples() throws {
        let data = try indexedDataset(count: 6)
        let (images, labels) = data.batch(indices: [4, 0, 4, 2][...])
        XCTAssertEqual(labels, [1, 0, 1, 2])
        let expected: [Float] = [4, 0, 4, 2].flatMap { (sample: Int) in (0..<8).map { Float(sample * 1000 + $0) } }
        XCTAssertEqual(images, expected)
        let empty = data.batch(indices: [][...])
        XCTAssertEqual(empty.images, [])
        XCTAssertEqual(empty.labels, [])
    }
}
