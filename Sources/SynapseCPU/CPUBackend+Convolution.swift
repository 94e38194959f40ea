import SynapseCore

/// The outputs `o` in `0..<count` whose input coordinate `o * stride + base` lies in `0..<limit`.
/// Loops over that range need no bounds test, and everything outside it is padding.
private func inside(base: Int, stride: Int, limit: Int, count: Int) -> Range<Int> {
    let lower = base >= 0 ? 0 : min(count, (stride - 1 - base) / stride)
    let upper = base >= limit ? 0 : min(count, (limit - 1 - base) / stride + 1)
    return lower..<max(lower, upper)
}

/// Where the outputs of one kernel offset `(kh, kw)` read a plane: from `start` (relative to the plane's first
/// element, negative in the padding), the output rows and columns that fall inside the plane.
private struct KernelRead {
    var start: Int
    var rows: Range<Int>
    var columns: Range<Int>
}

extension CPUBackend {
    // MARK: Convolution support

    public func uncheckedIm2col(image: Tensor, geometry g: ConvGeometry, columns: Tensor) throws {
        let image = floats(image)
        let columns = floats(columns)
        let (outH, outW, images, imageStride) = (g.outputH, g.outputW, g.images, g.imageStride)
        let (height, width, strideH, strideW, padValue) = (g.height, g.width, g.strideH, g.strideW, g.padValue)
        let (kernelArea, outArea, planeSize) = (g.kernelH * g.kernelW, outH * outW, height * width)
        // Where each kernel offset reads a plane: the same for every channel and image, so found once, not per run.
        let reads = (0..<kernelArea).map { k in
            let baseH = k / g.kernelW * g.dilationH - g.padH, baseW = k % g.kernelW * g.dilationW - g.padW
            return KernelRead(start: baseH * width + baseW,
                              rows: inside(base: baseH, stride: strideH, limit: height, count: outH),
                              columns: inside(base: baseW, stride: strideW, limit: width, count: outW))
        }
        // One item per (column row, image): a run of outH * outW consecutive column entries. Wrapping arithmetic:
        // the front-end has checked every offset, and overflow checks cost as much as the copies of short rows.
        parallelFor(g.columnRows * images, cost: outArea) { items in
            reads.withUnsafeBufferPointer { reads in
                // The first item's image, channel and kernel offset, then stepped along: no divisions per item.
                var (n, c, k) = (items.lowerBound % images, items.lowerBound / images / kernelArea,
                                 items.lowerBound / images % kernelArea)
                for item in items {
                    let read = reads[k], validH = read.rows, validW = read.columns
                    let out = columns + item &* outArea
                    let origin = image + (n &* imageStride &+ c &* planeSize &+ read.start)
                    // Rows that fall in the padding above and below the image, then those that read it.
                    out.update(repeating: padValue, count: validH.lowerBound &* outW)
                    (out + validH.upperBound &* outW).update(repeating: padValue, count: (outH &- validH.upperBound) &* outW)
                    for oh in validH {
                        let dst = out + oh &* outW, src = origin + oh &* strideH &* width
                        var ow = 0
                        while ow < validW.lowerBound { dst[ow] = padValue; ow &+= 1 }
                        // Plain loops: runs are a few dozen floats, too short to pay for a memmove call.
                        if strideW == 1 {
                            while ow < validW.upperBound { dst[ow] = src[ow]; ow &+= 1 }
                        } else {
                            while ow < validW.upperBound { dst[ow] = src[ow &* strideW]; ow &+= 1 }
                        }
                        while ow < outW { dst[ow] = padValue; ow &+= 1 }
                    }
                    n &+= 1
                    if n == images {
                        (n, k) = (0, k &+ 1)
                        if k == kernelArea { (k, c) = (0, c &+ 1) }
                    }
                }
            }
        }
    }

    public func uncheckedCol2im(columns: Tensor, geometry g: ConvGeometry, image: Tensor) throws {
        let columns = floats(columns)
        let image = floats(image)
        let (outH, outW, columnWidth) = (g.outputH, g.outputW, g.columnWidth)
        let (channels, height, width, kernelH, kernelW) = (g.channels, g.height, g.width, g.kernelH, g.kernelW)
        let (strideH, strideW) = (g.strideH, g.strideW)
        // The outputs each kernel column reads the image at, the same for every row.
        let validW = (0..<kernelW).map { kw in
            inside(base: kw * g.dilationW - g.padW, stride: strideW, limit: width, count: outW)
        }
        // One image row per item: its owner adds every contribution to it, in (kh, kw, ow) order, the same
        // order as a per-pixel gather, and no other thread writes it. Wrapping arithmetic, as in im2col.
        parallelFor(g.images * channels * height, cost: width * kernelH * kernelW) { rows in
            for item in rows {
                let (n, row) = (item / (channels * height), item % (channels * height))
                let (c, h) = (row / height, row % height)
                let dst = image + (n &* g.imageStride &+ row &* width)
                dst.update(repeating: 0, count: width)
                for kh in 0..<kernelH {
                    let offsetH = h &+ g.padH &- kh &* g.dilationH
                    guard offsetH >= 0, offsetH % strideH == 0, offsetH / strideH < outH else { continue }
                    let oh = offsetH / strideH
                    for kw in 0..<kernelW {
                        let baseW = kw &* g.dilationW &- g.padW
                        let columnRow = (c &* kernelH &+ kh) &* kernelW &+ kw
                        let src = columns + (columnRow &* columnWidth &+ (n &* outH &+ oh) &* outW)
                        let valid = validW[kw]
                        if strideW == 1 {
                            let to = dst + baseW
                            var ow = valid.lowerBound
                            while ow < valid.upperBound { to[ow] += src[ow]; ow &+= 1 }
                        } else {
                            for ow in valid { dst[ow &* strideW &+ baseW] += src[ow] }
                        }
                    }
                }
            }
        }
    }

    public func uncheckedTransposeBlocks(input: Tensor, output: Tensor, rows: Int, columns: Int, blockSize: Int) throws {
        // Float or int32: bytes are copied, whatever the elements' type.
        let x = UnsafeRawPointer(floats(input)), y = UnsafeMutableRawPointer(floats(output)), blockBytes = blockSize * 4
        parallelFor(rows * columns, cost: blockSize) { blocks in
            for block in blocks {
                let (r, c) = (block / columns, block % columns)
                (y + (c * rows + r) * blockBytes).copyMemory(from: x + block * blockBytes, byteCount: blockBytes)
            }
        }
    }

    // MARK: Pooling

    public func uncheckedMaxPoolForward(input: Tensor, output: Tensor, argmax: Tensor, geometry g: PoolGeometry) throws {
        let x = floats(input), y = floats(output)
        let argmax = int32s(argmax)
        let (outH, outW, height, width) = (g.outputH, g.outputW, g.height, g.width)
        let (kernelH, kernelW, strideH, strideW, padH, padW) = (g.kernelH, g.kernelW, g.strideH, g.strideW, g.padH, g.padW)
        if (kernelH, kernelW, strideH, strideW, padH, padW) == (2, 2, 2, 2, 0, 0) {
            // LeNet's and VGG's pooling, whose windows never reach past the image: four reads, no window loops.
            parallelFor(g.planes * outH, cost: outW * 4) { rows in
                for row in rows {
                    let (p, oh) = (row / outH, row % outH)
                    let top = p &* height &* width &+ 2 &* oh &* width
                    let (y, argmax) = (y + row * outW, argmax + row * outW)
                    for ow in 0..<outW {
                        // The general loop's rule, unrolled: the window's pixels in scan order from -inf, each
                        // taking over only when strictly greater.
                        let first = top &+ 2 &* ow
                        var best = -Float.infinity, index = first
                        @inline(__always) func visit(_ i: Int) {
                            let better = x[i] > best
                            best = better ? x[i] : best
                            index = better ? i : index
                        }
                        visit(first)
                        visit(first &+ 1)
                        visit(first &+ width)
                        visit(first &+ width &+ 1)
                        y[ow] = best
                        argmax[ow] = Int32(truncatingIfNeeded: index &- p &* height &* width)
                    }
                }
            }
            return
        }
        parallelFor(g.planes * outH, cost: outW * kernelH * kernelW) { rows in
            for row in rows {
                let (p, oh) = (row / outH, row % outH)
                let x = x + p * height * width
                let (y, argmax) = (y + row * outW, argmax + row * outW)
                let hStart = max(oh * strideH - padH, 0)
                let hEnd = min(oh * strideH - padH + kernelH, height)
                for ow in 0..<outW {
                    let wStart = max(ow * strideW - padW, 0)
                    let wEnd = min(ow * strideW - padW + kernelW, width)
                    // Starting at the window's first pixel keeps the argmax real even if no value beats -inf.
                    var best = -Float.infinity, index = hStart * width + wStart
                    for h in hStart..<hEnd {
                        for w in wStart..<wEnd {
                            // Selects rather than a branch: on real data the comparison is a coin flip.
                            let value = x[h * width + w], better = value > best
                            best = better ? value : best
                            index = better ? h * width + w : index
                        }
                    }
                    y[ow] = best
                    argmax[ow] = Int32(truncatingIfNeeded: index)
                }
            }
        }
    }

    public func uncheckedMaxPoolBackward(gradOutput: Tensor, argmax: Tensor, gradInput: Tensor,
                                         geometry g: PoolGeometry) throws {
        let dy = floats(gradOutput), argmax = int32s(argmax)
        let dx = floats(gradInput)
        let (outPlane, plane) = (g.outputH * g.outputW, g.height * g.width)
        // One plane per item, so each input pixel has a single writer; output cells are visited in order.
        parallelFor(g.planes, cost: plane + outPlane) { planes in
            for p in planes {
                let dx = dx + p * plane
                dx.update(repeating: 0, count: plane)
                for o in p * outPlane..<(p + 1) * outPlane {
                    let index = Int(argmax[o])
                    // argmax comes from memory the caller controls: never write outside the plane.
                    if index >= 0, index < plane { dx[index] += dy[o] }
                }
            }
        }
    }

    /// The window of output `(oh, ow)` clipped to the image, and its divisor: the window clipped to the
    /// padded plane instead (PyTorch's count_include_pad).
    private func averageWindow(_ g: PoolGeometry, _ oh: Int, _ ow: Int) -> (Range<Int>, Range<Int>, Float) {
        let hStart = oh * g.strideH - g.padH, hEnd = min(hStart + g.kernelH, g.height + g.padH)
        let wStart = ow * g.strideW - g.padW, wEnd = min(wStart + g.kernelW, g.width + g.padW)
        let poolSize = Float((hEnd - hStart) * (wEnd - wStart))
        return (max(hStart, 0)..<min(hEnd, g.height), max(wStart, 0)..<min(wEnd, g.width), poolSize)
    }

    public func uncheckedAvgPoolForward(input: Tensor, output: Tensor, geometry g: PoolGeometry) throws {
        let x = floats(input), y = floats(output)
        let (outH, outW, plane) = (g.outputH, g.outputW, g.height * g.width)
        parallelFor(g.planes * outH, cost: outW * g.kernelH * g.kernelW) { rows in
            for row in rows {
                let (p, oh) = (row / outH, row % outH)
                let x = x + p * plane
                for ow in 0..<outW {
                    let (hs, ws, poolSize) = averageWindow(g, oh, ow)
                    var sum: Float = 0
                    for h in hs {
                        for w in ws { sum += x[h * g.width + w] }
                    }
                    y[row * outW + ow] = sum / poolSize
                }
            }
        }
    }

    public func uncheckedAvgPoolBackward(gradOutput: Tensor, gradInput: Tensor, geometry g: PoolGeometry) throws {
        let dy = floats(gradOutput), dx = floats(gradInput)
        let (outH, outW, plane) = (g.outputH, g.outputW, g.height * g.width)
        // One plane per item, so each input pixel has a single writer; windows are visited in order.
        parallelFor(g.planes, cost: plane + outH * outW * g.kernelH * g.kernelW) { planes in
            for p in planes {
                let dx = dx + p * plane, dy = dy + p * outH * outW
                dx.update(repeating: 0, count: plane)
                for oh in 0..<outH {
                    for ow in 0..<outW {
                        let (hs, ws, poolSize) = averageWindow(g, oh, ow)
                        let share = dy[oh * outW + ow] / poolSize
                        for h in hs {
                            for w in ws { dx[h * g.width + w] += share }
                        }
                    }
                }
            }
        }
    }
}
