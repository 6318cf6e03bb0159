import LinearAlgebra

/// Inputs (first axis = samples) and their targets. A model with several inputs (a transformer's `input_ids` and
/// `attention_mask`) takes `inputs` as its first and the others by name from `namedInputs`, batched with it over the
/// leading axis; integer inputs are held as exact integers in `Scalar`.
public struct Dataset<Scalar: TensorScalar>: Sendable, Equatable {
    public var inputs: Tensor<Scalar>
    public var targets: Targets<Scalar>
    /// The model's other inputs, by name, each with the same number of samples.
    public var namedInputs: [String: Tensor<Scalar>]

    public init(inputs: Tensor<Scalar>, targets: Targets<Scalar>, namedInputs: [String: Tensor<Scalar>] = [:]) {
        precondition(inputs.shape.first == targets.count, "\(inputs.shape.first ?? 0) inputs but \(targets.count) targets")
        precondition(namedInputs.values.allSatisfy { $0.shape.first == targets.count }, "named inputs of other sample counts")
        self.inputs = inputs
        self.targets = targets
        self.namedInputs = namedInputs
    }

    public var count: Int { targets.count }

    /// Samples `range`, in order.
    public func batch(_ range: Range<Int>) -> Dataset {
        Dataset(inputs: inputs.rows(range), targets: targets.rows(range), namedInputs: namedInputs.mapValues { $0.rows(range) })
    }

    /// Consecutive batches of at most `size` samples.
    public func batches(of size: Int) -> [Dataset] {
        stride(from: 0, to: count, by: size).map { batch($0..<min($0 + size, count)) }
    }

    /// The samples at `indices`, in that order.
    public func rows(_ indices: [Int]) -> Dataset {
        Dataset(inputs: Self.gathered(inputs, indices), targets: targets.gathered(indices),
                namedInputs: namedInputs.mapValues { Self.gathered($0, indices) })
    }

    static func gathered(_ tensor: Tensor<Scalar>, _ indices: [Int]) -> Tensor<Scalar> {
        let width = tensor.count / Swift.max(1, tensor.shape.first ?? 1)
        let values = tensor.scalars
        return Tensor(shape: [indices.count] + tensor.shape.dropFirst(), scalars: indices.flatMap { values[($0 * width)..<(($0 + 1) * width)] })
    }
}
