import LinearAlgebra

/// A named tensor of a parameter vector: the unit directions are built and normalised in.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var tensor: Tensor<Double>
    /// The axis along which a filter is sliced: the output axis (0 for PyTorch's (out, in, ...) layouts, the last
    /// for Keras' (in, out) and ONNX MatMul initializers). Taken from the layer that uses the tensor, never assumed.
    public var outputAxis: Int

    public init(name: String, tensor: Tensor<Double>, outputAxis: Int = 0) {
        self.name = name
        self.tensor = tensor
        self.outputAxis = outputAxis
    }
}

/// How a random direction is scaled to the weights (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").
public enum DirectionNormalization: String, Sendable, Codable, CaseIterable {
    /// Each output slice (filter) of each tensor gets the norm of the matching weight slice.
    case filter
    /// Each tensor gets the norm of its weight tensor.
    case layer
    /// The whole direction gets the norm of the whole weight vector.
    case model
    /// `d (*) w`, elementwise.
    case weight
    /// Left as drawn.
    case none
}

/// What happens to tensors of rank <= 1 (biases, BatchNorm scales and shifts) under filter or layer normalisation.
public enum LowRankPolicy: String, Sendable, Codable, CaseIterable {
    /// Zero: the slice does not move them (Li et al.'s recommended "ignore biasbn").
    case ignore
    /// The weights themselves: d = w (Li et al.'s alternative).
    case copy
    /// The whole tensor scaled to the weight's norm.
    case normalize
}

public enum Directions {
    /// A direction of independent standard normal entries in every tensor's shape, drawn in order from stream
    /// `stream` of `seed` (a slice's axis k uses stream k).
    public static func gaussian(like weights: [NamedTensor], seed: UInt64, stream: UInt64 = 0) -> [NamedTensor] {
        var random = SeededRandom(seed: seed, stream: stream)
        return weights.map { NamedTensor(name: $0.name, tensor: .gaussian(shape: $0.tensor.shape, using: &random), outputAxis: $0.outputAxis) }
    }

    /// `direction` scaled to `weights` by `normalization`, with `lowRank` deciding rank <= 1 tensors under filter and
    /// layer normalisation. Slices: `d_f <- d_f ||w_f|| / (||d_f|| + 1e-10)`, as Li et al. compute it.
    public static func normalized(
        _ direction: [NamedTensor], to weights: [NamedTensor], by normalization: DirectionNormalization, lowRank: LowRankPolicy = .ignore
    ) -> [NamedTensor] {
        precondition(direction.map(\.name) == weights.map(\.name), "a direction needs the weights' tensors, in order")
        switch normalization {
        case .none: return direction
        case .weight:
            return zip(direction, weights).map { d, w in NamedTensor(name: d.name, tensor: d.tensor * w.tensor, outputAxis: d.outputAxis) }
        case .model:
            let (dNorm, wNorm) = (norm(of: direction), norm(of: weights))
            return direction.map { NamedTensor(name: $0.name, tensor: $0.tensor * (wNorm / (dNorm + 1e-10)), outputAxis: $0.outputAxis) }
        case .layer, .filter:
            return zip(direction, weights).map { d, w in
                var result = d
                if w.tensor.rank <= 1 {
                    switch lowRank {
                    case .ignore: result.tensor = Tensor(zeros: w.tensor.shape)
                    case .copy: result.tensor = w.tensor
                    case .normalize: result.tensor = d.tensor * (w.tensor.norm() / (d.tensor.norm() + 1e-10))
                    }
                } else if normalization == .layer {
                    result.tensor = d.tensor * (w.tensor.norm() / (d.tensor.norm() + 1e-10))
                } else {
                    result.tensor = filterNormalized(d.tensor, w.tensor, axis: w.outputAxis)
                }
                return result
            }
        }
    }

    /// Each slice along `axis` of `d` scaled to the norm of the same slice of `w`.
    static func filterNormalized(_ d: Tensor<Double>, _ w: Tensor<Double>, axis: Int) -> Tensor<Double> {
        let shape = w.shape
        let outer = shape[..<axis].reduce(1, *), extent = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var dNorms = [Double](repeating: 0, count: extent), wNorms = [Double](repeating: 0, count: extent)
        let (ds, ws) = (d.scalars, w.scalars)
        for o in 0..<outer {
            for f in 0..<extent {
                let base = (o * extent + f) * inner
                for i in 0..<inner {
                    dNorms[f] += ds[base + i] * ds[base + i]
                    wNorms[f] += ws[base + i] * ws[base + i]
                }
            }
        }
        let scales = zip(dNorms, wNorms).map { $1.squareRoot() / ($0.squareRoot() + 1e-10) }
        var result = ds
        for o in 0..<outer {
            for f in 0..<extent {
                let base = (o * extent + f) * inner
                for i in 0..<inner { result[base + i] *= scales[f] }
            }
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// `second` minus its projection on `first`, over the whole vector (Gram-Schmidt), keeping its norm.
    public static func orthogonalized(_ second: [NamedTensor], against first: [NamedTensor]) -> [NamedTensor] {
        let ff = first.reduce(0) { $0 + $1.tensor.dot($1.tensor) }
        let sf = zip(second, first).reduce(0) { $0 + $1.0.tensor.dot($1.1.tensor) }
        let norm = norm(of: second)
        var result = zip(second, first).map { s, f in
            var t = s.tensor
            t.addScaled(f.tensor, by: ff > 0 ? -sf / ff : 0)
            return NamedTensor(name: s.name, tensor: t, outputAxis: s.outputAxis)
        }
        let newNorm = Self.norm(of: result)
        if newNorm > 0 { result = result.map { NamedTensor(name: $0.name, tensor: $0.tensor * (norm / newNorm), outputAxis: $0.outputAxis) } }
        return result
    }

    /// The Euclidean norm of a whole direction (recorded with every grid).
    public static func norm(of direction: [NamedTensor]) -> Double {
        direction.reduce(0) { $0 + $1.tensor.dot($1.tensor) }.squareRoot()
    }

    /// A flat vector split into tensors shaped like `template`.
    public static func split(_ vector: Tensor<Double>, like template: [NamedTensor]) -> [NamedTensor] {
        var offset = 0
        return template.map { t in
            let count = t.tensor.count
            defer { offset += count }
            return NamedTensor(name: t.name, tensor: Tensor(shape: t.tensor.shape, scalars: Array(vector.scalars[offset..<offset + count])),
                               outputAxis: t.outputAxis)
        }
    }

    /// The tensors concatenated into one flat vector.
    public static func flattened(_ tensors: [NamedTensor]) -> Tensor<Double> { Tensor(tensors.flatMap(\.tensor.scalars)) }
}
