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
    let run: (Backend, [Buffer]) throws -> Void
}

let ops: [Op] = [
    Op(name: "fill", bytesPerElement: 4) { b, x in try b.fill(x[0], value: 1, offset: 0, count: count) },
    Op(name: "copy", bytesPerElement: 8) { b, x in try b.copy(from: x[0], offset: 0, to: x[1], offset: 0, count: count) },
    Op(name: "scale", bytesPerElement: 8) { b, x in try b.scale(x[0], by: 0.999, count: count) },
    Op(name: "axpy", bytesPerElement: 12) { b, x in try b.axpy(alpha: 0.5, x: x[0], y: x[1], count: count) },
    Op(name: "multiply", bytesPerElement: 12) { b, x in try b.multiply(x[0], x[1], output: x[2], count: count) },
    Op(name: "relu forward", bytesPerElement: 8) { b, x in
        try b.activationForward(.relu, input: x[0], output: x[1], count: count)
    },
    Op(name: "sigmoid forward", bytesPerElement: 8) { b, x in
        try b.activationForward(.sigmoid, input: x[0], output: x[1], count: count)
    },
    Op(name: "relu backward", bytesPerElement: 12) { b, x in
        try b.activationBackward(.relu, input: x[0], output: x[1], gradOutput: x[1], gradInput: x[2], count: count)
    },
    Op(name: "dropout forward", bytesPerElement: 8) { b, x in
        try b.dropoutForward(input: x[0], output: x[1], count: count, probability: 0.5,
                             address: PhiloxAddress(seed: 7))
    },
    Op(name: "sgd momentum", bytesPerElement: 20) { b, x in
        try b.sgdMomentumUpdate(weights: x[0], gradients: x[1], velocity: x[2], count: count,
                                parameters: SGDParameters(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4))
    },
    Op(name: "sum", bytesPerElement: 4) { b, x in try b.sum(x[0], count: count, result: x[3]) },
]

do {
    let backends = try Devices.allBackends()
    print("Elementwise bandwidth, \(count) floats (\(count * 4 / 1_048_576) MiB per buffer), median of \(reps); GB/s")
    for backend in backends { print("  \(backend.name): \(backend.deviceDescription)") }
    print("op".padding(toLength: 18, withPad: " ", startingAt: 0)
          + backends.map { $0.name.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined())

    let buffers = try backends.map { backend in
        try (0..<3).map { i in try backend.buffer((0..<count).map { Float(($0 + i) % 17) - 8 }) }
            + [try backend.allocate(1, .float32)]
    }
    for op in ops {
        var line = op.name.padding(toLength: 18, withPad: " ", startingAt: 0)
        for (backend, x) in zip(backends, buffers) {
            try op.run(backend, x)
            try backend.synchronize()
            var times: [Double] = []
            for _ in 0..<reps {
                let start = DispatchTime.now().uptimeNanoseconds
                try op.run(backend, x)
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
