import LinearAlgebra

/// Inputs (first axis = samples) and their targets.
public struct Dataset<Scalar: TensorScalar>: Sendable, Equatable {
    public var inputs: Tensor<Scalar>
    public var targets: Targets<Scalar>

    public init(inputs: Tensor<Scalar>, targets: Targets<Scalar>) {
        precondition(inputs.shape.first == targets.count, "\(inputs.shape.first ?? 0) inputs but \(targets.count) targets")
        self.inputs = inputs
        self.targets = targets
    }

    public var count: Int { targets.count }

    /// Samples `range`, in order.
    public func batch(_ range: Range<Int>) -> Dataset {
        Dataset(inputs: inputs.rows(range), targets: targets.rows(range))
    }

    /// Consecutive batches of at most `size` samples.
    public func batches(of size: Int) -> [Dataset] {
        stride(from: 0, to: count, by: size).map { batch($0..<min($0 + size, count)) }
    }
}
