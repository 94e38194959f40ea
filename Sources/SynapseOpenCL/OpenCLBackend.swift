import COpenCL
import Foundation
import SynapseCore
import SynapseKernels

/// Device memory: a `cl_mem` released when the last reference goes away.
final class OpenCLBuffer: Buffer, @unchecked Sendable {
    let mem: cl_mem

    init(mem: cl_mem, count: Int, dtype: DType, backend: OpenCLBackend) {
        self.mem = mem
        super.init(count: count, dtype: dtype, backend: backend)
    }

    deinit { clReleaseMemObject(mem) }
}

/// Device memory the backend keeps for its own use (split-K partial products). Not a `Buffer`: every buffer
/// holds its backend, so one held by the backend would keep both alive forever.
final class ScratchMemory {
    let mem: cl_mem
    let count: Int

    init(mem: cl_mem, count: Int) {
        self.mem = mem
        self.count = count
    }

    deinit { clReleaseMemObject(mem) }
}

/// The backend for one OpenCL device: a context, one in-order queue, and the programs built for it.
/// Safe to share between threads: every call is atomic with respect to the others (see `serialized`),
/// and the in-order queue runs the work in the order the calls were made. Hence `@unchecked Sendable`: its
/// mutable state (programs, scratch memory, build time) is touched only under `lock`.
public final class OpenCLBackend: Backend, @unchecked Sendable {
    public let device: OpenCLDevice
    /// The GEMM tile parameters per matrix shape: given, tuned (`synapse tune`) or the device class's defaults.
    public let gemmPlan: GemmPlan
    /// Where `gemmPlan` came from, for reports: "given", "tuned (<file>)" or "defaults for <kind> devices".
    public let gemmPlanSource: String
    public var name: String { "opencl:\(device.index)" }
    public var properties: DeviceProperties {
        DeviceProperties(execution: .queued, maxBufferBytes: min(device.maxAllocationBytes, Self.maxElements * 4))
    }
    public var deviceDescription: String { "\(device.name) (\(device.kind.rawValue), \(device.platformName))" }
    /// Seconds spent compiling or loading programs so far; benchmarks report it apart from run times.
    public var kernelBuildSeconds: Double { serialized { buildSeconds } }
    private var buildSeconds: Double = 0

    let context: cl_context
    let queue: cl_command_queue
    private let cache = KernelCache.standard()
    /// Device memory for the backend's own intermediate results, by purpose, grown as needed (see `scratch`).
    private var scratchMemory: [ScratchPurpose: ScratchMemory] = [:]
    private var programs: [String: (source: String, program: Program)] = [:]

    /// Opens `device`. GEMM uses `gemm` for every shape when given, else the plan `synapse tune` stored for
    /// this device, else the defaults for its class.
    public init(device: OpenCLDevice, gemm: GemmParameters? = nil) throws {
        self.device = device
        let tuned = gemm == nil ? GemmTuning.load(for: device) : nil
        let plan = gemm.map(GemmPlan.init(uniform:)) ?? tuned?.plan ?? GemmPlan.defaults(for: device)
        try plan.validate(for: device)
        gemmPlan = plan
        gemmPlanSource = gemm != nil ? "given" : tuned.map { "tuned (\($0.file))" } ?? "defaults for \(device.kind.rawValue) devices"
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let context = clCreateContext(nil, 1, &id, nil, nil, &status) else {
            throw SynapseError.openCL(call: "clCreateContext(\(device.name))", code: status)
        }
        self.context = context
        guard let queue = clCreateCommandQueue(context, device.id, 0, &status) else {
            clReleaseContext(context)
            throw SynapseError.openCL(call: "clCreateCommandQueue(\(device.name))", code: status)
        }
        self.queue = queue
    }

    deinit {
        scratchMemory.removeAll()
        programs.removeAll()
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Held while a call touches shared state: a kernel object keeps its arguments from `clSetKernelArg` to
    /// the enqueue, and the program table and the split-K scratch belong to every caller. Recursive, because
    /// a GEMM that splits K holds it across its allocation, program lookup and two launches.
    private let lock = NSRecursiveLock()

    func serialized<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// What the backend keeps scratch memory for.
    enum ScratchPurpose {
        /// Partial products of split-K GEMMs (see Kernels/gemm.cl).
        case splitK
        /// Per-work-group partial sums of reductions (see Kernels/reduce.cl).
        case reduction
    }

    /// Scratch memory of at least `count` floats for `purpose`, allocated once and grown when too small, so that
    /// a training step allocates nothing after its first. Shared by every caller: call it, and use what it
    /// returns, inside `serialized`.
    func scratch(_ purpose: ScratchPurpose, count: Int) throws -> ScratchMemory {
        if let existing = scratchMemory[purpose], existing.count >= count { return existing }
        let fresh = ScratchMemory(mem: try createMemory(count, .float32), count: count)
        scratchMemory[purpose] = fresh
        return fresh
    }

    // MARK: Memory

    public func owns(_ buffer: Buffer) -> Bool { buffer.backend === self && buffer is OpenCLBuffer }

    public func uncheckedAllocate(_ count: Int, _ dtype: DType) throws -> Buffer {
        OpenCLBuffer(mem: try createMemory(count, dtype), count: count, dtype: dtype, backend: self)
    }

    /// Zeroed device memory for `count > 0` elements, within what the device and 32-bit kernel indices allow.
    func createMemory(_ count: Int, _ dtype: DType) throws -> cl_mem {
        guard count <= Self.maxElements else {
            throw SynapseError.invalidArgument(op: "allocate", message:
                "\(count) elements requested; OpenCL buffers hold at most \(Self.maxElements), as kernels index them with 32-bit ints")
        }
        let bytes = count * dtype.byteSize
        let limit = min(device.maxAllocationBytes, device.globalMemoryBytes)
        guard bytes <= limit else {
            throw SynapseError.outOfMemory(device: "\(name) (\(device.name))", requestedBytes: bytes, limitBytes: limit)
        }
        var status: cl_int = 0
        guard let mem = clCreateBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status) else {
            if status == CL_MEM_OBJECT_ALLOCATION_FAILURE || status == CL_OUT_OF_RESOURCES
                || status == CL_INVALID_BUFFER_SIZE {
                throw SynapseError.outOfMemory(device: "\(name) (\(device.name))", requestedBytes: bytes, limitBytes: limit)
            }
            throw SynapseError.openCL(call: "clCreateBuffer(\(bytes) bytes)", code: status)
        }
        var zero: Int32 = 0
        let filled = clEnqueueFillBuffer(queue, mem, &zero, 4, 0, bytes, 0, nil, nil)
        guard filled == CL_SUCCESS else {
            clReleaseMemObject(mem)
            throw SynapseError.openCL(call: "clEnqueueFillBuffer", code: filled)
        }
        return mem
    }

    /// Every index a kernel computes within a buffer, plus a work-item's run of ELEMENTS_PER_ITEM, fits in
    /// a 32-bit int below this bound.
    public static let maxElements = Int(Int32.max) - 4096

    public func uncheckedUpload(_ values: UnsafeRawBufferPointer, to view: Tensor) throws {
        guard values.count > 0 else { return }
        let size = view.dtype.byteSize
        try check(clEnqueueWriteBuffer(queue, mem(view), cl_bool(CL_TRUE), view.offset * size, values.count,
                                       values.baseAddress, 0, nil, nil), "clEnqueueWriteBuffer")
    }

    public func uncheckedDownload(_ view: Tensor, into values: UnsafeMutableRawBufferPointer) throws {
        guard values.count > 0 else { return }
        let size = view.dtype.byteSize
        try check(clEnqueueReadBuffer(queue, mem(view), cl_bool(CL_TRUE), view.offset * size, values.count,
                                      values.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
    }

    public func uncheckedCopy(from source: Tensor, to destination: Tensor) throws {
        let size = source.dtype.byteSize
        try check(clEnqueueCopyBuffer(queue, mem(source), mem(destination), source.offset * size,
                                      destination.offset * size, source.count * size, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    public func uncheckedFill(_ view: Tensor, value: Float) throws {
        var pattern = value
        try check(clEnqueueFillBuffer(queue, mem(view), &pattern, 4, view.offset * 4, view.count * 4, 0, nil, nil),
                  "clEnqueueFillBuffer")
    }

    public func synchronize() throws {
        try check(clFinish(queue), "clFinish")
    }

    /// The queue all of this backend's work is enqueued on, for interoperation with other OpenCL
    /// libraries (CLBlast, clFFT); work enqueued there is ordered with Synapse's.
    public var commandQueue: cl_command_queue { queue }

    /// The `cl_mem` behind `view` (its elements start `view.offset` elements in), for the same interoperation.
    public func memory(of view: Tensor) throws -> cl_mem {
        try Check.view(view, "view", op: "memory(of:)", on: self, count: view.count, dtype: view.dtype)
        return mem(view)
    }

    /// The `cl_mem` of a view whose buffer the front-end's checks (through `owns`) have matched to this backend.
    func mem(_ view: Tensor) -> cl_mem { (view.buffer as! OpenCLBuffer).mem }

    // MARK: Programs

    /// Builds (or loads from the binary cache) `source` with `options`, once per backend.
    /// A failed build throws `kernelBuildFailed` carrying the compiler's log.
    public func buildProgram(name: String, source: String, options: String = "") throws {
        _ = try program(name: name, source: source, options: options)
    }

    func program(name: String, source: String, options: String) throws -> Program {
        try serialized { try lookUpOrBuild(name: name, source: source, options: options) }
    }

    private func lookUpOrBuild(name: String, source: String, options: String) throws -> Program {
        let memoKey = "\(name)|\(options)"
        // The source is compared too, so that a program rebuilt under the same name is not stale.
        if let (builtSource, existing) = programs[memoKey], builtSource == source { return existing }
        let start = Date()
        defer { buildSeconds += Date().timeIntervalSince(start) }
        let fullOptions = "-cl-std=CL1.2 " + options
        let key = KernelCache.key(device: device, options: fullOptions, source: source)
        let program: Program
        if let binary = cache.load(key), let cached = try? Program(binary: binary, backend: self, options: fullOptions) {
            program = cached
        } else {
            program = try Program(source: source, name: name, backend: self, options: fullOptions)
            if let binary = program.binary() { cache.store(key, binary) }
        }
        programs[memoKey] = (source, program)
        return program
    }

    /// The programs of Kernels/, by file.
    func program(_ file: KernelFile, options: String = "") throws -> Program {
        let common = file == .gemm ? "" : "-DELEMENTS_PER_ITEM=\(elementsPerItem) "
        return try program(name: file.rawValue, source: file.source, options: common + options)
    }

    /// Consecutive elements per work-item in the elementwise kernels (see Kernels/common.cl): PoCL
    /// vectorises the loop over 16 (4x the bandwidth of one per item); GPUs want one.
    var elementsPerItem: Int { device.kind == .cpu ? 16 : 1 }

    // MARK: Launch

    /// A kernel argument. Every `__global` pointer of a kernel is followed by its offset in elements (the
    /// kernel adds it), so a view or scratch memory sets two arguments.
    enum Argument {
        case view(Tensor)
        case scratch(ScratchMemory)
        case int(Int)
        case float(Float)
        case ulong(UInt64)
    }

    /// Work-group size for one-dimensional kernels; global sizes are rounded up to a multiple of it and
    /// every kernel checks its index against the real count.
    var linearGroupSize: Int { min(256, device.maxWorkGroupSize) }

    /// Launches a kernel that loops with FOR_EACH_INDEX over `count` elements.
    func launch(_ program: Program, _ kernelName: String, elements count: Int, _ arguments: [Argument]) throws {
        try launch(program, kernelName, global: [(count + elementsPerItem - 1) / elementsPerItem], arguments)
    }

    func launch(_ program: Program, _ kernelName: String, global: [Int], local: [Int]? = nil,
                _ arguments: [Argument]) throws {
        try serialized { try setArgumentsAndEnqueue(program, kernelName, global: global, local: local, arguments) }
    }

    private func setArgumentsAndEnqueue(_ program: Program, _ kernelName: String, global: [Int], local: [Int]?,
                                        _ arguments: [Argument]) throws {
        let kernel = try program.kernel(kernelName)
        var index = 0
        func set(_ size: Int, _ value: UnsafeRawPointer) throws {
            try check(clSetKernelArg(kernel, cl_uint(index), size, value), "clSetKernelArg(\(kernelName), \(index))")
            index += 1
        }
        func setMemory(_ memory: cl_mem, offset: Int) throws {
            var m: cl_mem? = memory
            try set(MemoryLayout<cl_mem>.size, &m)
            var o = cl_int(offset)
            try set(4, &o)
        }
        for argument in arguments {
            switch argument {
            case .view(let view):
                try setMemory(mem(view), offset: view.offset)
            case .scratch(let scratch):
                try setMemory(scratch.mem, offset: 0)
            case .int(let value):
                guard var narrowed = cl_int(exactly: value) else {
                    throw SynapseError.invalidArgument(op: kernelName, message: "argument \(index) = \(value) exceeds 32 bits")
                }
                try set(4, &narrowed)
            case .float(var value):
                try set(4, &value)
            case .ulong(let value):
                var v = cl_ulong(value)
                try set(8, &v)
            }
        }
        let localSizes = local ?? global.map { _ in linearGroupSize }
        let globalSizes = zip(global, localSizes).map { ($0 + $1 - 1) / $1 * $1 }
        try check(clEnqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, globalSizes, localSizes, 0, nil, nil),
                  "clEnqueueNDRangeKernel(\(kernelName))")
    }
}

/// A built program and the kernels created from it.
final class Program {
    let handle: cl_program
    private let device: cl_device_id
    private var kernels: [String: cl_kernel] = [:]

    init(source: String, name: String, backend: OpenCLBackend, options: String) throws {
        var status: cl_int = 0
        let created: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return clCreateProgramWithSource(backend.context, 1, &pointer, nil, &status)
        }
        guard let program = created else { throw SynapseError.openCL(call: "clCreateProgramWithSource(\(name))", code: status) }
        handle = program
        self.device = backend.device.id
        var device: cl_device_id? = backend.device.id
        let buildStatus = clBuildProgram(program, 1, &device, options, nil, nil)
        if buildStatus != CL_SUCCESS {
            let log = buildLog()
            throw SynapseError.kernelBuildFailed(program: name, device: backend.device.name, options: options,
                                                 log: log.isEmpty ? "(the compiler gave no log; status \(openCLErrorName(buildStatus)))" : log)
        }
    }

    init(binary: [UInt8], backend: OpenCLBackend, options: String) throws {
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var device: cl_device_id? = backend.device.id
        var length = binary.count
        let created: cl_program? = binary.withUnsafeBufferPointer { bytes in
            var pointer: UnsafePointer<UInt8>? = bytes.baseAddress
            return clCreateProgramWithBinary(backend.context, 1, &device, &length, &pointer, &binaryStatus, &status)
        }
        guard let program = created, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let created { clReleaseProgram(created) }
            throw SynapseError.openCL(call: "clCreateProgramWithBinary", code: status != CL_SUCCESS ? status : binaryStatus)
        }
        handle = program
        self.device = backend.device.id
        try check(clBuildProgram(program, 1, &device, options, nil, nil), "clBuildProgram(binary)")
    }

    deinit {
        for kernel in kernels.values { clReleaseKernel(kernel) }
        clReleaseProgram(handle)
    }

    func kernel(_ name: String) throws -> cl_kernel {
        if let kernel = kernels[name] { return kernel }
        var status: cl_int = 0
        guard let kernel = clCreateKernel(handle, name, &status) else {
            throw SynapseError.openCL(call: "clCreateKernel(\(name))", code: status)
        }
        kernels[name] = kernel
        return kernel
    }

    /// The device binary, for the on-disk cache.
    func binary() -> [UInt8]? {
        var size = 0
        guard clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil)
                == CL_SUCCESS, size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        let status = bytes.withUnsafeMutableBufferPointer { buffer -> cl_int in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>>.size,
                                    &pointer, nil)
        }
        return status == CL_SUCCESS ? bytes : nil
    }

    private func buildLog() -> String {
        var size = 0
        clGetProgramBuildInfo(handle, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
        guard size > 1 else { return "" }
        var bytes = [CChar](repeating: 0, count: size)
        clGetProgramBuildInfo(handle, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
        return text(bytes)
    }
}

/// The kernel files, and what each program is built from.
enum KernelFile: String, CaseIterable {
    case gemm, im2col, pooling, activation, bias, softmax, random, lrn, elementwise, reduce, sgd, adam, indexing, lstm

    /// Assembled once: launches look programs up by source.
    var source: String { Self.sources[self]! }

    private static let sources = Dictionary(uniqueKeysWithValues: allCases.map {
        ($0, $0 == .gemm ? $0.body : KernelSources.common + "\n" + $0.body)
    })

    private var body: String {
        switch self {
        case .gemm: return KernelSources.gemm
        case .im2col: return KernelSources.im2col
        case .pooling: return KernelSources.pooling
        case .activation: return KernelSources.activation
        case .bias: return KernelSources.bias
        case .softmax: return KernelSources.softmax
        case .random: return KernelSources.philox + "\n" + KernelSources.random
        case .lrn: return KernelSources.lrn
        case .elementwise: return KernelSources.elementwise
        case .reduce: return KernelSources.reduce
        case .sgd: return KernelSources.sgd
        case .adam: return KernelSources.adam
        case .indexing: return KernelSources.indexing
        case .lstm: return KernelSources.lstm
        }
    }
}
