import Synapse
import XCTest

final class ConvolutionTests: SynapseTestCase {
    /// Padding, stride 2, dilation 2, non-square kernels, 1x1, odd sizes, an AlexNet-like stride 4, and
    /// batches of images: contiguous, and with gaps between them (one group's channels of wider images).
    static let geometries = [
        ConvGeometry(channels: 3, height: 7, width: 5, kernelH: 3, kernelW: 2, padH: 1, padW: 0,
                     strideH: 2, strideW: 1, dilationH: 1, dilationW: 2),
        ConvGeometry(channels: 2, height: 6, width: 6, kernelH: 3, kernelW: 3, padH: 1, padW: 1),
        ConvGeometry(channels: 4, height: 9, width: 8, kernelH: 3, kernelW: 3, padH: 2, padW: 2,
                     strideH: 2, strideW: 2, dilationH: 2, dilationW: 2),
        ConvGeometry(channels: 5, height: 4, width: 3, kernelH: 1, kernelW: 1),
        ConvGeometry(channels: 1, height: 11, width: 11, kernelH: 5, kernelW: 5, padH: 2, padW: 2,
                     strideH: 4, strideW: 4),
        ConvGeometry(channels: 3, height: 5, width: 9, kernelH: 2, kernelW: 4, padW: 3, strideW: 3),
        ConvGeometry(channels: 2, height: 6, width: 6, kernelH: 3, kernelW: 3, padH: 1, padW: 1, images: 3),
        ConvGeometry(channels: 3, height: 5, width: 9, kernelH: 2, kernelW: 4, padW: 3, strideW: 3,
                     images: 4, imageStride: 3 * 5 * 9 + 7),
        // LeNet-5's C1: padding that reads as the background, -0.1.
        ConvGeometry(channels: 1, height: 6, width: 7, kernelH: 5, kernelW: 5, padH: 2, padW: 2, padValue: -0.1, images: 2),
        // Enough work that the CPU backend shares it between threads, its chunks starting inside a channel's
        // run of images.
        ConvGeometry(channels: 3, height: 20, width: 19, kernelH: 3, kernelW: 3, padH: 1, padW: 1, images: 9),
    ]

    /// Offsets of the image and the column matrix inside their buffers, and elements after them,
    /// so that an op that ignores an offset or writes past its end is caught.
    let imageOffset = 3, columnsOffset = 5, tail = 2

    func describe(_ g: ConvGeometry) -> String {
        "C=\(g.channels) H=\(g.height) W=\(g.width) k=\(g.kernelH)x\(g.kernelW) pad=\(g.padH)x\(g.padW) "
            + "stride=\(g.strideH)x\(g.strideW) dilation=\(g.dilationH)x\(g.dilationW) images=\(g.images)/\(g.imageStride) "
            + "padValue=\(g.padValue)"
    }

    /// The image coordinate that column row (c, i, j), output position (y, x) reads, or nil in the padding.
    func source(_ g: ConvGeometry, _ i: Int, _ j: Int, _ y: Int, _ x: Int) -> (h: Int, w: Int)? {
        let h = y * g.strideH - g.padH + i * g.dilationH, w = x * g.strideW - g.padW + j * g.dilationW
        return h >= 0 && h < g.height && w >= 0 && w < g.width ? (h, w) : nil
    }

    /// Where pixel (c, h, w) of image n lies in the images' span.
    func pixel(_ g: ConvGeometry, _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Int {
        n * g.imageStride + (c * g.height + h) * g.width + w
    }

    /// Whether element `index` of the images' span belongs to an image (not to a gap between two).
    func isInImage(_ g: ConvGeometry, _ index: Int) -> Bool { index % g.imageStride < g.imageCount }

    /// Column matrix by definition: row (c * kH + i) * kW + j, column (n * outH + y) * outW + x.
    func referenceIm2col(_ images: [Float], _ g: ConvGeometry) -> [Float] {
        var columns = [Float]()
        for c in 0..<g.channels { for i in 0..<g.kernelH { for j in 0..<g.kernelW {
            for n in 0..<g.images { for y in 0..<g.outputH { for x in 0..<g.outputW {
                columns.append(source(g, i, j, y, x).map { images[pixel(g, n, c, $0.h, $0.w)] } ?? g.padValue)
            } } }
        } } }
        return columns
    }

    /// The adjoint of im2col over the images' span: every column entry added to the pixel it was read from.
    func referenceCol2im(_ columns: [Float], _ g: ConvGeometry) -> [Double] {
        var images = [Double](repeating: 0, count: g.imageSpan)
        var index = 0
        for c in 0..<g.channels { for i in 0..<g.kernelH { for j in 0..<g.kernelW {
            for n in 0..<g.images { for y in 0..<g.outputH { for x in 0..<g.outputW {
                if let (h, w) = source(g, i, j, y, x) { images[pixel(g, n, c, h, w)] += Double(columns[index]) }
                index += 1
            } } }
        } } }
        return images
    }

    func testIm2colIsExact() {
        var random = TestRandom(seed: 10)
        for g in Self.geometries {
            let stored = random.floats(imageOffset + g.imageSpan + tail)
            let expected = referenceIm2col(Array(stored[imageOffset..<imageOffset + g.imageSpan]), g)
            forEachBackend { backend in
                let image = try backend.tensor(stored)
                let columns = try backend.nanTensor(columnsOffset + g.columnCount + tail)
                try backend.im2col(image: image.elements(imageOffset..<image.count), geometry: g, columns: columns.elements(columnsOffset..<columns.count))
                let got = try backend.download(columns)
                let call = OpCall(backend, "im2col", describe(g))
                assertBitwiseEqual(Array(got[columnsOffset..<columnsOffset + g.columnCount]), expected, call, "columns")
                let outside = Array(got[..<columnsOffset]) + Array(got[(columnsOffset + g.columnCount)...])
                assertBitwiseEqual(outside, [Float](repeating: .nan, count: columnsOffset + tail), call,
                                   "elements around the columns (must stay untouched)")
            }
        }
    }

    func testCol2imSumsOverlaps() {
        var random = TestRandom(seed: 11)
        for g in Self.geometries {
            let stored = random.floats(columnsOffset + g.columnCount + tail)
            let expected = referenceCol2im(Array(stored[columnsOffset..<columnsOffset + g.columnCount]), g)
            let inImages = (0..<g.imageSpan).filter { isInImage(g, $0) }
            forEachBackend { backend in
                let columns = try backend.tensor(stored)
                let image = try backend.nanTensor(imageOffset + g.imageSpan + tail)
                try backend.col2im(columns: columns.elements(columnsOffset..<columns.count), geometry: g, image: image.elements(imageOffset..<image.count))
                let got = try backend.download(image)
                let call = OpCall(backend, "col2im", describe(g))
                assertClose(inImages.map { got[imageOffset + $0] }, inImages.map { expected[$0] }, call, "images")
                let gaps = (0..<g.imageSpan).filter { !isInImage(g, $0) }.map { got[imageOffset + $0] }
                let outside = Array(got[..<imageOffset]) + gaps + Array(got[(imageOffset + g.imageSpan)...])
                assertBitwiseEqual(outside, [Float](repeating: .nan, count: imageOffset + gaps.count + tail), call,
                                   "elements around and between the images (must stay untouched)")
            }
        }
    }

    func testTransposeBlocksIsExact() {
        var random = TestRandom(seed: 13)
        for (rows, columns, blockSize) in [(1, 1, 1), (3, 5, 7), (6, 1, 33), (1, 4, 2), (16, 9, 1)] {
            let count = rows * columns * blockSize, (inputOffset, outputOffset) = (4, 3)
            let stored = random.floats(inputOffset + count)
            var expected = [Float](repeating: 0, count: count)
            for r in 0..<rows { for c in 0..<columns { for i in 0..<blockSize {
                expected[(c * rows + r) * blockSize + i] = stored[inputOffset + (r * columns + c) * blockSize + i]
            } } }
            forEachBackend { backend in
                let input = try backend.tensor(stored)
                let output = try backend.nanTensor(outputOffset + count + tail)
                try backend.transposeBlocks(input: input.elements(inputOffset..<input.count), output: output.elements(outputOffset..<output.count), rows: rows, columns: columns, blockSize: blockSize)
                let got = try backend.download(output)
                let call = OpCall(backend, "transposeBlocks", "rows=\(rows) columns=\(columns) blockSize=\(blockSize)")
                assertBitwiseEqual(Array(got[outputOffset..<outputOffset + count]), expected, call)
                assertBitwiseEqual(Array(got[..<outputOffset]) + Array(got[(outputOffset + count)...]),
                                   [Float](repeating: .nan, count: outputOffset + tail), call,
                                   "elements around the output (must stay untouched)")
            }
        }
    }

    /// Token ids go time-major through the same op: int32 bits unchanged, small ones included (as floats they
    /// are denormals, which a float copy may flush to zero), and the bits of a signalling NaN (which it may quiet).
    func testTransposeBlocksMovesInt32Bits() {
        let (rows, columns) = (3, 5)
        let values: [Int32] = [0, 1, 7, -1, .max, .min, 95, 0x7F80_0001, Int32(bitPattern: 0xFF80_0001)]
        let stored: [Int32] = (0..<rows * columns).map { n in values[n % values.count] &+ Int32(n / values.count) }
        var expected = [Int32](repeating: 0, count: rows * columns)
        for r in 0..<rows { for c in 0..<columns { expected[c * rows + r] = stored[r * columns + c] } }
        forEachBackend { backend in
            let output = try backend.tensor(shape: [rows * columns], dtype: .int32)
            try backend.transposeBlocks(input: backend.tensor(int32: stored), output: output, rows: rows, columns: columns,
                                        blockSize: 1)
            XCTAssertEqual(try backend.downloadInt32(output), expected, "\(backend.name) transposeBlocks of int32")
            XCTAssertThrowsError(try backend.transposeBlocks(input: backend.tensor(int32: stored), output: backend.tensor(shape: [15]),
                                                             rows: rows, columns: columns, blockSize: 1),
                                 "\(backend.name): int32 into float32")
        }
    }

    /// A grouped convolution as the layers do it: per group, one im2col of the group's channels of every
    /// image (an image offset and stride) and one GEMM with the group's filters into a `[outC, batch, H, W]`
    /// matrix, then one transpose to NCHW; against a direct Float64 convolution.
    func testConvolutionAsIm2colAndGemmMatchesDirectConvolution() {
        var random = TestRandom(seed: 12)
        let cases = [(Self.geometries[0], groups: 1, outChannels: 4),
                     (Self.geometries[2], groups: 2, outChannels: 6),
                     (Self.geometries[5], groups: 3, outChannels: 3)]
        for (groupGeometry, groups, outChannels) in cases {
            let batch = 2, inChannels = groupGeometry.channels * groups, outPerGroup = outChannels / groups
            let g = groupGeometry.batched(images: batch, imageStride: inChannels * groupGeometry.height * groupGeometry.width)
            let (outH, outW, rows) = (g.outputH, g.outputW, g.columnRows)
            let x = random.floats(batch * inChannels * g.height * g.width)
            let weights = random.floats(outChannels * rows)  // [outC, inC / groups, kH, kW]
            var expected = [SumReference]()
            for n in 0..<batch { for o in 0..<outChannels { for y in 0..<outH { for xo in 0..<outW {
                let group = o / outPerGroup
                var sum = 0.0, magnitude = 0.0
                for c in 0..<g.channels { for i in 0..<g.kernelH { for j in 0..<g.kernelW {
                    guard let (h, w) = source(g, i, j, y, xo) else { continue }
                    let pixel = x[((n * inChannels + group * g.channels + c) * g.height + h) * g.width + w]
                    let product = Double(weights[((o * g.channels + c) * g.kernelH + i) * g.kernelW + j]) * Double(pixel)
                    sum += product
                    magnitude += abs(product)
                } } }
                expected.append(SumReference(value: sum, scale: magnitude))
            } } } }

            forEachBackend { backend in
                let input = try backend.tensor(x), filters = try backend.tensor(weights)
                let columns = try backend.nanTensor(g.columnCount)
                let cnhw = try backend.nanTensor(outChannels * g.columnWidth)
                let output = try backend.nanTensor(batch * outChannels * outH * outW)
                for group in 0..<groups {
                    try backend.im2col(image: input.elements(group * g.imageCount..<input.count), geometry: g, columns: columns)
                    try backend.gemm(transA: false, transB: false, m: outPerGroup, n: g.columnWidth, k: rows, alpha: 1, a: filters.elements(group * outPerGroup * rows..<filters.count), lda: rows, b: columns, ldb: g.columnWidth, beta: 0, c: cnhw.elements(group * outPerGroup * g.columnWidth..<cnhw.count), ldc: g.columnWidth)
                }
                try backend.transposeBlocks(input: cnhw, output: output, rows: outChannels, columns: batch, blockSize: outH * outW)
                assertClose(try backend.download(output), expected, k: rows,
                            OpCall(backend, "im2col+gemm convolution",
                                   "batch=\(batch) groups=\(groups) outC=\(outChannels) group \(describe(g))"))
            }
        }
    }
}
