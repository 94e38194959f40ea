/// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator behind every random number in
/// Synapse. `Kernels/philox.cl` implements the same function, and so does Sources/CVector/vector.c, in vectors,
/// for the CPU backend: streams are bit-identical on all devices.
public enum Philox {
    /// One Philox4x32-10 block: ten rounds that turn the four-word `counter` into four random words under the
    /// two-word `key`.
    public static func block(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32))
        -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 { k0 &+= 0x9E37_79B9; k1 &+= 0xBB67_AE85 }
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0, UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1, UInt32(truncatingIfNeeded: p0))
        }
        return (c0, c1, c2, c3)
    }

    /// Word `address.counter` of stream `address.stream` under key `address.seed`: words are numbered
    /// consecutively, four to a Philox block, block `w / 4` being counter `(w/4 lo, w/4 hi, stream lo, stream hi)`.
    public static func word(_ address: PhiloxAddress) -> UInt32 {
        lane(Int(address.counter % 4), of: block(containing: address))
    }

    /// The block holding word `address.counter`, laid out as `word` describes.
    private static func block(containing address: PhiloxAddress) -> (UInt32, UInt32, UInt32, UInt32) {
        let blockIndex = address.counter / 4
        return block(counter: (UInt32(truncatingIfNeeded: blockIndex), UInt32(truncatingIfNeeded: blockIndex >> 32),
                               UInt32(truncatingIfNeeded: address.stream), UInt32(truncatingIfNeeded: address.stream >> 32)),
                     key: (UInt32(truncatingIfNeeded: address.seed), UInt32(truncatingIfNeeded: address.seed >> 32)))
    }

    private static func lane(_ i: Int, of b: (UInt32, UInt32, UInt32, UInt32)) -> UInt32 {
        switch i {
        case 0: return b.0
        case 1: return b.1
        case 2: return b.2
        default: return b.3
        }
    }

    /// A uniform Float in [0, 1) from the top 24 bits of a word: exact in Float32, so identical everywhere.
    @inline(__always)
    public static func uniform(_ word: UInt32) -> Float {
        Float(word >> 8) * (1.0 / 16_777_216.0)
    }

    /// `count` consecutive words starting at `address`, one Philox block per four words.
    public static func words(_ address: PhiloxAddress, count: Int) -> [UInt32] {
        var out = [UInt32]()
        out.reserveCapacity(count)
        var position = address
        while out.count < count {
            let b = block(containing: position)
            for i in Int(position.counter % 4)..<4 where out.count < count { out.append(lane(i, of: b)) }
            position.counter = (position.counter / 4 &+ 1) &* 4
        }
        return out
    }
}

/// Where a draw starts: the key (`seed`), an independent `stream`, and the word `counter` within it.
public struct PhiloxAddress: Equatable, Hashable, Sendable {
    /// The Philox key, usually the run's seed.
    public var seed: UInt64
    /// Selects an independent sequence under the same key; model code assigns streams by role (`RandomStream`).
    public var stream: UInt64
    /// The position of the word within the stream, from 0; four consecutive words come from one Philox block.
    public var counter: UInt64

    /// Word 0 of stream 0 unless given.
    public init(seed: UInt64, stream: UInt64 = 0, counter: UInt64 = 0) {
        self.seed = seed; self.stream = stream; self.counter = counter
    }

    /// The address `words` words further on in the same stream (wrapping around at the end of the counter).
    public func advanced(by words: Int) -> PhiloxAddress {
        PhiloxAddress(seed: seed, stream: stream, counter: counter &+ UInt64(words))
    }
}
