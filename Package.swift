// swift-tools-version:6.0
import PackageDescription

/// Every kernel source under Kernels/, embedded into the SynapseKernels module at build time.
let kernelFiles = [
    "common.cl", "philox.cl", "gemm.cl", "im2col.cl", "pooling.cl", "activation.cl", "bias.cl",
    "softmax.cl", "random.cl", "lrn.cl", "elementwise.cl", "reduce.cl", "sgd.cl", "adam.cl", "indexing.cl",
    "lstm.cl",
]

let package = Package(
    name: "Synapse",
    products: [
        .library(name: "Synapse", targets: ["Synapse"]),
        .executable(name: "synapse", targets: ["synapse"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // `swift package generate-documentation`: the API reference from the DocC comments.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        // OpenBLAS, loaded at start-up with its kernels chosen for the processor (see Sources/CBLAS/blas.c).
        .target(name: "CBLAS", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        // Open MPI, loaded at run time, so that nothing needs it to build or to run without mpirun (Sources/CMPI/mpi.c).
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),
        // libjpeg behind a C function, because its errors arrive by longjmp (see Sources/CJPEG/jpeg.c).
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(
            name: "SynapseKernels",
            path: "Kernels",
            exclude: ["README.md"],
            resources: kernelFiles.map { .embedInCode($0) }
        ),
        .target(name: "SynapseCore"),
        // The CPU backend's random draws, exp-based activations, LSTM cell and bias gradient, compiled for AVX-512,
        // AVX2 and the baseline, one chosen at start-up (vector.c); its products of few rows with a large B, for
        // AVX-512 (gemm.c).
        .target(name: "CVector"),
        .target(name: "SynapseCPU", dependencies: ["SynapseCore", "CBLAS", "CVector"]),
        .target(
            name: "SynapseOpenCL",
            dependencies: [
                "SynapseCore", "COpenCL", "SynapseKernels",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Backend-agnostic model code: imports SynapseCore only (plus zlib, to read gzipped data sets, and libpng and
        // libjpeg, to read photographs and write pictures of what a model learnt).
        .target(name: "SynapseNN", dependencies: ["SynapseCore", "CZlib", "CPNG", "CJPEG"]),
        .target(
            name: "Synapse",
            dependencies: [
                "SynapseCore", "SynapseCPU", "SynapseOpenCL", "SynapseNN",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Data-parallel training over Open MPI: the group of `mpirun`'s processes for the trainer.
        .target(name: "SynapseDistributed", dependencies: ["CMPI", "SynapseNN"]),
        .executableTarget(
            name: "synapse",
            dependencies: ["Synapse", "SynapseDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "gemm-bench",
            dependencies: ["Synapse", "CBLAS", "COpenCL"],
            path: "Benchmarks/GEMM"
        ),
        .executableTarget(name: "core-latency", path: "Benchmarks/CoreLatency"),
        .executableTarget(
            name: "bandwidth-bench",
            dependencies: ["Synapse"],
            path: "Benchmarks/Bandwidth"
        ),
        .testTarget(name: "SynapseTests", dependencies: ["Synapse"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
