extension Tensor {
    /// A tensor of independent standard normal values, drawn in row-major order.
    public static func gaussian(shape: [Int], using random: inout SeededRandom) -> Tensor {
        Tensor(shape: shape, scalars: (0..<elementCount(shape)).map { _ in Scalar(random.gaussian()) })
    }

    /// A tensor of independent uniform values in [0, 1), drawn in row-major order.
    public static func uniform(shape: [Int], using random: inout SeededRandom) -> Tensor {
        Tensor(shape: shape, scalars: (0..<elementCount(shape)).map { _ in random.uniform(Scalar.self) })
    }

    /// A tensor of independent Rademacher values (+1 or -1), 64 per draw, least significant bit first;
    /// a set bit gives +1.
    public static func rademacher(shape: [Int], using random: inout SeededRandom) -> Tensor {
        let count = elementCount(shape)
        var values = [Scalar](repeating: 0, count: count)
        var bits: UInt64 = 0
        for i in 0..<count {
            if i % 64 == 0 { bits = random.next() }
            values[i] = bits & 1 == 1 ? 1 : -1
            bits >>= 1
        }
        return Tensor(shape: shape, scalars: values)
    }
}
