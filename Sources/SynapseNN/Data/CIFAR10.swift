/// One file of the CIFAR-10 binary version (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`):
/// records of one label byte followed by a 3 x 32 x 32 image, channel-major (all red, then green, then blue).
public struct CIFAR10File {
    /// Classes in CIFAR-10; every label is below it.
    public static let classCount = 10
    /// The shape of one image: channels, height, width.
    public static let imageShape = [3, 32, 32]
    /// Bytes of one image.
    public static let imageSize = 3 * 32 * 32
    /// Bytes of one record: the label byte, then the image.
    public static let recordSize = 1 + imageSize

    /// One label in 0..<10 per record.
    public let labels: [UInt8]
    /// `labels.count` images of `imageSize` bytes each, in file order.
    public let pixels: [UInt8]

    /// Reads `path` (plain, or gzip-compressed). Every problem throws `NNError.dataFile` naming the file.
    public init(path: String) throws {
        let data = try CompressedFileReader(path: path).readAll(limit: 1 << 28)
        guard !data.isEmpty, data.count % Self.recordSize == 0 else {
            throw NNError.dataFile(path: path, message: "size \(data.count) bytes is not a positive multiple of the "
                + "\(Self.recordSize)-byte CIFAR-10 record (1 label byte + \(Self.imageSize) pixel bytes)")
        }
        let count = data.count / Self.recordSize
        var labels = [UInt8](repeating: 0, count: count)
        var pixels = [UInt8](repeating: 0, count: count * Self.imageSize)
        try data.withUnsafeBufferPointer { source in
            try pixels.withUnsafeMutableBufferPointer { target in
                for record in 0..<count {
                    let start = record * Self.recordSize
                    let label = source[start]
                    guard Int(label) < Self.classCount else {
                        throw NNError.dataFile(path: path, message: "record \(record) (byte offset \(start)) has "
                            + "label \(label), expected 0..<\(Self.classCount)")
                    }
                    labels[record] = label
                    target.baseAddress!.advanced(by: record * Self.imageSize)
                        .update(from: source.baseAddress!.advanced(by: start + 1), count: Self.imageSize)
                }
            }
        }
        self.labels = labels
        self.pixels = pixels
    }
}
