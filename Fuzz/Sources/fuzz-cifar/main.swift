// The CIFAR-10 binary reader, plain and gzip, and the directory loader built on it.
//
// Each input is one CIFAR-10 batch file as it would lie on disk (a crash file reproduces as-is with
// CIFAR10File(path:)):
// 1. read as written (zlib inflates it when it starts with the gzip magic);
// 2. when it reads and is not gzip itself, read again from a gzip copy: both readings must agree;
// 3. when it reads, load a directory whose six batch files all link to it with Dataset.loadCIFAR10; the data
//    sets must hold five copies (train) and one copy (test) of it, and satisfy Dataset's public initialiser.
import Foundation
import FuzzSupport
import Synapse

private let plainPath = Scratch.path("data_batch.bin")
private let gzipPath = Scratch.path("data_batch.bin.gz")
private let datasetDirectory: String = {
    let directory = Scratch.subdirectory("cifar-10-batches-bin")
    for name in (1...5).map({ "data_batch_\($0).bin" }) + ["test_batch.bin"] {
        guard symlink(plainPath, directory + "/" + name) == 0 else {
            fatalError("fuzz setup: cannot link \(name) to \(plainPath)")
        }
    }
    return directory
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)

    Scratch.write(input, to: plainPath)
    let plain = try? CIFAR10File(path: plainPath)
    if let plain {
        fuzzCheck(!plain.labels.isEmpty && plain.pixels.count == plain.labels.count * CIFAR10File.imageSize,
                  "\(plain.labels.count) labels but \(plain.pixels.count) pixel bytes")
        fuzzCheck(plain.labels.allSatisfy { Int($0) < CIFAR10File.classCount }, "a label outside 0..<10")
    }

    // Only for files that read: every read reserves 64 MiB (readAll), which under ASan costs about
    // 10 ms, and a refused file's gzip copy is refused for the same reason.
    if let plain, !looksGzipped(input) {
        Scratch.writeGzip(input, to: gzipPath)
        do {
            let packed = try CIFAR10File(path: gzipPath)
            fuzzCheck(plain.labels == packed.labels && plain.pixels == packed.pixels, "plain and gzip readings differ")
        } catch {
            fuzzCheck(false, "the plain file reads but its gzip copy fails: \(brief(error))")
        }
    }

    if let plain {
        do {
            let (train, test) = try Dataset.loadCIFAR10(directory: datasetDirectory)
            let count = plain.labels.count
            fuzzCheck(test.count == count && train.count == 5 * count,
                      "loaded \(train.count) training and \(test.count) test images from six copies of \(count)")
            fuzzCheck(test.labels == plain.labels.map { Int32($0) }, "test labels differ from the file's")
            fuzzCheck(Array(train.images.prefix(test.images.count)) == test.images, "train and test images differ")
            for dataset in [train, test] {
                do {
                    _ = try Dataset(name: dataset.name, images: dataset.images, labels: dataset.labels,
                                    sampleShape: dataset.sampleShape, classNames: dataset.classNames)
                } catch {
                    fuzzCheck(false, "Dataset.loadCIFAR10 returned a data set its own initialiser refuses: \(brief(error))")
                }
            }
        } catch {
            fuzzCheck(false, "CIFAR10File reads the file but Dataset.loadCIFAR10 refuses it: \(brief(error))")
        }
    }
    return 0
}
