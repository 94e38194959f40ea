// The IDX reader (MNIST, Fashion-MNIST), plain and gzip, and the directory loader built on it.
//
// Each input is one IDX file as it would lie on disk (a crash file reproduces as-is with IDXFile(path:)):
// 1. read as written (zlib inflates it when it starts with the gzip magic, else passes it through);
// 2. when it is not gzip itself, read again from a gzip copy: both readings must agree;
// 3. when the input holds a labels header (00 00 08 01) after byte 0, split it there into an images and a labels
//    file, lay them out as train (plain) and t10k (.gz) and load the directory with Dataset.loadIDX; what loads
//    must satisfy what Dataset's public initialiser checks, and normalise.
import Foundation
import FuzzSupport
import Synapse

private let plainPath = Scratch.path("input-idx3-ubyte")
private let gzipPath = Scratch.path("input-idx3-ubyte.gz")
/// Contains "fashion", so the loader names Fashion-MNIST's classes.
private let datasetDirectory = Scratch.subdirectory("fashion-mnist")
private let labelsMagic: [UInt8] = [0, 0, 8, 1]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)

    Scratch.write(input, to: plainPath)
    let plain = try? IDXFile(path: plainPath)
    if let plain { checkShape(plain) }

    if !looksGzipped(input) {
        Scratch.writeGzip(input, to: gzipPath)
        let packed = try? IDXFile(path: gzipPath)
        fuzzCheck((plain == nil) == (packed == nil),
                  "the plain file \(plain == nil ? "fails" : "reads") but its gzip copy \(packed == nil ? "fails" : "reads")")
        if let plain, let packed {
            fuzzCheck(plain.shape == packed.shape && plain.bytes == packed.bytes, "plain and gzip readings differ")
        }
    }

    if let split = lastIndex(of: labelsMagic, in: input), split > 0 {
        let images = UnsafeRawBufferPointer(rebasing: input[..<split])
        let labels = UnsafeRawBufferPointer(rebasing: input[split...])
        Scratch.write(images, to: datasetDirectory + "/train-images-idx3-ubyte")
        Scratch.write(labels, to: datasetDirectory + "/train-labels-idx1-ubyte")
        Scratch.writeGzip(images, to: datasetDirectory + "/t10k-images-idx3-ubyte.gz")
        Scratch.writeGzip(labels, to: datasetDirectory + "/t10k-labels-idx1-ubyte.gz")
        if let (train, test) = try? Dataset.loadIDX(directory: datasetDirectory) {
            fuzzCheck(train.count == test.count && train.sampleShape == test.sampleShape
                      && train.images == test.images && train.labels == test.labels,
                      "the same files read plain (train) and gzipped (t10k) give different data sets")
            checkDataset(train)
        }
    }
    return 0
}

private func checkShape(_ file: IDXFile) {
    fuzzCheck(!file.shape.isEmpty && file.shape.allSatisfy { $0 >= 0 }, "IDX shape \(file.shape)")
    fuzzCheck(file.shape.reduce(1, *) == file.bytes.count,
              "IDX shape \(file.shape) does not hold its \(file.bytes.count) bytes")
}

/// A loaded data set must be one the public initialiser accepts (positive sample dimensions, labels in range,
/// finite values), and normalising it must leave it finite.
private func checkDataset(_ dataset: Dataset) {
    do {
        _ = try Dataset(name: dataset.name, images: dataset.images, labels: dataset.labels,
                        sampleShape: dataset.sampleShape, classNames: dataset.classNames)
    } catch {
        fuzzCheck(false, "Dataset.loadIDX returned a data set its own initialiser refuses: \(brief(error))")
    }
    fuzzCheck(dataset.images.allSatisfy { $0 >= 0 && $0 <= 1 }, "pixel values outside [0, 1]")
    var normalized = dataset
    let statistics = Normalization.fit(dataset)
    do {
        try statistics.apply(to: &normalized)
    } catch {
        fuzzCheck(false, "normalising with statistics fitted on the same data set failed: \(brief(error))")
    }
    fuzzCheck(normalized.images.allSatisfy(\.isFinite), "normalised images are not all finite")
}

/// The start of the last occurrence of `pattern` in `bytes`.
private func lastIndex(of pattern: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
    guard bytes.count >= pattern.count else { return nil }
    var start = bytes.count - pattern.count
    while start >= 0 {
        if bytes[start] == pattern[0] && bytes[start + 1] == pattern[1] && bytes[start + 2] == pattern[2]
            && bytes[start + 3] == pattern[3] {
            return start
        }
        start -= 1
    }
    return nil
}
