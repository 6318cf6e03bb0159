import Foundation
import LinearAlgebra

/// Named parameter tensors in a fixed order, with PyTorch's names ("0.weight", "2.bias").
///
/// A subset of the names defines the coordinates a Hessian or gradient is taken in: the subset's tensors,
/// flattened row-major and concatenated in this set's order.
public struct ParameterSet<Scalar: TensorScalar>: Sendable, Equatable {
    public private(set) var names: [String]
    public private(set) var tensors: [Tensor<Scalar>]

    public init(_ pairs: [(String, Tensor<Scalar>)]) {
        precondition(Set(pairs.map(\.0)).count == pairs.count, "duplicate parameter names")
        names = pairs.map(\.0)
        tensors = pairs.map(\.1)
    }

    public subscript(name: String) -> Tensor<Scalar>? {
        names.firstIndex(of: name).map { tensors[$0] }
    }

    /// The total number of scalars in `subset` (all parameters when nil).
    public func dimension(of subset: [String]? = nil) -> Int {
        zip(names, tensors).filter { subset?.contains($0.0) ?? true }.reduce(0) { $0 + $1.1.count }
    }

    /// The names matching a regular expression (searched anywhere in the name), in order.
    public func names(matching pattern: String) throws -> [String] {
        let expression = try NSRegularExpression(pattern: pattern)
        return names.filter { expression.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
    }

    /// The subset's tensors flattened into one vector.
    public func flattened(_ subset: [String]? = nil) -> Tensor<Scalar> {
        Tensor(concatenating: zip(names, tensors).filter { subset?.contains($0.0) ?? true }.map(\.1))
    }

    /// A copy with the subset's tensors replaced by consecutive pieces of `vector`.
    public func replacing(_ subset: [String]? = nil, with vector: Tensor<Scalar>) -> ParameterSet {
        precondition(vector.count == dimension(of: subset), "vector of \(vector.count) for \(dimension(of: subset)) parameters")
        var copy = self
        var offset = 0
        for (index, name) in names.enumerated() where subset?.contains(name) ?? true {
            let count = tensors[index].count
            copy.tensors[index] = Tensor(shape: tensors[index].shape, scalars: Array(vector.scalars[offset..<(offset + count)]))
            offset += count
        }
        return copy
    }

    /// The subset's part of a full-length vector, or a subset vector split into its tensors, by name.
    public func split(_ vector: Tensor<Scalar>, _ subset: [String]? = nil) -> [(String, Tensor<Scalar>)] {
        var offset = 0
        return zip(names, tensors).filter { subset?.contains($0.0) ?? true }.map { name, tensor in
            defer { offset += tensor.count }
            return (name, Tensor(shape: tensor.shape, scalars: Array(vector.scalars[offset..<(offset + tensor.count)])))
        }
    }
}
