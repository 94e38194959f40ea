// swift-tools-version:6.0
// libFuzzer targets for Synapse's file readers. Not part of the main build: scripts/fuzz.sh builds this package
// with `-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library` (libFuzzer supplies `main`) and runs it.
import PackageDescription

let package = Package(
    name: "SynapseFuzz",
    dependencies: [
        // The parent exports only the umbrella product; the targets use SynapseNN and SynapseCPU through it.
        .package(name: "Synapse", path: ".."),
    ],
    targets: [
        // zlib for writing gzip variants of inputs (the parent's CZlib module is not a product).
        .systemLibrary(name: "CZlibFuzz", path: "Sources/CZlibFuzz"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CZlibFuzz", .product(name: "Synapse", package: "Synapse")]
        ),
        // The `<target>_main` entry points SwiftPM's linker flags ask for, handing over to libFuzzer (see entry.c).
        .target(name: "FuzzEntry"),
        .executableTarget(name: "fuzz-idx", dependencies: ["FuzzSupport", "FuzzEntry"]),
        .executableTarget(name: "fuzz-cifar", dependencies: ["FuzzSupport", "FuzzEntry"]),
        .executableTarget(name: "fuzz-safetensors", dependencies: ["FuzzSupport", "FuzzEntry"]),
        .executableTarget(name: "fuzz-checkpoint", dependencies: ["FuzzSupport", "FuzzEntry"]),
    ],
    swiftLanguageModes: [.v6]
)
