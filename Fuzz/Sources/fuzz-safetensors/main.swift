// The safetensors reader and writer.
//
// Each input is one .safetensors file (a crash file reproduces as-is with SafeTensors.read(from:)):
// 1. SafeTensors.read, readMetadata and readShapes must agree: all refuse it, or all read the same metadata and shapes;
// 2. what reads must write back, and the written file must read back equal, values compared bit for bit (F64,
//    F16 and BF16 come back as F32, NaN payloads included); writing that again must give the same bytes.
import Foundation
import FuzzSupport
import Synapse

private let inputPath = Scratch.path("input.safetensors")
private let firstCopyPath = Scratch.path("copy1.safetensors")
private let secondCopyPath = Scratch.path("copy2.safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Scratch.write(fuzzInput(data, size), to: inputPath)

    let file: SafeTensors?
    let metadata: [String: String]?
    var readError = "", metadataError = ""
    do { file = try SafeTensors.read(from: inputPath) } catch { file = nil; readError = brief(error) }
    do { metadata = try SafeTensors.readMetadata(from: inputPath) } catch { metadata = nil; metadataError = brief(error) }
    fuzzCheck((file == nil) == (metadata == nil), file == nil
              ? "read refuses the file (\(readError)) but readMetadata reads it"
              : "read reads the file but readMetadata refuses it (\(metadataError))")
    guard let file, let metadata else { return 0 }
    fuzzCheck(file.metadata == metadata, "read and readMetadata give different metadata")
    fuzzCheck((try? SafeTensors.readShapes(from: inputPath)) == file.tensors.mapValues(\.shape),
              "read and readShapes give different shapes")
    for (name, entry) in file.tensors {
        fuzzCheck(entry.shape.allSatisfy { $0 >= 0 } && entry.shape.reduce(1, *) == entry.values.count,
                  "tensor '\(name)' has shape \(entry.shape) but \(entry.values.count) values")
    }

    do {
        try file.write(to: firstCopyPath)
    } catch {
        fuzzCheck(false, "a file that reads does not write back: \(brief(error))")
    }
    let again: SafeTensors
    do {
        again = try SafeTensors.read(from: firstCopyPath)
    } catch {
        fuzzCheck(false, "the written copy does not read back: \(brief(error))")
        return 0
    }
    fuzzCheck(again.metadata == file.metadata, "metadata changed in the round trip")
    fuzzCheck(Set(again.tensors.keys) == Set(file.tensors.keys), "tensor names changed in the round trip")
    for (name, entry) in file.tensors {
        let copy = again.tensors[name]!
        fuzzCheck(copy.shape == entry.shape, "tensor '\(name)': shape \(entry.shape) came back as \(copy.shape)")
        fuzzCheck(sameBits(copy.values, entry.values), "tensor '\(name)': values changed in the round trip")
    }

    do {
        try again.write(to: secondCopyPath)
    } catch {
        fuzzCheck(false, "the round-tripped file does not write: \(brief(error))")
    }
    let first = FileManager.default.contents(atPath: firstCopyPath)
    let second = FileManager.default.contents(atPath: secondCopyPath)
    fuzzCheck(first != nil && first == second, "writing the same contents twice gave different bytes")
    return 0
}
