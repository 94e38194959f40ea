import Synapse
import XCTest

/// Bad input must be rejected on every backend with the same specific error, whose message names the
/// problem, and before any kernel runs: the buffer the call would have written stays unchanged.
/// Check.swift's promise is that all devices reject the same bad input with the same error, so the
/// messages must also be identical across backends (up to the backend's own name).
final class BadInputTests: SynapseTestCase {
    struct BadCall {
        let description: String
        let kind: ErrorKind
        let mentioning: [String]
        let call: () throws -> Void
    }

    /// The calls under test; each would write `output` (64 floats) if it got as far as running a kernel.
    func badCalls(on backend: Backend, output: Tensor) throws -> [BadCall] {
        let small = try backend.tensor(shape: [15]), matrix = try backend.tensor(shape: [16])
        let floatLabels = try backend.tensor(shape: [4]), argmax = try backend.tensor(shape: [64], dtype: .int32)
        let foreign = try CPUBackend().tensor(shape: [64])  // another backend instance, even for the CPU
        let oversizedKernel = ConvGeometry(channels: 1, height: 3, width: 3, kernelH: 5, kernelW: 5)
        let overPadded = PoolGeometry(planes: 1, height: 5, width: 5, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1,
                                      padH: 2, padW: 2)
        let pastThePlane = PoolGeometry(planes: 1, height: 1, width: 1, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2)
        let dilatedPastTheImage = ConvGeometry(channels: 1, height: 3, width: 3, kernelH: 3, kernelW: 3, strideH: 3,
                                               strideW: 3, dilationH: 2, dilationW: 2)
        let lrn = LRNGeometry(batch: 1, channels: 4, spatial: 16)
        let scale = try backend.tensor(shape: [64])
        // Claims the backend, holds no memory.
        let impostor = Tensor(Buffer(count: 64, dtype: .float32, backend: backend))
        func gemm(a: Tensor, lda: Int = 4, cOffset: Int = 0) throws {
            try backend.gemm(transA: false, transB: false, m: 4, n: 4, k: 4, alpha: 1, a: a, lda: lda, b: matrix, ldb: 4,
                             beta: 0, c: output.elements(cOffset..<output.count), ldc: 4)
        }
        var calls = [
            BadCall(description: "gemm with A one element short", kind: .shapeMismatch,
                    mentioning: ["gemm", "A needs 16 elements", "holds 15"]) { try gemm(a: small) },
            BadCall(description: "gemm with C too small for its offset", kind: .shapeMismatch,
                    mentioning: ["gemm", "C needs 16 elements but holds 4"]) { try gemm(a: matrix, cOffset: 60) },
            BadCall(description: "gemm with lda < columns", kind: .invalidArgument,
                    mentioning: ["gemm", "leading dimension of A is 3", "4 columns"]) { try gemm(a: matrix, lda: 3) },
            BadCall(description: "im2col with a kernel larger than the padded image", kind: .invalidArgument,
                    mentioning: ["im2col", "5x5 kernel", "does not fit", "3x3 image"]) {
                try backend.im2col(image: matrix, geometry: oversizedKernel, columns: output)
            },
            BadCall(description: "col2im with a kernel larger than the padded image", kind: .invalidArgument,
                    mentioning: ["col2im", "does not fit"]) {
                try backend.col2im(columns: matrix, geometry: oversizedKernel, image: output)
            },
            BadCall(description: "im2col over images closer together than one image", kind: .invalidArgument,
                    mentioning: ["im2col", "images 5 elements apart overlap", "each holds 9"]) {
                let overlapping = ConvGeometry(channels: 1, height: 3, width: 3, kernelH: 1, kernelW: 1,
                                               images: 2, imageStride: 5)
                try backend.im2col(image: matrix, geometry: overlapping, columns: output)
            },
            BadCall(description: "max pooling padded by more than half the window", kind: .invalidArgument,
                    mentioning: ["maxPoolForward", "padding 2x2", "half the 3x3 window"]) {
                try backend.maxPoolForward(input: output, output: output, argmax: argmax, geometry: overPadded)
            },
            BadCall(description: "average pooling padded by more than half the window", kind: .invalidArgument,
                    mentioning: ["avgPoolForward", "padding 2x2"]) {
                try backend.avgPoolForward(input: matrix, output: output, geometry: overPadded)
            },
            BadCall(description: "a pooling window that lies past a 1x1 plane", kind: .invalidArgument,
                    mentioning: ["avgPoolForward", "2x2 window does not fit", "1x1 plane"]) {
                try backend.avgPoolForward(input: matrix, output: output, geometry: pastThePlane)
            },
            BadCall(description: "a dilated kernel that lies past the image", kind: .invalidArgument,
                    mentioning: ["im2col", "dilation 2x2", "does not fit", "3x3 image"]) {
                try backend.im2col(image: matrix, geometry: dilatedPastTheImage, columns: output)
            },
            BadCall(description: "gemm writing into its own A", kind: .invalidArgument,
                    mentioning: ["gemm", "A and C overlap"]) { try gemm(a: output) },
            BadCall(description: "gemm with A and C overlapping views of one buffer", kind: .invalidArgument,
                    mentioning: ["gemm", "A and C overlap", "4..<20", "0..<16"]) {
                try backend.gemm(transA: false, transB: false, m: 4, n: 4, k: 4, alpha: 1, a: output.elements(4..<20),
                                 lda: 4, b: matrix, ldb: 4, beta: 0, c: output, ldc: 4)
            },
            BadCall(description: "a view past the end of its buffer", kind: .shapeMismatch,
                    mentioning: ["scale", "x is a view of [8] from offset 60", "outside its buffer of 64"]) {
                try backend.scale(Tensor(output.buffer, offset: 60, shape: [8]), by: 2)
            },
            BadCall(description: "a view at a negative offset", kind: .shapeMismatch,
                    mentioning: ["scale", "from offset -1"]) {
                try backend.scale(Tensor(output.buffer, offset: -1, shape: [8]), by: 2)
            },
            BadCall(description: "elementwise views partly overlapping", kind: .invalidArgument,
                    mentioning: ["axpy", "x and y overlap", "in place only on identical views"]) {
                try backend.axpy(alpha: 1, x: output.elements(0..<32), y: output.elements(16..<48))
            },
            BadCall(description: "elementwise views of different sizes", kind: .shapeMismatch,
                    mentioning: ["multiply", "output needs 16 elements (as a) but holds 64"]) {
                try backend.multiply(matrix, matrix, output: output)
            },
            BadCall(description: "LRN in place", kind: .invalidArgument,
                    mentioning: ["lrnForward", "input and output overlap"]) {
                try backend.lrnForward(input: output, output: output, scale: scale, geometry: lrn)
            },
            BadCall(description: "a bias whose element count overflows", kind: .invalidArgument,
                    mentioning: ["biasAdd", "overflow"]) {
                try backend.biasAdd(data: output, bias: matrix, outer: Int.max / 2, channels: 4, inner: 4)
            },
            BadCall(description: "a Buffer that claims the backend but is not its memory", kind: .foreignBuffer,
                    mentioning: ["scale", "'x'", backend.name]) {
                try backend.scale(impostor, by: 2)
            },
            BadCall(description: "float32 labels", kind: .shapeMismatch,
                    mentioning: ["softmaxCrossEntropyForward", "labels holds float32, expected int32"]) {
                try backend.softmaxCrossEntropyForward(logits: matrix, labels: floatLabels, probabilities: output.elements(0..<16),
                                                       losses: floatLabels, rows: 4, cols: 4)
            },
            BadCall(description: "a buffer from another backend instance", kind: .foreignBuffer,
                    mentioning: ["axpy", "'x'", backend.name]) {
                try backend.axpy(alpha: 1, x: foreign, y: output)
            },
            BadCall(description: "dropout probability 1", kind: .invalidArgument,
                    mentioning: ["dropoutForward", "drop probability", "[0, 1)", "got 1.0"]) {
                try backend.dropoutForward(input: matrix, output: output, probability: 1, address: PhiloxAddress(seed: 1))
            },
            BadCall(description: "negative dropout probability", kind: .invalidArgument,
                    mentioning: ["dropoutBackward", "drop probability", "got -0.25"]) {
                try backend.dropoutBackward(gradOutput: matrix, gradInput: output, probability: -0.25,
                                            address: PhiloxAddress(seed: 1))
            },
            BadCall(description: "a shape beyond the buffer", kind: .shapeMismatch,
                    mentioning: ["activationForward", "input is a view of [65]", "outside its buffer of 64"]) {
                try backend.activationForward(.relu, input: output.reshaped([65]), output: output)
            },
            BadCall(description: "allocating 0 elements", kind: .invalidArgument,
                    mentioning: ["allocate", "count must be positive, got 0"]) {
                _ = try backend.allocate(0, .float32)
            },
            BadCall(description: "uploading floats into an int32 buffer", kind: .shapeMismatch,
                    mentioning: ["upload", "holds int32, expected float32"]) {
                try backend.upload([Float(1), 2], to: argmax)
            },
            BadCall(description: "downloading past the end", kind: .shapeMismatch,
                    mentioning: ["download", "source is a view of [8] from offset 60, outside its buffer of 64"]) {
                _ = try backend.download(output.elements(60..<68))
            },
            BadCall(description: "downloading a float32 buffer as int32", kind: .shapeMismatch,
                    mentioning: ["download", "holds float32, expected int32"]) {
                _ = try backend.downloadInt32(output.elements(0..<4))
            },
            // Every other op rejects an empty view (Check.elementwise), and so does allocate.
            BadCall(description: "filling 0 elements", kind: .invalidArgument,
                    mentioning: ["fill", "count must be positive, got 0"]) {
                try backend.fill(output.elements(0..<0), value: 0)
            },
            BadCall(description: "copying 0 elements", kind: .invalidArgument,
                    mentioning: ["copy", "count must be positive, got 0"]) {
                try backend.copy(from: matrix.elements(0..<0), to: output.elements(0..<0))
            },
        ]
        if backend.isOpenCL {
            calls.append(BadCall(description: "an OpenCL buffer too large for 32-bit kernel indices", kind: .invalidArgument,
                                 mentioning: ["allocate", "32-bit"]) {
                _ = try backend.allocate(Int(Int32.max), .float32)
            })
        }
        if backend.isOpenCL, case .success(let all) = TestBackends.all, let cpu = all.first(where: { !$0.isOpenCL }) {
            let cpuBuffer = try cpu.tensor(shape: [64])
            calls.append(BadCall(description: "a CPU buffer passed to an OpenCL op", kind: .foreignBuffer,
                                 mentioning: ["axpy", "'x'", backend.name]) {
                try backend.axpy(alpha: 1, x: cpuBuffer, y: output)
            })
        }
        return calls
    }

    func testBadInputIsRejectedBeforeAnyKernelRuns() {
        let sentinel = (0..<64).map { Float($0) + 0.5 }
        var messages: [String: [(backend: String, message: String)]] = [:]
        forEachBackend { backend in
            let output = try backend.tensor(sentinel)
            for bad in try badCalls(on: backend, output: output) {
                try backend.upload(sentinel, to: output)  // so that one failure does not spill into the next
                let error = assertThrows(bad.kind, mentioning: bad.mentioning, "\(backend.name) \(bad.description)", bad.call)
                assertBitwiseEqual(try backend.download(output), sentinel, OpCall(backend, bad.description, "64 floats"),
                                   "output after the rejected call")
                let message = error.map { "\($0)".replacingOccurrences(of: backend.name, with: "<backend>") } ?? "no error"
                messages[bad.description, default: []].append((backend.name, message))
            }
        }
        for (description, results) in messages.sorted(by: { $0.key < $1.key }) {
            for other in results.dropFirst() where other.message != results[0].message {
                XCTFail("\(description): \(results[0].backend) says \"\(results[0].message)\" but \(other.backend) says \"\(other.message)\"")
            }
        }
    }
}
