/// The argument checks of the checking front-end (`Backend`'s extension methods), so that every device
/// rejects the same bad call with the same error before any work is queued. Backends never call these:
/// they implement unchecked kernels that the front-end reaches only after its checks.
public enum Check {
    public static func positive(op: String, _ values: KeyValuePairs<String, Int>) throws {
        for (name, value) in values where value <= 0 {
            throw SynapseError.invalidArgument(op: op, message: "\(name) must be positive, got \(value)")
        }
    }

    public static func nonNegative(op: String, _ values: KeyValuePairs<String, Int>) throws {
        for (name, value) in values where value < 0 {
            throw SynapseError.invalidArgument(op: op, message: "\(name) must not be negative, got \(value)")
        }
    }

    /// Sizes that fit the 32-bit arguments of the kernels, and whose products (element counts) do not
    /// overflow.
    public static func sizes(op: String, _ values: KeyValuePairs<String, Int>, products: [[Int]]) throws {
        for (name, value) in values where value > Int(Int32.max) {
            throw SynapseError.invalidArgument(op: op, message: "\(name) = \(value) exceeds 2^31 - 1")
        }
        for factors in products {
            var total = 1, overflow = false
            for f in factors where !overflow { (total, overflow) = total.multipliedReportingOverflow(by: f) }
            if overflow {
                throw SynapseError.invalidArgument(op: op, message: "\(factors.map(String.init).joined(separator: " x ")) elements overflow")
            }
        }
    }

    /// `view` is memory of `backend` holding `dtype`, lies within its buffer, and has room for `count`
    /// elements (exactly `count` when `exact`).
    public static func view(_ view: Tensor, _ name: String, op: String, on backend: Backend, count: Int,
                            exact: Bool = false, dtype: DType = .float32) throws {
        guard backend.owns(view.buffer) else {
            throw SynapseError.foreignBuffer(op: op, buffer: name, expected: backend.name)
        }
        guard view.dtype == dtype else {
            throw SynapseError.shapeMismatch(op: op, message: "\(name) holds \(view.dtype), expected \(dtype)")
        }
        guard view.offset >= 0, view.count < Int.max, view.range.upperBound <= view.buffer.count else {
            throw SynapseError.shapeMismatch(op: op, message: "\(name) is a view of \(describe(view.shape)) from offset "
                + "\(view.offset), outside its buffer of \(view.buffer.count) elements")
        }
        guard exact ? view.count == count : view.count >= count else {
            throw SynapseError.shapeMismatch(op: op, message:
                "\(name) needs \(count) elements but holds \(view.count) (\(describe(view.shape)))")
        }
    }

    /// The ops that read neighbouring elements cannot run in place: no two views may share an element.
    public static func disjoint(op: String, _ views: [(String, Tensor)]) throws {
        for i in views.indices {
            for j in views.indices where j > i && views[i].1.overlaps(views[j].1) {
                throw overlapError(op: op, views[i], views[j], "this op cannot run in place")
            }
        }
    }

    /// Elementwise ops may run in place: two views either coincide or share no element.
    public static func inPlaceOrDisjoint(op: String, _ views: [(String, Tensor)]) throws {
        for i in views.indices {
            for j in views.indices where j > i && views[i].1.overlaps(views[j].1) && !views[i].1.coincides(with: views[j].1) {
                throw overlapError(op: op, views[i], views[j], "elementwise ops run in place only on identical views")
            }
        }
    }

    private static func overlapError(op: String, _ a: (String, Tensor), _ b: (String, Tensor), _ why: String)
        -> SynapseError {
        .invalidArgument(op: op, message: "\(a.0) and \(b.0) overlap (elements \(a.1.range) and \(b.1.range) of one "
            + "buffer); \(why)")
    }

    /// Views of one element count (the first view's), each checked as `view` does, in place or disjoint.
    public static func elementwise(on backend: Backend, op: String, _ views: KeyValuePairs<String, Tensor>,
                                   dtypes: [String: DType] = [:]) throws {
        guard let count = views.first?.value.count else { return }
        for (name, v) in views {
            try Check.view(v, name, op: op, on: backend, count: min(count, v.count), dtype: dtypes[name] ?? .float32)
        }
        try positive(op: op, ["count": count])
        for (name, v) in views where v.count != count {
            throw SynapseError.shapeMismatch(op: op, message: "\(name) needs \(count) elements (as \(views.first!.key)) but "
                + "holds \(v.count) (\(describe(v.shape)))")
        }
        try inPlaceOrDisjoint(op: op, Array(views))
    }

    public static func probability(op: String, _ p: Float) throws {
        guard p >= 0, p < 1 else {
            throw SynapseError.invalidArgument(op: op, message: "drop probability must be in [0, 1), got \(p)")
        }
    }
}
