import ArgumentParser
import Foundation
import Synapse

struct FiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "Draw the first layer's weights of a checkpoint as a mosaic of images (PNG).",
        discussion: "One tile per unit or feature map, each scaled from its smallest weight (black) to its largest (white): "
            + "the edges and strokes an autoencoder, RBM, perceptron or convolution learnt from the pixels."
    )

    @Argument(help: "The checkpoint (.safetensors).") var checkpoint: String
    @Option(help: "The PNG file to write.") var out: String
    @Option(parsing: .unconditional, help: "Draw at most this many units (default: all, up to 400).") var count: Int?
    @Option(parsing: .unconditional, help: "Pixels per weight (default: tiles about 56 pixels high).") var scale: Int?

    func run() throws {
        guard out.lowercased().hasSuffix(".png") else {
            throw NNError.invalidSetting(name: "--out", message: "'\(out)' should end in .png; the mosaic is written as PNG")
        }
        if let count, count < 1 { throw NNError.invalidSetting(name: "--count", message: "must be at least 1, got \(count)") }
        try checkPictureOutput(out, input: checkpoint)
        let file = try SafeTensors.read(from: checkpoint)
        guard let layout = Checkpoint.layout(in: file.metadata) else {
            throw NNError.checkpoint(path: checkpoint, message: "its metadata has no 'architecture' naming the input and layers (not written by synapse train?)")
        }
        guard let layer = layout.layers.first(where: { file.tensors["\($0).weight"] != nil }),
              let weight = file.tensors["\(layer).weight"] else {
            throw NNError.checkpoint(path: checkpoint, message: "none of its layers (\(layout.layers.joined(separator: ", "))) has a weight")
        }
        let tile: [Int]
        if weight.shape.count == 4, [1, 3].contains(weight.shape[1]) {
            tile = Array(weight.shape.dropFirst())   // a convolution's kernels, [in channels, height, width]
        } else if weight.shape.count == 2, weight.shape[1] == layout.input.reduce(1, *), layout.input.count == 3,
                  [1, 3].contains(layout.input[0]) {
            tile = layout.input   // a dense layer on the pixels: each unit's weights as an image
        } else {
            throw NNError.checkpoint(path: checkpoint, message: "the first layer with a weight, '\(layer)', has weights \(describe(weight.shape)), "
                + "which are not images of its input \(describe(layout.input)): filters draws layers that read pixels")
        }
        if let bad = weight.values.firstIndex(where: { !$0.isFinite }) {
            throw NNError.checkpoint(path: checkpoint, message: "tensor '\(layer).weight' holds a value that is not finite (\(weight.values[bad]) at \(bad))")
        }
        let units = min(weight.shape[0], count ?? 400), size = tile.reduce(1, *)
        let picture = try Mosaic.render(Array(weight.values.prefix(units * size)), tileShape: tile,
                                        scale: scale ?? max(1, 56 / tile[1]))
        try picture.writePNG(to: out)
        print("\(units) of \(weight.shape[0]) filters of '\(layer)' (\(tile[1])x\(tile[2])) from \(checkpoint): \(out), \(picture.width)x\(picture.height)")
    }
}

/// A picture may replace an earlier picture, never the checkpoint it is drawn from or a file that is not a PNG.
func checkPictureOutput(_ out: String, input: String) throws {
    let (target, source) = (DataOptions.absolute(out), DataOptions.absolute(input))
    guard URL(fileURLWithPath: target).resolvingSymlinksInPath() != URL(fileURLWithPath: source).resolvingSymlinksInPath() else {
        throw NNError.invalidSetting(name: "--out", message: "\(out) is the checkpoint being read; write the picture elsewhere")
    }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory), !isDirectory.boolValue,
       let handle = FileHandle(forReadingAtPath: target) {
        defer { try? handle.close() }
        guard Array(handle.readData(ofLength: 8)) == Picture.pngSignature else {
            throw NNError.invalidSetting(name: "--out", message: "\(out) exists and is not a PNG file; it is left as it is")
        }
    }
}
