import CPNG
import Foundation
import SynapseCore

/// An 8-bit image in memory, gray or RGB, row-major with interleaved channels.
public struct Picture: Equatable, Sendable {
    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// `height * width * channels` bytes, row after row.
    public var pixels: [UInt8]

    /// The eight bytes every PNG file starts with.
    public static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A picture of `width` x `height` pixels of `channels` (1 or 3), filled with `background`.
    public init(width: Int, height: Int, channels: Int, background: UInt8 = 0) throws {
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15, channels == 1 || channels == 3 else {
            throw NNError.invalidSetting(name: "picture", message: "\(width)x\(height) with \(channels) channels: sides must be in 1...32768 and the channels 1 or 3")
        }
        self.width = width
        self.height = height
        self.channels = channels
        pixels = [UInt8](repeating: background, count: width * height * channels)
    }

    /// The picture as PNG bytes, encoded by libpng.
    public func pngData() throws -> [UInt8] {
        // libpng wants the struct zeroed but for the fields set here.
        let image = UnsafeMutablePointer<png_image>.allocate(capacity: 1)
        defer { image.deallocate() }
        memset(image, 0, MemoryLayout<png_image>.size)
        image.pointee.version = UInt32(PNG_IMAGE_VERSION)
        image.pointee.width = UInt32(width)
        image.pointee.height = UInt32(height)
        image.pointee.format = channels == 1 ? UInt32(PNG_FORMAT_GRAY) : UInt32(PNG_FORMAT_FLAG_COLOR)   // PNG_FORMAT_RGB
        var size = 0
        let stride = Int32(width * channels)
        return try pixels.withUnsafeBytes { raw in
            guard png_image_write_to_memory(image, nil, &size, 0, raw.baseAddress, stride, nil) != 0 else {
                throw NNError.invalidSetting(name: "PNG", message: "libpng could not encode the picture: \(Self.message(image.pointee))")
            }
            var bytes = [UInt8](repeating: 0, count: size)
            let written = bytes.withUnsafeMutableBytes { out in
                png_image_write_to_memory(image, out.baseAddress, &size, 0, raw.baseAddress, stride, nil)
            }
            guard written != 0 else {
                throw NNError.invalidSetting(name: "PNG", message: "libpng could not encode the picture: \(Self.message(image.pointee))")
            }
            return Array(bytes.prefix(size))
        }
    }

    /// Writes the picture to `path` as PNG, atomically.
    public func writePNG(to path: String) throws {
        let bytes = try pngData()
        try AtomicFile.write(to: path, fail: { NNError.dataFile(path: path, message: $0) }) { writer in
            try bytes.withUnsafeBytes { try writer.write($0) }
        }
    }

    static func message(_ image: png_image) -> String {
        var text = image.message
        return withUnsafeBytes(of: &text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// Many small images (filters, samples) laid out in a grid on a gray background, each scaled to fill the gray
/// range on its own: the pictures the texts show of what a layer learnt.
public enum Mosaic {
    /// How a tile's values become gray levels.
    public enum Scaling: Sendable {
        /// Each tile from its own smallest value (black) to its largest (white): weights, whose sign is arbitrary.
        case perTile
        /// Values in [0, 1] as they are, 0 black and 1 white: probabilities, pixels.
        case unit
    }

    /// `tiles` tiles of `[channels, height, width]` values each (`values` holds them one after another), in a grid
    /// of `columns` (about square when nil), each pixel drawn as a `scale` x `scale` block, 1-pixel gaps (black between
    /// tiles scaled on their own, white between images in [0, 1]).
    public static func render(_ values: [Float], tileShape: [Int], columns: Int? = nil, scale: Int = 1,
                              scaling: Scaling = .perTile) throws -> Picture {
        guard tileShape.count == 3, tileShape[0] == 1 || tileShape[0] == 3, tileShape[1] > 0, tileShape[2] > 0 else {
            throw NNError.invalidSetting(name: "mosaic", message: "tiles must be [1 or 3 channels, height, width], got \(describe(tileShape))")
        }
        let (channels, height, width) = (tileShape[0], tileShape[1], tileShape[2])
        let size = channels * height * width
        guard !values.isEmpty, values.count % size == 0 else {
            throw NNError.invalidSetting(name: "mosaic", message: "\(values.count) values are not whole tiles of \(describe(tileShape))")
        }
        guard (1...64).contains(scale) else { throw NNError.invalidSetting(name: "--scale", message: "must be in 1...64, got \(scale)") }
        let count = values.count / size
        let across = max(1, min(count, columns ?? Int(Double(count).squareRoot().rounded(.up))))
        let down = (count + across - 1) / across
        let (cellWidth, cellHeight) = (width * scale + 1, height * scale + 1)
        // Gaps the tiles rarely reach: weights scaled per tile gather around mid-grey, images (probabilities) on black.
        var picture = try Picture(width: across * cellWidth + 1, height: down * cellHeight + 1, channels: channels,
                                  background: scaling == .unit ? 255 : 0)
        for tile in 0..<count {
            let part = values[tile * size..<(tile + 1) * size]
            let finite = part.filter(\.isFinite)
            let (low, high): (Float, Float) = scaling == .unit ? (0, 1) : (finite.min() ?? 0, finite.max() ?? 0)
            let span = high > low ? high - low : 1
            let (left, top) = (1 + (tile % across) * cellWidth, 1 + (tile / across) * cellHeight)
            for y in 0..<height * scale {
                for x in 0..<width * scale {
                    for c in 0..<channels {
                        let v = part[part.startIndex + (c * height + y / scale) * width + x / scale]
                        let level = v.isFinite ? min(max((v - low) / span, 0), 1) : 0
                        picture.pixels[((top + y) * picture.width + left + x) * channels + c] = UInt8((level * 255).rounded())
                    }
                }
            }
        }
        return picture
    }
}
