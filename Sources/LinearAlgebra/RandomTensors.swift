// Specialised for Float and Double: unspecialised, the generic range `map` went through witness tables per element,
// and an 11M-element Gaussian took about 2 s (ResNet-18's Lanczos start, a landscape direction).
extension Tensor {
    /// `count` values from `draw`, in order, into uninitialised storage.
    @inline(__always)
    private static func drawn(shape: [Int], _ draw: () -> Scalar) -> Tensor {
        let count = elementCount(shape)
        let values = [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer.initializeElement(at: i, to: draw()) }
            initialized = count
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// A tensor of independent standard normal values, drawn in row-major order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func gaussian(shape: [Int], using random: inout SeededRandom) -> Tensor {
        drawn(shape: shape) { Scalar(random.gaussian()) }
    }

    /// A tensor of independent uniform values in [0, 1), drawn in row-major order.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func uniform(shape: [Int], using random: inout SeededRandom) -> Tensor {
        drawn(shape: shape) { random.uniform(Scalar.self) }
    }

    /// A tensor of independent Rademacher values (+1 or -1), 64 per draw, least significant bit first;
    /// a set bit gives +1.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func rademacher(shape: [Int], using random: inout SeededRandom) -> Tensor {
        var bits: UInt64 = 0, index = 0
        return drawn(shape: shape) {
            if index % 64 == 0 { bits = random.next() }
            index += 1
            defer { bits >>= 1 }
            return bits & 1 == 1 ? 1 : -1
        }
    }
}
