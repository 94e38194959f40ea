// Memory bandwidth of the elementwise kernels, in GB/s of bytes each op must read and write,
// for every backend side by side. Kernel compilation is excluded (one warm-up call per op).
//
//   swift run -c release bandwidth-bench [--count N] [--reps N]
import Foundation
import Synapse

func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    return args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
}
let count = Int(option("--count") ?? "") ?? 16 * 1024 * 1024
let reps = Int(option("--reps") ?? "") ?? 10

struct Op {
    let name: String
    let bytesPerElement: Int
    /// The backend, three tensors of `count` floats, a one-element result, and the SGD update's segments.
    let run: (Backend, [Tensor], UpdateSegments) throws -> Void
}

let ops: [Op] = [
    Op(name: "fill", bytesPerElement: 4) { b, x, _ in try b.fill(x[0], value: 1) },
    Op(name: "copy", bytesPerElement: 8) { b, x, _ in try b.copy(from: x[0], to: x[1]) },
    Op(name: "scale", bytesPerElement: 8) { b, x, _ in try b.scale(x[0], by: 0.999) },
    Op(name: "axpy", bytesPerElement: 12) { b, x, _ in try b.axpy(alpha: 0.5, x: x[0], y: x[1]) },
    Op(name: "multiply", bytesPerElement: 12) { b, x, _ in try b.multiply(x[0], x[1], output: x[2]) },
    Op(name: "relu forward", bytesPerElement: 8) { b, x, _ in try b.activationForward(.relu, input: x[0], output: x[1]) },
    Op(name: "sigmoid forward", bytesPerElement: 8) { b, x, _ in
        try b.activationForward(.sigmoid, input: x[0], output: x[1])
    },
    Op(name: "relu backward", bytesPerElement: 12) { b, x, _ in
        try b.activationBackward(.relu, input: x[0], output: x[1], gradOutput: x[1], gradInput: x[2])
    },
    Op(name: "dropout forward", bytesPerElement: 8) { b, x, _ in
        try b.dropoutForward(input: x[0], output: x[1], probability: 0.5, address: PhiloxAddress(seed: 7))
    },
    Op(name: "sgd momentum", bytesPerElement: 20) { b, x, segments in
        try b.sgdMomentumUpdate(weights: x[0], gradients: x[1], velocity: x[2],
                                parameters: SGDParameters(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4),
                                segments: segments)
    },
    Op(name: "sum", bytesPerElement: 4) { b, x, _ in try b.sum(x[0], result: x[3]) },
]

do {
    let backends = try Devices.allBackends()
    print("Elementwise bandwidth, \(count) floats (\(count * 4 / 1_048_576) MiB per buffer), median of \(reps); GB/s")
    for backend in backends { print("  \(backend.name): \(backend.deviceDescription)") }
    print("op".padding(toLength: 18, withPad: " ", startingAt: 0)
          + backends.map { $0.name.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined())

    let buffers = try backends.map { backend in
        try (0..<3).map { i in try backend.tensor((0..<count).map { Float(($0 + i) % 17) - 8 }) }
            + [try backend.tensor(shape: [1])]
    }
    let segments = try backends.map { try $0.updateSegments([UpdateSegments.Run(count: count)]) }
    for op in ops {
        var line = op.name.padding(toLength: 18, withPad: " ", startingAt: 0)
        for ((backend, x), segments) in zip(zip(backends, buffers), segments) {
            try op.run(backend, x, segments)
            try backend.synchronize()
            var times: [Double] = []
            for _ in 0..<reps {
                let start = DispatchTime.now().uptimeNanoseconds
                try op.run(backend, x, segments)
                try backend.synchronize()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let seconds = times.sorted()[reps / 2]
            line += String(format: "%-12.1f", Double(op.bytesPerElement * count) / seconds / 1e9)
        }
        print(line)
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
