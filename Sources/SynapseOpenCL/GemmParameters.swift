import SynapseCore

/// The `-D` parameters of Kernels/gemm.cl (see the comment at its top).
public struct GemmParameters: Equatable, Sendable, Codable, CustomStringConvertible {
    /// The tile of C each work-group computes (`MWG x NWG`), and the depth of the K slice held in local memory.
    public var mwg, nwg, kwg: Int
    /// Work-items per work-group along M and N; each divides its side of the tile.
    public var mdimc, ndimc: Int
    /// The vector width along N: 1, 2, 4, 8 or 16, dividing `nwg / ndimc`.
    public var vwn: Int

    /// Parameters as given, unchecked: an `OpenCLBackend` checks its plan against its device when it opens.
    public init(mwg: Int, nwg: Int, kwg: Int, mdimc: Int, ndimc: Int, vwn: Int) {
        self.mwg = mwg; self.nwg = nwg; self.kwg = kwg; self.mdimc = mdimc; self.ndimc = ndimc; self.vwn = vwn
    }

    /// Per device class, for square-ish matrices. CPU values were measured on PoCL (2-core Haswell: 23 GFLOP/s
    /// at 1024 against 13-16 for smaller tiles); big work-groups let PoCL vectorise across work-items.
    public static func defaults(for kind: OpenCLDevice.Kind) -> GemmParameters {
        switch kind {
        case .cpu: return GemmParameters(mwg: 128, nwg: 128, kwg: 32, mdimc: 16, ndimc: 16, vwn: 8)
        default: return GemmParameters(mwg: 64, nwg: 64, kwg: 16, mdimc: 16, ndimc: 16, vwn: 4)
        }
    }

    /// The parameters under gemm.cl's `-D` names, for logs and reports.
    public var description: String {
        "MWG=\(mwg) NWG=\(nwg) KWG=\(kwg) MDIMC=\(mdimc) NDIMC=\(ndimc) VWN=\(vwn)"
    }

    func buildOptions(transA: Bool, transB: Bool) -> String {
        "-DTRANS_A=\(transA ? 1 : 0) -DTRANS_B=\(transB ? 1 : 0) -DMWG=\(mwg) -DNWG=\(nwg) -DKWG=\(kwg) "
            + "-DMDIMC=\(mdimc) -DNDIMC=\(ndimc) -DVWN=\(vwn)"
    }

    func validate(for device: OpenCLDevice) throws {
        let op = "gemm parameters"
        try Check.positive(op: op, ["MWG": mwg, "NWG": nwg, "KWG": kwg, "MDIMC": mdimc, "NDIMC": ndimc])
        // Bounded first, so that the products below cannot overflow on a hand-edited tuning file.
        guard [mwg, nwg, kwg, mdimc, ndimc].allSatisfy({ $0 <= 4096 }) else {
            throw SynapseError.invalidArgument(op: op, message: "tile parameters above 4096 (\(self))")
        }
        guard mwg % mdimc == 0, nwg % ndimc == 0 else {
            throw SynapseError.invalidArgument(op: op, message: "MDIMC must divide MWG and NDIMC must divide NWG (\(self))")
        }
        guard [1, 2, 4, 8, 16].contains(vwn), (nwg / ndimc) % vwn == 0 else {
            throw SynapseError.invalidArgument(op: op, message: "VWN must be 1, 2, 4, 8 or 16 and divide NWG/NDIMC (\(self))")
        }
        guard mdimc * ndimc <= device.maxWorkGroupSize else {
            throw SynapseError.invalidArgument(op: op, message:
                "\(mdimc * ndimc) work-items per group exceed \(device.name)'s limit of \(device.maxWorkGroupSize)")
        }
        let localBytes = kwg * (mwg + nwg) * 4
        guard localBytes <= device.localMemoryBytes else {
            throw SynapseError.invalidArgument(op: op, message:
                "tiles need \(localBytes) bytes of local memory, \(device.name) has \(device.localMemoryBytes)")
        }
    }
}

/// GEMM parameters per shape: a tile shaped for the matrix, so that a product with few rows (a
/// convolution with 6 filters, a dense layer's batch of 64) is not padded to a 128-row tile.
public struct GemmPlan: Equatable, Sendable, Codable {
    /// Both dimensions above `mediumLimit`.
    public var large: GemmParameters
    /// The smaller dimension above `narrowLimit`, at most `mediumLimit`: a batch of rows, as in a dense
    /// layer's forward pass.
    public var medium: GemmParameters
    /// At most `narrowLimit` rows (m), and no more rows than columns.
    public var fewRows: GemmParameters
    /// At most `narrowLimit` columns (n), and fewer columns than rows.
    public var fewColumns: GemmParameters

    /// The largest side of a matrix that counts as narrow, for the `fewRows` and `fewColumns` tiles.
    public static let narrowLimit = 32
    /// The largest smaller side of a matrix that the `medium` tile is used for; above it, `large`, which takes the
    /// 128 rows of AlexNet's fully connected layers at batch 128 in one tile (PoCL: 53 GFLOP/s against 36 in two).
    public static let mediumLimit = 64

    /// A plan with its own parameters for each class of shape.
    public init(large: GemmParameters, medium: GemmParameters, fewRows: GemmParameters, fewColumns: GemmParameters) {
        self.large = large; self.medium = medium; self.fewRows = fewRows; self.fewColumns = fewColumns
    }

    /// One set of parameters for every shape.
    public init(uniform parameters: GemmParameters) {
        self.init(large: parameters, medium: parameters, fewRows: parameters, fewColumns: parameters)
    }

    /// The untuned plan for a device, by its class and the float vector width it prefers; `GemmTuner` searches for
    /// faster ones.
    public static func defaults(for device: OpenCLDevice) -> GemmPlan {
        defaults(for: device.kind, floatVectorWidth: device.preferredFloatVectorWidth)
    }

    static func defaults(for kind: OpenCLDevice.Kind, floatVectorWidth: Int) -> GemmPlan {
        switch kind {
        case .cpu where floatVectorWidth >= 16:
            // Rows of sixteen floats, one AVX-512 register, per work-item: on PoCL over a 2-core Zen 5, 77-86 GFLOP/s
            // at 512-1024 against 48 for the eight-wide tiles, and 39-57 against 24-28 for a batch of 64 rows.
            let eightWide = defaults(for: kind, floatVectorWidth: 8)
            return GemmPlan(large: GemmParameters(mwg: 128, nwg: 128, kwg: 32, mdimc: 8, ndimc: 8, vwn: 16),
                            medium: GemmParameters(mwg: 64, nwg: 128, kwg: 32, mdimc: 8, ndimc: 8, vwn: 16),
                            fewRows: eightWide.fewRows, fewColumns: eightWide.fewColumns)
        case .cpu:
            // medium: the MLP trains 2x faster on PoCL with it than with the large tile (64 of 128 rows idle).
            return GemmPlan(large: .defaults(for: kind),
                            medium: GemmParameters(mwg: 64, nwg: 128, kwg: 32, mdimc: 16, ndimc: 16, vwn: 8),
                            fewRows: GemmParameters(mwg: 16, nwg: 256, kwg: 16, mdimc: 4, ndimc: 32, vwn: 8),
                            fewColumns: GemmParameters(mwg: 256, nwg: 16, kwg: 16, mdimc: 32, ndimc: 4, vwn: 4))
        default:
            return GemmPlan(large: .defaults(for: kind), medium: .defaults(for: kind),
                            fewRows: GemmParameters(mwg: 16, nwg: 128, kwg: 16, mdimc: 4, ndimc: 32, vwn: 4),
                            fewColumns: GemmParameters(mwg: 128, nwg: 16, kwg: 16, mdimc: 32, ndimc: 4, vwn: 4))
        }
    }

    /// The classes of matrix shape a plan keeps parameters for; the raw value names one in reports.
    public enum Shape: String, CaseIterable, Sendable {
        /// Each names the property of `GemmPlan` that holds its parameters; `shape(m:n:)` classifies a product.
        case large, medium, fewRows = "few-rows", fewColumns = "few-columns"
    }

    /// The class of an `m x n` result: by its smaller side, and when that is narrow, by which side it is.
    public static func shape(m: Int, n: Int) -> Shape {
        if min(m, n) > mediumLimit { return .large }
        if min(m, n) > narrowLimit { return .medium }
        return m <= n ? .fewRows : .fewColumns
    }

    /// The parameters used for products of `shape`.
    public subscript(shape: Shape) -> GemmParameters {
        get {
            switch shape {
            case .large: return large
            case .medium: return medium
            case .fewRows: return fewRows
            case .fewColumns: return fewColumns
            }
        }
        set {
            switch shape {
            case .large: large = newValue
            case .medium: medium = newValue
            case .fewRows: fewRows = newValue
            case .fewColumns: fewColumns = newValue
            }
        }
    }

    func validate(for device: OpenCLDevice) throws {
        for shape in Shape.allCases { try self[shape].validate(for: device) }
    }
}
