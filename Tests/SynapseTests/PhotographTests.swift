import Foundation
import Synapse
import XCTest

// Photographs read with libpng and libjpeg, and the patches sparse coding learns from; bad files are refused by name.

final class PhotographTests: XCTestCase {
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("synapse-photos-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A PNG written by `Picture` reads back as the same gray levels.
    func testPNGRoundTrip() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var picture = try Picture(width: 5, height: 3, channels: 1)
        picture.pixels = (0..<15).map { UInt8($0 * 17) }
        let path = dir.appendingPathComponent("a.png").path
        try picture.writePNG(to: path)
        let image = try Photographs.read(path)
        XCTAssertEqual([image.width, image.height], [5, 3])
        XCTAssertEqual(image.pixels, picture.pixels.map { Float($0) / 255 })
    }

    /// The default photographs (python3-skimage) include a JPEG: both decoders run.
    func testDefaultPhotographs() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Photographs.defaultDirectory),
                          "python3-skimage is not installed (apt-get install python3-skimage)")
        let images = try Photographs.load(directory: Photographs.defaultDirectory)
        XCTAssertEqual(images.count, Photographs.defaultFiles.count)
        XCTAssertTrue(images.allSatisfy { $0.width >= 8 && $0.height >= 8 && $0.pixels.allSatisfy { (0...1).contains($0) } })
        let patches = try Photographs.patches(images, size: 8, count: 500, seed: 1)
        XCTAssertEqual(patches.count, 500 * 64)
        for n in 0..<500 { XCTAssertEqual(patches[n * 64..<(n + 1) * 64].reduce(0, +), 0, accuracy: 1e-3, "patch \(n) keeps its mean") }
        let variance = patches.reduce(0) { $0 + Double($1) * Double($1) } / Double(patches.count)
        XCTAssertEqual(variance, 1, accuracy: 1e-3)
        XCTAssertEqual(try Photographs.patches(images, size: 8, count: 500, seed: 1), patches, "the same seed cuts the same patches")
    }

    func testBadImagesAreRefusedByName() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        var picture = try Picture(width: 40, height: 30, channels: 3)
        picture.pixels[7] = 200
        let png = try picture.pngData()
        try Data(png.prefix(png.count / 2)).write(to: URL(fileURLWithPath: path("truncated.png")))
        assertNNError(contains: ["truncated.png", "PNG"]) { _ = try Photographs.read(path("truncated.png")) }
        try Data("not an image at all".utf8).write(to: URL(fileURLWithPath: path("text.jpg")))
        assertNNError(contains: ["text.jpg", "not a PNG or JPEG"]) { _ = try Photographs.read(path("text.jpg")) }
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 0x4A, 0x46]).write(to: URL(fileURLWithPath: path("cut.jpg")))
        assertNNError(contains: ["cut.jpg", "JPEG"]) { _ = try Photographs.read(path("cut.jpg")) }
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        assertNNError(contains: ["empty", "holds no images"]) { _ = try Photographs.load(directory: empty.path) }
        var tiny = try Picture(width: 5, height: 5, channels: 1)
        tiny.pixels[0] = 1
        try tiny.writePNG(to: path("tiny.png"))
        let small = try Photographs.read(path("tiny.png"))
        assertNNError(contains: ["tiny.png", "smaller than a 8 x 8 patch"]) { _ = try Photographs.patches([small], size: 8, count: 3, seed: 1) }
    }
}
