import CJPEG
import CPNG
import Foundation
import SynapseCore

/// A gray picture with intensities in [0, 1], row-major.
public struct GrayImage: Sendable {
    /// Where it was read from, for errors and reports.
    public let name: String
    /// Pixels across and down.
    public let width: Int, height: Int
    /// `width * height` intensities, row after row.
    public let pixels: [Float]
}

/// Photographs in PNG or JPEG files, decoded by libpng and libjpeg into gray images: the natural images sparse
/// coding learns its atoms from.
public enum Photographs {
    /// scikit-image's sample images, as Debian's `python3-skimage` installs them.
    public static let defaultDirectory = "/usr/lib/python3/dist-packages/skimage/data"
    /// The photographs of natural scenes among them (the others are drawings, text, charts and test patterns).
    public static let defaultFiles = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "grass.png", "gravel.png",
                                      "motorcycle_left.png", "motorcycle_right.png", "hubble_deep_field.jpg"]
    /// The largest file read (a PNG or JPEG photograph is far smaller).
    public static let maxFileBytes = 256 << 20

    /// The image in `path`, a PNG or JPEG file (told by its first bytes, not its name), as gray.
    public static func read(_ path: String) throws -> GrayImage {
        func fail(_ message: String) -> NNError { .dataFile(path: path, message: message) }
        let file = try MappedFile(path: path, fail: fail)
        let bytes = file.bytes
        guard bytes.count <= maxFileBytes else { throw fail("\(bytes.count) bytes is more than the \(maxFileBytes >> 20) MiB an image may have") }
        if bytes.count >= 8, bytes.prefix(8).elementsEqual(Picture.pngSignature) {
            return try readPNG(bytes, name: path, fail: fail)
        }
        if bytes.count >= 3, bytes.prefix(3).elementsEqual([0xFF, 0xD8, 0xFF]) {
            var pixels: UnsafeMutablePointer<UInt8>?
            var width: Int32 = 0, height: Int32 = 0
            var message = [CChar](repeating: 0, count: 256)
            let status = synapse_jpeg_decode_gray(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &pixels,
                                                  &width, &height, &message, message.count)
            defer { synapse_jpeg_free(pixels) }
            guard status == 0, let pixels else {
                throw fail("not a readable JPEG image: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
            }
            let count = Int(width) * Int(height)
            return GrayImage(name: path, width: Int(width), height: Int(height),
                             pixels: (0..<count).map { Float(pixels[$0]) / 255 })
        }
        throw fail("not a PNG or JPEG image (its first bytes are neither signature)")
    }

    private static func readPNG(_ bytes: UnsafeRawBufferPointer, name: String, fail: (String) -> NNError) throws -> GrayImage {
        // libpng's simplified API converts any PNG (palette, 16-bit, colour, alpha) to 8-bit gray.
        let image = UnsafeMutablePointer<png_image>.allocate(capacity: 1)
        defer {
            png_image_free(image)
            image.deallocate()
        }
        memset(image, 0, MemoryLayout<png_image>.size)
        image.pointee.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(image, bytes.baseAddress, bytes.count) != 0 else {
            throw fail("not a readable PNG image: \(Picture.message(image.pointee))")
        }
        let (width, height) = (Int(image.pointee.width), Int(image.pointee.height))
        guard width > 0, height > 0, width * height <= 1 << 28 else {
            throw fail("\(width) x \(height) pixels is outside what is decoded (1 to 2^28 pixels)")
        }
        image.pointee.format = UInt32(PNG_FORMAT_GRAY)
        var pixels = [UInt8](repeating: 0, count: width * height)
        let finished = pixels.withUnsafeMutableBytes {
            png_image_finish_read(image, nil, $0.baseAddress, Int32(width), nil)
        }
        guard finished != 0 else { throw fail("not a readable PNG image: \(Picture.message(image.pointee))") }
        return GrayImage(name: name, width: width, height: height, pixels: pixels.map { Float($0) / 255 })
    }

    /// Every PNG and JPEG file in `directory` (by name order), or, for the default directory, its photographs.
    public static func load(directory: String) throws -> [GrayImage] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            let hint = directory == defaultDirectory ? " (install it with: sudo apt-get install python3-skimage)" : ""
            throw NNError.dataFile(path: directory, message: "no such directory\(hint)")
        }
        guard isDirectory.boolValue else { throw NNError.dataFile(path: directory, message: "is not a directory of images") }
        let names: [String]
        if directory == defaultDirectory {
            names = defaultFiles
        } else {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted().filter {
                ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased())
            }
        }
        guard !names.isEmpty else {
            throw NNError.dataFile(path: directory, message: "holds no images (files ending in .png, .jpg or .jpeg)")
        }
        return try names.map { try read((directory as NSString).appendingPathComponent($0)) }
    }

    /// `count` square patches of `size` x `size` pixels from `images`, each image giving patches in proportion to its
    /// area, their positions drawn from Philox under `seed`; each patch has its mean removed (its overall brightness,
    /// which no atom should spend itself on) and the whole set is scaled to unit standard deviation.
    public static func patches(_ images: [GrayImage], size: Int, count: Int, seed: UInt64) throws -> [Float] {
        guard (2...64).contains(size), count > 0 else {
            throw NNError.invalidSetting(name: "patches", message: "needs a size in 2...64 and a positive count, got \(size) and \(count)")
        }
        for image in images where image.width < size || image.height < size {
            throw NNError.dataFile(path: image.name, message: "\(image.width) x \(image.height) pixels is smaller than a \(size) x \(size) patch")
        }
        guard !images.isEmpty else { throw NNError.invalidSetting(name: "patches", message: "there are no images") }
        let areas = images.map { Double(($0.width - size + 1) * ($0.height - size + 1)) }, total = areas.reduce(0, +)
        let words = Philox.words(PhiloxAddress(seed: seed, stream: RandomStream.patches), count: 3 * count)
        var values = [Float](repeating: 0, count: count * size * size)
        for n in 0..<count {
            var pick = Double(Philox.uniform(words[3 * n])) * total, which = 0
            while which < images.count - 1, pick >= areas[which] { pick -= areas[which]; which += 1 }
            let image = images[which]
            let x = Int((UInt64(words[3 * n + 1]) * UInt64(image.width - size + 1)) >> 32)
            let y = Int((UInt64(words[3 * n + 2]) * UInt64(image.height - size + 1)) >> 32)
            var mean: Float = 0
            for r in 0..<size { for c in 0..<size { mean += image.pixels[(y + r) * image.width + x + c] } }
            mean /= Float(size * size)
            for r in 0..<size { for c in 0..<size {
                values[(n * size + r) * size + c] = image.pixels[(y + r) * image.width + x + c] - mean
            } }
        }
        let std = (values.reduce(0) { $0 + Double($1) * Double($1) } / Double(values.count)).squareRoot()
        return std > 0 ? values.map { Float(Double($0) / std) } : values
    }
}
