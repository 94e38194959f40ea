import SynapseCore

/// A trainable tensor and its gradient, named as in a PyTorch `state_dict` (`conv1.weight`, `fc3.bias`).
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public let value: Buffer
    /// Written by the owning layer's `backward` (overwritten, not accumulated).
    public let gradient: Buffer
    /// Scales the optimizer's learning rate for this parameter (AlexNet trains biases at 2x).
    public var learningRateMultiplier: Float = 1
    /// Scales the optimizer's weight decay for this parameter (AlexNet does not decay biases).
    public var weightDecayMultiplier: Float = 1

    public init(name: String, shape: [Int], backend: Backend) throws {
        self.name = name
        self.shape = shape
        let count = shape.reduce(1, *)
        value = try backend.allocate(count, .float32)
        gradient = try backend.allocate(count, .float32)
    }

    public var count: Int { value.count }
}

/// Where every random number in model code comes from: Philox streams under the run's seed.
/// Stream numbers are fixed by role so that adding one kind of randomness never shifts another.
public enum RandomStream {
    /// Initial values of parameter `i` (in model order).
    public static func parameter(_ index: Int) -> UInt64 { UInt64(index) }
    /// Masks of dropout layer `i` (in model order).
    public static func dropout(_ index: Int) -> UInt64 { 1 << 32 | UInt64(index) }
    /// The order of the training samples in epoch `e`.
    public static func shuffle(epoch: Int) -> UInt64 { 2 << 32 | UInt64(epoch) }
}
