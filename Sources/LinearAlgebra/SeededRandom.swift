import Foundation

/// A seeded pseudo-random generator whose stream is the same on every machine and every run.
///
/// The generator is xoshiro256** (Blackman and Vigna, 2018), its 256-bit state filled from the seed by
/// SplitMix64. Independent streams for parallel work come from the jump function: stream `s` starts
/// `s * 2^128` draws into the sequence of the same seed, so streams never overlap in practice.
///
/// Derived draws are defined exactly, so they too reproduce bit for bit:
/// - uniform Double in [0, 1): the top 53 bits of one draw times 2^-53; Float: the top 24 bits times 2^-24;
/// - Gaussian: Box-Muller on two uniform Doubles, `sqrt(-2 log(1 - u1)) * cos(2 pi u2)` then the `sin` partner;
/// - Rademacher (+1 or -1 with equal probability): one bit per value, least significant bit first,
///   64 values per draw.
public struct SeededRandom: RandomNumberGenerator, Sendable, Equatable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    /// The second Box-Muller value, kept for the next Gaussian draw.
    private var spareGaussian: Double?

    /// The seed this generator started from.
    public let seed: UInt64
    /// The stream index this generator started from.
    public let stream: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        var splitMix = seed
        state = (Self.splitMix64(&splitMix), Self.splitMix64(&splitMix), Self.splitMix64(&splitMix), Self.splitMix64(&splitMix))
        for _ in 0..<stream { jump() }
    }

    /// One step of SplitMix64 (Steele, Lea and Flood 2014): advances `state` by the golden gamma and returns its
    /// mixed value. It fills xoshiro's state from a seed, and hashes labels into seeds.
    public static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func == (lhs: SeededRandom, rhs: SeededRandom) -> Bool {
        lhs.state == rhs.state && lhs.spareGaussian == rhs.spareGaussian
    }

    @inline(__always)
    private static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = SeededRandom.rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = SeededRandom.rotateLeft(state.3, 45)
        return result
    }

    /// Advances the state by 2^128 draws (xoshiro256's published jump polynomial).
    private mutating func jump() {
        let polynomial: [UInt64] = [0x180E_C6D3_3CFD_0ABA, 0xD5A6_1266_F0C9_392C,
                                    0xA958_2618_E03F_C9AA, 0x39AB_DC45_29B1_661C]
        var accumulated: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for word in polynomial {
            for bit in 0..<64 {
                if word & (1 << UInt64(bit)) != 0 {
                    accumulated.0 ^= state.0
                    accumulated.1 ^= state.1
                    accumulated.2 ^= state.2
                    accumulated.3 ^= state.3
                }
                _ = next()
            }
        }
        state = accumulated
    }

    /// A uniform Double in [0, 1).
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform value in [0, 1) in the requested precision.
    public mutating func uniform<Scalar: TensorScalar>(_: Scalar.Type = Scalar.self) -> Scalar {
        Scalar.self == Float.self ? Scalar(Float(next() >> 40) * 0x1.0p-24) : Scalar(uniformDouble())
    }

    /// A standard normal value (mean 0, variance 1) by Box-Muller.
    public mutating func gaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        let u1 = uniformDouble()
        let u2 = uniformDouble()
        let radius = (-2 * Foundation.log(1 - u1)).squareRoot()  // 1 - u1 is in (0, 1]: log is finite
        let angle = 2 * Double.pi * u2
        spareGaussian = radius * Foundation.sin(angle)
        return radius * Foundation.cos(angle)
    }
}
