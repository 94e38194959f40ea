import Foundation
import SynapseCore

/// A labelled image data set held in host memory as Float32, ready to be cut into mini-batches.
public struct Dataset: Sendable {
    /// Where it came from, e.g. `fashion-mnist/train`.
    public let name: String
    /// `count` samples of `sampleShape`, row-major (N x C x H x W). Settable inside the module only, so that
    /// its size always matches `labels`; `Normalization.apply` rewrites it in place.
    public internal(set) var images: [Float]
    /// One class index in `0..<classCount` per sample.
    public let labels: [Int32]
    /// Shape of one sample: `[C, H, W]` for images (any non-empty shape is accepted; `Normalization` takes
    /// its first dimension as the channels).
    public let sampleShape: [Int]
    /// The name of each class, indexed by label.
    public let classNames: [String]

    /// The number of classes.
    public var classCount: Int { classNames.count }
    /// The number of samples.
    public var count: Int { labels.count }
    /// Floats per sample.
    public var sampleSize: Int { sampleShape.reduce(1, *) }

    /// Throws `NNError.invalidSetting` unless `images` holds `labels.count` samples of `sampleShape`, all finite,
    /// and every label names one of `classNames`.
    public init(name: String, images: [Float], labels: [Int32], sampleShape: [Int], classNames: [String]) throws {
        func fail(_ message: String) -> NNError { .invalidSetting(name: "data set '\(name)'", message: message) }
        guard !sampleShape.isEmpty, sampleShape.allSatisfy({ $0 > 0 }) else {
            throw fail("sample shape \(describe(sampleShape)) must have positive dimensions")
        }
        guard !classNames.isEmpty else { throw fail("needs at least one class name") }
        var sampleSize = 1
        for dimension in sampleShape {
            let (product, overflow) = sampleSize.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= Int(Int32.max) else {
                throw fail("sample shape \(describe(sampleShape)) has more than \(Int32.max) values")
            }
            sampleSize = product
        }
        guard images.count == labels.count * sampleSize else {
            throw fail("\(images.count) image values are not \(labels.count) samples of \(describe(sampleShape))")
        }
        if let index = labels.firstIndex(where: { !(0..<Int32(classNames.count)).contains($0) }) {
            throw fail("label \(labels[index]) of sample \(index) is not in 0..<\(classNames.count)")
        }
        if let index = images.firstIndex(where: { !$0.isFinite }) {
            throw fail("image value \(index) is \(images[index])")
        }
        self.init(checkedName: name, images: images, labels: labels, sampleShape: sampleShape, classNames: classNames)
    }

    /// For callers that have already checked what the public initialiser checks.
    private init(checkedName name: String, images: [Float], labels: [Int32], sampleShape: [Int], classNames: [String]) {
        self.name = name
        self.images = images
        self.labels = labels
        self.sampleShape = sampleShape
        self.classNames = classNames
    }

    /// Samples `range`, which must lie within `0..<count`.
    public func subset(_ range: Range<Int>) throws -> Dataset {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw NNError.invalidSetting(name: "subset of '\(name)'",
                                         message: "range \(range) is outside the \(count) samples")
        }
        let values = range.lowerBound * sampleSize..<range.upperBound * sampleSize
        return Dataset(checkedName: name, images: Array(images[values]), labels: Array(labels[range]),
                       sampleShape: sampleShape, classNames: classNames)
    }

    /// The samples with each value made 1 where it is at least `threshold` and 0 elsewhere: binary images for
    /// an RBM's binary visible units (pixels in [0, 1] with the threshold 0.5, as the scikit-learn RBM example does).
    public func binarized(threshold: Float = 0.5) -> Dataset {
        Dataset(checkedName: name, images: images.map { $0 >= threshold ? 1 : 0 }, labels: labels, sampleShape: sampleShape,
                classNames: classNames)
    }

    /// The first `n` samples, or all of them when there are fewer (so a sample limit can be given for any set).
    public func subset(first n: Int) throws -> Dataset {
        guard n >= 0 else {
            throw NNError.invalidSetting(name: "subset of '\(name)'", message: "sample count \(n) is negative")
        }
        return try subset(0..<min(n, count))
    }
}

// MARK: - Loading

extension Dataset {
    /// Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it (the four `.gz` files).
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    static let fashionMNISTClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    static let cifar10ClassNames = ["airplane", "automobile", "bird", "cat", "deer",
                                    "dog", "frog", "horse", "ship", "truck"]

    /// MNIST or Fashion-MNIST from the four IDX files in `directory` (`train-images-idx3-ubyte`,
    /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain or with `.gz`).
    /// Images become `[1, rows, cols]` samples scaled to [0, 1]. The files do not say which set they hold, so
    /// the class names are Fashion-MNIST's when the directory path contains "fashion", else "0" … "9".
    public static func loadIDX(directory: String) throws -> (train: Dataset, test: Dataset) {
        try checkDirectory(directory)
        let classNames = directory.lowercased().contains("fashion")
            ? fashionMNISTClassNames : (0..<10).map { String($0) }
        let base = URL(fileURLWithPath: directory).lastPathComponent
        let train = try loadIDXSplit(directory, images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte",
                                     name: "\(base)/train", classNames: classNames)
        let test = try loadIDXSplit(directory, images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte",
                                    name: "\(base)/test", classNames: classNames)
        guard train.sampleShape == test.sampleShape else {
            throw NNError.dataFile(path: directory, message: "training images are \(describe(train.sampleShape)) "
                + "but test images are \(describe(test.sampleShape))")
        }
        return (train, test)
    }

    private static func loadIDXSplit(_ directory: String, images imagesName: String, labels labelsName: String,
                                     name: String, classNames: [String]) throws -> Dataset {
        let imagesPath = try findFile(directory, imagesName, alternatives: [imagesName, imagesName + ".gz"])
        let labelsPath = try findFile(directory, labelsName, alternatives: [labelsName, labelsName + ".gz"])
        let images = try IDXFile(path: imagesPath)
        let labels = try IDXFile(path: labelsPath)
        guard images.shape.count == 3 else {
            throw NNError.dataFile(path: imagesPath, message: "expected 3 dimensions (images, rows, columns), "
                + "found \(describe(images.shape))")
        }
        guard images.shape[1] > 0, images.shape[2] > 0 else {
            throw NNError.dataFile(path: imagesPath, message: "images of \(images.shape[1])x\(images.shape[2]) pixels; "
                + "rows and columns must be positive")
        }
        guard images.shape[0] > 0 else { throw NNError.dataFile(path: imagesPath, message: "holds no images") }
        guard labels.shape.count == 1 else {
            throw NNError.dataFile(path: labelsPath, message: "expected 1 dimension (labels), "
                + "found \(describe(labels.shape))")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw NNError.dataFile(path: imagesPath, message: "holds \(images.shape[0]) images but \(labelsPath) "
                + "holds \(labels.shape[0]) labels")
        }
        if let index = labels.bytes.firstIndex(where: { Int($0) >= classNames.count }) {
            throw NNError.dataFile(path: labelsPath, message: "label \(labels.bytes[index]) at index \(index) "
                + "is not in 0..<\(classNames.count)")
        }
        return Dataset(checkedName: name, images: unitFloats(images.bytes), labels: labels.bytes.map { Int32($0) },
                       sampleShape: [1, images.shape[1], images.shape[2]], classNames: classNames)
    }

    /// CIFAR-10 from the binary version's files in `directory` (`data_batch_1.bin` … `data_batch_5.bin` for
    /// training, `test_batch.bin` for testing). Images are `[3, 32, 32]` samples scaled to [0, 1].
    public static func loadCIFAR10(directory: String) throws -> (train: Dataset, test: Dataset) {
        try checkDirectory(directory)
        let base = URL(fileURLWithPath: directory).lastPathComponent
        func load(_ names: [String], split: String) throws -> Dataset {
            let files = try names.map { try CIFAR10File(path: findFile(directory, $0, alternatives: [$0])) }
            return Dataset(checkedName: "\(base)/\(split)", images: unitFloats(files.flatMap(\.pixels)),
                           labels: files.flatMap(\.labels).map { Int32($0) }, sampleShape: CIFAR10File.imageShape,
                           classNames: cifar10ClassNames)
        }
        return (try load((1...5).map { "data_batch_\($0).bin" }, split: "train"),
                try load(["test_batch.bin"], split: "test"))
    }

    private static func checkDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NNError.dataFile(path: directory, message: "no such directory")
        }
    }

    /// The first of `alternatives` present in `directory`; the error lists every name tried.
    private static func findFile(_ directory: String, _ what: String, alternatives: [String]) throws -> String {
        let paths = alternatives.map { URL(fileURLWithPath: directory).appendingPathComponent($0).path }
        guard let path = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw NNError.dataFile(path: directory, message: "missing \(what): looked for "
                + alternatives.joined(separator: " and "))
        }
        return path
    }

    /// Pixel bytes as Floats in [0, 1], divided (not multiplied by 1/255) so that values match torchvision's exactly.
    private static func unitFloats(_ bytes: [UInt8]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bytes.count) { target, initialized in
            bytes.withUnsafeBufferPointer { source in
                for i in 0..<source.count { target[i] = Float(source[i]) / 255 }
            }
            initialized = bytes.count
        }
    }
}

// MARK: - Normalisation

/// Per-channel standardisation, `x' = (x - mean[c]) / std[c]`. Fit it on the training set only and apply
/// the same statistics to the test set (and to any data the model sees later): statistics taken from the
/// test set would leak it into training and make the two sets' inputs differ.
public struct Normalization: Equatable, Codable, Sendable {
    /// The mean of each channel, subtracted first.
    public let mean: [Float]
    /// The standard deviation of each channel, divided by after the mean is subtracted; at least `minimumStd`.
    public let std: [Float]

    /// The smallest standard deviation a channel may be divided by. Pixels in [0, 1] that vary less than this
    /// are constant for every purpose (`fit` then only centres them); dividing by less would blow tiny
    /// differences up into huge inputs, or into infinity for a std of 1e-45.
    public static let minimumStd: Float = 1e-6

    /// Throws `NNError.invalidSetting` unless there is one finite `mean` and one finite `std` of at least
    /// `minimumStd` per channel.
    public init(mean: [Float], std: [Float]) throws {
        guard !mean.isEmpty, mean.count == std.count, mean.allSatisfy(\.isFinite),
              std.allSatisfy({ $0.isFinite && $0 >= Self.minimumStd }) else {
            throw NNError.invalidSetting(name: "normalization", message: "needs one finite mean and one finite "
                + "standard deviation of at least \(Self.minimumStd) per channel, got mean \(mean) and std \(std)")
        }
        self.mean = mean
        self.std = std
    }

    /// The mean and (population) standard deviation of each channel, accumulated in Double so that tens of
    /// millions of values sum without drift. A constant channel (std below `minimumStd`) gets std 1, so it is
    /// only centred.
    /// An empty data set gives mean 0 and std 1.
    public static func fit(_ dataset: Dataset) -> Normalization {
        let channels = dataset.sampleShape[0]
        let plane = dataset.sampleSize / channels
        let perChannel = Double(max(dataset.count * plane, 1))
        var means = [Double](repeating: 0, count: channels)
        var squares = [Double](repeating: 0, count: channels)
        dataset.images.withUnsafeBufferPointer { values in
            // Two passes, the second about the mean: the one-pass formula loses precision when mean >> std.
            for sample in 0..<dataset.count {
                for c in 0..<channels {
                    let start = (sample * channels + c) * plane
                    for value in values[start..<start + plane] { means[c] += Double(value) }
                }
            }
            means = means.map { $0 / perChannel }
            for sample in 0..<dataset.count {
                for c in 0..<channels {
                    let start = (sample * channels + c) * plane
                    for value in values[start..<start + plane] {
                        let d = Double(value) - means[c]
                        squares[c] += d * d
                    }
                }
            }
        }
        return Normalization(checkedMean: means.map { Float($0) }, std: squares.map { sumOfSquares in
            let std = Float((sumOfSquares / perChannel).squareRoot())
            return std >= minimumStd ? std : 1
        })
    }

    /// For statistics computed by `fit` from finite data (`Dataset` admits no other).
    private init(checkedMean mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// As checkpoint metadata: comma-separated per-channel values.
    public var metadata: [String: String] {
        ["normalization.mean": mean.map { "\($0)" }.joined(separator: ","),
         "normalization.std": std.map { "\($0)" }.joined(separator: ",")]
    }

    /// The normalisation a checkpoint written by `synapse train` must hold, as `stored`, with an error when it has none.
    public static func required(in metadata: [String: String], path: String) throws -> Normalization {
        guard let normalization = try stored(in: metadata, path: path) else {
            throw NNError.checkpoint(path: path, message: "metadata 'normalization.mean'/'normalization.std' are missing")
        }
        return normalization
    }

    /// The normalisation stored in checkpoint `path`'s metadata; nil when the checkpoint has none, an error
    /// naming the field when a value does not parse or is out of range.
    public static func stored(in metadata: [String: String], path: String) throws -> Normalization? {
        let keys = ["normalization.mean", "normalization.std"]
        guard keys.contains(where: { metadata[$0] != nil }) else { return nil }
        let fields = try keys.map { key in
            guard let text = metadata[key] else {
                throw NNError.checkpoint(path: path, message: "metadata field '\(key)' is missing")
            }
            return try text.split(separator: ",", omittingEmptySubsequences: false).map { field in
                guard let value = Float(field) else {
                    throw NNError.checkpoint(path: path, message: "metadata field '\(key)' holds '\(field)', not a number")
                }
                return value
            }
        }
        do {
            return try Normalization(mean: fields[0], std: fields[1])
        } catch NNError.invalidSetting(_, let message) {
            throw NNError.checkpoint(path: path, message: "its normalization \(message)")
        }
    }

    /// Standardises `dataset.images` in place; throws `NNError.invalidSetting` when the channel counts differ.
    public func apply(to dataset: inout Dataset) throws {
        let channels = dataset.sampleShape[0]
        guard channels == mean.count else {
            throw NNError.invalidSetting(name: "normalization", message: "has \(mean.count) channels but data set "
                + "'\(dataset.name)' has \(channels)")
        }
        let plane = dataset.sampleSize / channels
        let samples = dataset.count
        dataset.images.withUnsafeMutableBufferPointer { values in
            for sample in 0..<samples {
                for c in 0..<channels {
                    let start = (sample * channels + c) * plane
                    for i in start..<start + plane { values[i] = (values[i] - mean[c]) / std[c] }
                }
            }
        }
    }
}
