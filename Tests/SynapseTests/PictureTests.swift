import Foundation
import Synapse
import XCTest

/// Mosaics of filters and samples, and their PNG encoding by libpng.
final class PictureTests: XCTestCase {
    /// Two 2x3 tiles, scaled 2x, in a row: each tile spans black to white on its own, with black gaps between (white
    /// between images in [0, 1]).
    func testMosaicLayoutAndScaling() throws {
        let tiles: [Float] = [0, 1, 2, 3, 4, 5, -1, -1, -1, -1, -1, 1]
        let picture = try Mosaic.render(tiles, tileShape: [1, 2, 3], columns: 2, scale: 2)
        XCTAssertEqual(picture.width, 2 * (3 * 2 + 1) + 1)
        XCTAssertEqual(picture.height, 2 * 2 + 1 + 1)
        func pixel(_ x: Int, _ y: Int) -> UInt8 { picture.pixels[y * picture.width + x] }
        XCTAssertEqual(pixel(0, 0), 0, "gap")
        XCTAssertEqual(pixel(7, 2), 0, "gap between the tiles")
        XCTAssertEqual(pixel(1, 1), 0, "the first tile's smallest value is black")
        XCTAssertEqual(pixel(6, 4), 255, "its largest is white")
        XCTAssertEqual(pixel(8, 1), 0, "the second tile scales on its own")
        XCTAssertEqual(pixel(13, 4), 255)
        let unit = try Mosaic.render([0, 0.5, 1, 2], tileShape: [1, 2, 2], scaling: .unit)
        XCTAssertEqual([unit.pixels[unit.width + 1], unit.pixels[unit.width + 2], unit.pixels[2 * unit.width + 1],
                        unit.pixels[2 * unit.width + 2]], [0, 128, 255, 255], "probabilities as they are, clamped")
        XCTAssertEqual(unit.pixels[0], 255, "a white gap around images")
    }

    func testPNGEncoding() throws {
        var picture = try Picture(width: 5, height: 3, channels: 3)
        picture.pixels[0] = 255
        let bytes = try picture.pngData()
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
        // IHDR: width and height big-endian at bytes 16 and 20, bit depth 8, colour type 2 (RGB).
        XCTAssertEqual(Array(bytes[16..<26]), [0, 0, 0, 5, 0, 0, 0, 3, 8, 2])
        XCTAssertThrowsError(try Mosaic.render([1, 2, 3], tileShape: [1, 2, 2]))
        XCTAssertThrowsError(try Picture(width: 0, height: 3, channels: 1))
    }
}
