import Foundation
import Synapse
import XCTest

// The shared test harness: reproducible inputs, a loop over every backend, and one parity checker
// (`assertAgreement`) through which every comparison in the suite goes, so that every failure names
// the backend, the op, the shape, and the first disagreeing element with both values.

// MARK: - Reproducible inputs

/// Test data drawn from Philox, SynapseCore's own generator, so that inputs are the same on every run.
struct TestRandom {
    private var address: PhiloxAddress

    init(seed: UInt64) { address = PhiloxAddress(seed: seed, stream: 0x7E57) }

    mutating func word() -> UInt32 {
        defer { address = address.advanced(by: 1) }
        return Philox.word(address)
    }

    mutating func float(in range: ClosedRange<Float> = -1...1) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * Philox.uniform(word())
    }

    mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in float(in: range) }
    }

    mutating func int(below bound: Int) -> Int { Int(word() % UInt32(bound)) }
}

// MARK: - Test sizes

/// `SYNAPSE_TEST_SHAPES=small` (set by scripts/oclgrind.sh) makes the kernel parity tests use fewer and
/// smaller cases that still launch every kernel and reach every code path (tile edges, offsets, transposes,
/// split K, groups, strides, dilation, ...), so that a simulator such as Oclgrind runs them in minutes.
/// Unset or `full`: every case, as always.
enum TestShapes {
    static let small: Bool = {
        let value = ProcessInfo.processInfo.environment["SYNAPSE_TEST_SHAPES"] ?? ""
        precondition(["", "full", "small"].contains(value), "SYNAPSE_TEST_SHAPES must be 'full' or 'small', not '\(value)'")
        return value == "small"
    }()

    /// `full`, or `small` under `SYNAPSE_TEST_SHAPES=small`.
    static func pick<T>(full: T, small reduced: T) -> T { small ? reduced : full }

    /// Skips the calling test under `SYNAPSE_TEST_SHAPES=small` (when `condition` holds), saying why, e.g.
    /// which tests launch its kernels there.
    static func skipWhenSmall(_ reason: String, if condition: Bool = true) throws {
        try XCTSkipIf(small && condition, "SYNAPSE_TEST_SHAPES=small: \(reason)")
    }
}

// MARK: - Backends

enum TestBackends {
    /// Opened once per run, so that each OpenCL backend builds its programs once rather than once per test.
    static let all: Result<[Backend], Error> = Result { try Devices.allBackends() }
}

extension Backend {
    var isOpenCL: Bool { self is OpenCLBackend }

    /// One update segment over all of `view`, at multipliers 1.
    func segments(covering view: Tensor) throws -> UpdateSegments {
        try updateSegments([UpdateSegments.Run(count: view.count)])
    }

    /// A tensor of NaN: an element the op should overwrite but skips stays NaN and fails any comparison.
    func nanTensor(_ count: Int) throws -> Tensor {
        try tensor([Float](repeating: .nan, count: count))
    }
}

/// Base class of every test class: registers the OpenCL usage report and runs bodies on every backend.
class SynapseTestCase: XCTestCase {
    override class func setUp() {
        super.setUp()
        OpenCLUsage.registerOnce()
    }

    /// Runs `body` on `backends`, by default the CPU backend and every OpenCL backend; an error fails the
    /// test, naming the backend.
    func forEachBackend(_ backends: [Backend]? = nil, file: StaticString = #filePath, line: UInt = #line,
                        _ body: (Backend) throws -> Void) {
        switch backends.map({ Result.success($0) }) ?? TestBackends.all {
        case .failure(let error):
            XCTFail("could not open the backends: \(error)", file: file, line: line)
        case .success(let backends):
            for backend in backends {
                if backend.isOpenCL { OpenCLUsage.shared.testRan(name) }
                do {
                    try body(backend)
                    try backend.synchronize()
                } catch {
                    XCTFail("\(backend.name): unexpected error: \(error)", file: file, line: line)
                }
            }
        }
    }

    /// Runs `body` on every OpenCL backend; skips the test when there is none.
    func forEachOpenCLBackend(file: StaticString = #filePath, line: UInt = #line,
                              _ body: (OpenCLBackend) throws -> Void) throws {
        let backends = try TestBackends.all.get().compactMap { $0 as? OpenCLBackend }
        try XCTSkipIf(backends.isEmpty, "no OpenCL device")
        forEachBackend(backends, file: file, line: line) { backend in try body(backend as! OpenCLBackend) }
    }

    /// The OpenCL devices, for tests that open backends of their own; skips the test when there is none.
    func openCLDevices() throws -> [OpenCLDevice] {
        let devices = OpenCLDevice.all()
        try XCTSkipIf(devices.isEmpty, "no OpenCL device")
        OpenCLUsage.shared.testRan(name)
        return devices
    }
}

// MARK: - OpenCL usage report

/// Counts the tests that ran on an OpenCL backend, and prints the tally once at the end of the run, so
/// that CI can tell a real OpenCL run from one that silently fell back to the CPU.
final class OpenCLUsage: NSObject, XCTestObservation, @unchecked Sendable {
    static let shared = OpenCLUsage()

    /// Guards `registered` and `tests`: tests may report from several threads.
    private let lock = NSLock()
    private var registered = false
    private var tests = Set<String>()

    static func registerOnce() {
        let first = shared.lock.withLock {
            defer { shared.registered = true }
            return !shared.registered
        }
        if first { XCTestObservationCenter.shared.addTestObserver(shared) }
    }

    func testRan(_ test: String) { lock.withLock { _ = tests.insert(test) } }

    func testBundleDidFinish(_ testBundle: Bundle) {
        print("Synapse: \(lock.withLock { tests.count }) tests ran on the OpenCL backend")
    }
}

// MARK: - The parity checker

/// Which call produced the values being checked.
struct OpCall: CustomStringConvertible {
    let backend: Backend
    let op: String
    let shape: String

    init(_ backend: Backend, _ op: String, _ shape: String) {
        self.backend = backend; self.op = op; self.shape = shape
    }

    var description: String { "\(backend.name) \(op) [\(shape)]" }
}

/// Reports how many elements of `got` disagree with `expected` and the first of them, with both values.
func assertAgreement<G, E>(_ got: [G], _ expected: [E], _ call: OpCall, _ what: String,
                           file: StaticString, line: UInt, agree: (G, E) -> Bool) {
    guard got.count == expected.count else {
        XCTFail("\(call) \(what): got \(got.count) elements, expected \(expected.count)", file: file, line: line)
        return
    }
    var first: Int?
    var mismatches = 0
    for i in got.indices where !agree(got[i], expected[i]) {
        mismatches += 1
        if first == nil { first = i }
    }
    if let i = first {
        XCTFail("\(call) \(what): \(mismatches) of \(got.count) elements differ; first at index \(i): "
                + "got \(got[i]), expected \(expected[i])", file: file, line: line)
    }
}

/// Bit-for-bit equality, for data movement and everything DESIGN calls exact.
func assertBitwiseEqual(_ got: [Float], _ expected: [Float], _ call: OpCall, _ what: String = "output",
                        file: StaticString = #filePath, line: UInt = #line) {
    assertAgreement(got, expected, call, what, file: file, line: line) { $0.bitPattern == $1.bitPattern }
}

func assertEqual(_ got: [Int32], _ expected: [Int32], _ call: OpCall, _ what: String = "output",
                 file: StaticString = #filePath, line: UInt = #line) {
    assertAgreement(got, expected, call, what, file: file, line: line) { $0 == $1 }
}

/// `Tolerance.elementwise` against a Float64 reference.
func assertClose(_ got: [Float], _ expected: [Double], _ call: OpCall, _ what: String = "output",
                 file: StaticString = #filePath, line: UInt = #line) {
    assertAgreement(got, expected.map { Float($0) }, call, what, file: file, line: line) {
        Tolerance.elementwise($0, $1)
    }
}

/// A Float64 reference value and the magnitude of the terms summed to make it.
struct SumReference: CustomStringConvertible {
    var value: Double
    var scale: Double
    var description: String { "\(value) (sum of |terms| \(scale))" }
}

/// `Tolerance.dotProduct`: for GEMM, convolution and reductions, whose error grows with sqrt(k) and the
/// magnitude of the summed terms.
func assertClose(_ got: [Float], _ expected: [SumReference], k: Int, _ call: OpCall, _ what: String = "output",
                 file: StaticString = #filePath, line: UInt = #line) {
    assertAgreement(got, expected, call, what, file: file, line: line) {
        Tolerance.dotProduct($0, reference: $1.value, scale: $1.scale, k: k)
    }
}

// MARK: - Errors

/// The cases of `SynapseError`, without their payloads.
enum ErrorKind: String {
    case invalidArgument, shapeMismatch, foreignBuffer, outOfMemory, kernelBuildFailed, openCL, unknownDevice, noOpenCLPlatform,
         libraryUnavailable
}

extension SynapseError {
    var kind: ErrorKind {
        switch self {
        case .invalidArgument: return .invalidArgument
        case .shapeMismatch: return .shapeMismatch
        case .foreignBuffer: return .foreignBuffer
        case .outOfMemory: return .outOfMemory
        case .kernelBuildFailed: return .kernelBuildFailed
        case .openCL: return .openCL
        case .unknownDevice: return .unknownDevice
        case .noOpenCLPlatform: return .noOpenCLPlatform
        case .libraryUnavailable: return .libraryUnavailable
        }
    }
}

/// `body` throws a `SynapseError` of `kind` whose message contains every string of `mentioning`;
/// returns the error.
@discardableResult
func assertThrows(_ kind: ErrorKind, mentioning needles: [String], _ context: String,
                  file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) -> SynapseError? {
    do {
        try body()
        XCTFail("\(context): expected \(kind) but nothing was thrown", file: file, line: line)
    } catch let error as SynapseError {
        XCTAssertEqual(error.kind, kind, "\(context): wrong error: \(error)", file: file, line: line)
        for needle in needles where !error.description.contains(needle) {
            XCTFail("\(context): the message does not mention '\(needle)': \(error)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("\(context): expected SynapseError.\(kind), got \(error)", file: file, line: line)
    }
    return nil
}

// MARK: - Model-level errors

/// `body` throws an `NNError` whose description contains every string of `needles`.
func assertNNError(contains needles: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an NNError mentioning \(needles), nothing was thrown", file: file, line: line)
    } catch let error as NNError {
        for needle in needles where !error.description.contains(needle) {
            XCTFail("the message does not mention '\(needle)': \(error)", file: file, line: line)
        }
    } catch {
        XCTFail("expected an NNError, got \(error)", file: file, line: line)
    }
}

// MARK: - Python, for interoperability checks

enum Python {
    /// Runs a Python script (arguments in `sys.argv[1:]`) and returns its exit status and combined output.
    static func run(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The output of a script that must succeed.
    static func output(_ script: String, _ arguments: [String] = []) throws -> String {
        let (status, output) = try run(script, arguments)
        guard status == 0 else {
            throw NNError.invalidSetting(name: "python3", message: "exited with \(status): \(output)")
        }
        return output
    }

    /// Skips the calling test when `python3` lacks `safetensors` or `numpy`, unless `SYNAPSE_REQUIRE_PYTHON=1`
    /// (set by CI), where that is a failure: a silent skip there would hide an interop regression.
    static func requireSafetensors(file: StaticString = #filePath, line: UInt = #line) throws {
        try requireModule("safetensors, numpy", file: file, line: line)
    }

    /// The same for any modules (`gensim`).
    static func requireModule(_ modules: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard (try? run("import \(modules)").status) == 0 else {
            let message = "python3 with \(modules) not found; pip install \(modules.replacingOccurrences(of: ",", with: "")) to run this interop check"
            if ProcessInfo.processInfo.environment["SYNAPSE_REQUIRE_PYTHON"] == "1" {
                XCTFail(message + " (SYNAPSE_REQUIRE_PYTHON=1)", file: file, line: line)
            }
            throw XCTSkip(message)
        }
    }
}
