import LinearAlgebra
import NeuralNetworks
import Spectra

/// What the axes of a slice are.
public enum AxisKind: String, Sendable, Codable, CaseIterable {
    /// Seeded Gaussian directions, normalised to the weights (Li et al.).
    case random
    /// Unit eigenvectors of the Hessian at the centre.
    case hessian
    /// The unit gradient at the centre (and, in 2-D, a random direction orthogonal to it).
    case gradient
    /// The line from the centre model to another: theta(a) = theta_1 + a (theta_2 - theta_1), BatchNorm buffers too.
    case interpolate
    /// The plane through the centre model and two others.
    case plane
    /// The top two principal directions of a trajectory of checkpoints.
    case pca
    /// Directions read from a file.
    case file
}

/// Which Hessian eigenvectors span the axes.
public enum HessianPair: String, Sendable, Codable, CaseIterable {
    /// The two largest eigenvalues, lambda_1 >= lambda_2.
    case top
    /// The largest and the smallest (most negative) eigenvalue.
    case extremes
}

/// A direction in parameter space and the change of the buffers that goes with it (zero but for interpolations and
/// planes between models, whose BatchNorm running statistics move with the weights, as Li et al.'s "states" do).
public struct LandscapeDirection: Sendable, Equatable {
    public var parameters: [NamedTensor]
    /// Empty: the buffers stay at the centre's values.
    public var buffers: [NamedTensor]

    public init(parameters: [NamedTensor], buffers: [NamedTensor] = []) {
        self.parameters = parameters
        self.buffers = buffers
    }

    /// The Euclidean norm of the parameter part: how far a = 1 moves the weights.
    public var norm: Double { Directions.norm(of: parameters) }
}

/// A point of the plane with a name: a model the plane passes through, a checkpoint's projection.
public struct Landmark: Sendable, Codable, Equatable {
    public var name: String
    public var a: Double
    public var b: Double

    public init(name: String, a: Double, b: Double) {
        self.name = name
        self.a = a
        self.b = b
    }
}

/// One or two directions and what is known about them.
public struct LandscapeAxes: Sendable {
    public var kind: AxisKind
    public var directions: [LandscapeDirection]
    /// The eigenvalue of each Hessian axis.
    public var eigenvalues: [Double] = []
    /// PCA: the fraction of the trajectory's variance along each axis.
    public var explainedVariance: [Double] = []
    /// Named points in grid coordinates: the models a line or plane passes through, a trajectory's projection.
    public var landmarks: [Landmark] = []

    public init(kind: AxisKind, directions: [LandscapeDirection]) {
        precondition((1...2).contains(directions.count), "a slice has one or two axes")
        self.kind = kind
        self.directions = directions
    }

    /// The norm of every direction, recorded with the grid: a unit eigenvector moves the weights by |a|, a
    /// filter-normalised direction by about |a| ||theta||.
    public var norms: [Double] { directions.map(\.norm) }
}

/// Errors in building axes from the inputs given.
public enum AxesError: Error, Equatable, CustomStringConvertible {
    case identicalModels(String)
    case trajectoryTooShort(Int)
    case flatTrajectory
    case zeroGradient
    case directionTensor(String)

    public var description: String {
        switch self {
        case .identicalModels(let what): "\(what): the models are identical, so they span no direction"
        case .trajectoryTooShort(let count): "a PCA plane needs at least 2 trajectory checkpoints, got \(count)"
        case .flatTrajectory: "the trajectory does not move: every checkpoint equals the centre"
        case .zeroGradient: "the gradient is zero at the centre: it gives no direction"
        case .directionTensor(let message): message
        }
    }
}

extension LandscapeAxes {
    /// The weights as named tensors in Double, each with its output axis (0 where `outputAxes` has none).
    public static func namedTensors<Scalar: TensorScalar>(_ set: ParameterSet<Scalar>, outputAxes: [String: Int] = [:]) -> [NamedTensor] {
        zip(set.names, set.tensors).map { NamedTensor(name: $0, tensor: $1.converted(to: Double.self), outputAxis: outputAxes[$0] ?? 0) }
    }

    /// Li et al.'s axes: seeded Gaussian directions (axis k from stream k of `seed`), normalised to `weights`; with
    /// `orthogonalize`, the second made orthogonal to the first (Gram-Schmidt, keeping its norm).
    public static func random(
        weights: [NamedTensor], count: Int, seed: UInt64, normalization: DirectionNormalization, lowRank: LowRankPolicy,
        orthogonalize: Bool
    ) -> LandscapeAxes {
        var directions = (0..<count).map { index in
            Directions.normalized(Directions.gaussian(like: weights, seed: seed, stream: UInt64(index)), to: weights,
                                  by: normalization, lowRank: lowRank)
        }
        if orthogonalize && count == 2 { directions[1] = Directions.orthogonalized(directions[1], against: directions[0]) }
        return LandscapeAxes(kind: .random, directions: directions.map { LandscapeDirection(parameters: $0) })
    }

    /// Unit Hessian eigenvectors at the objective's point (all of its parameters), from Lanczos: (lambda_1,
    /// lambda_2) or (lambda_max, lambda_min); the first one only for a 1-D slice. With a normalisation other than
    /// `.none`, each is then scaled like a random direction.
    public static func hessian<Scalar: TensorScalar>(
        _ objective: Objective<Scalar>, weights: [NamedTensor], count: Int, pair: HessianPair, seed: UInt64,
        normalization: DirectionNormalization, lowRank: LowRankPolicy, tolerance: Double = 1e-6, maxMatvecs: Int = 2000
    ) -> LandscapeAxes {
        let op = HessianOperator(objective)
        var pairs: [(Double, Tensor<Double>)]
        let floatBasis = Scalar.self == Float.self  // the basis in the working precision
        let top = LanczosSolver(count: pair == .top ? count : 1, end: .largest, tolerance: tolerance, floatBasis: floatBasis,
                                maxMatvecs: maxMatvecs, seed: seed).solve(op)
        pairs = Array(zip(top.eigenvalues, top.eigenvectors))
        if pair == .extremes && count == 2 {
            let bottom = LanczosSolver(count: 1, end: .smallest, tolerance: tolerance, floatBasis: floatBasis, maxMatvecs: maxMatvecs,
                                       seed: seed &+ 1).solve(op)
            pairs += zip(bottom.eigenvalues, bottom.eigenvectors)
        }
        var axes = LandscapeAxes(kind: .hessian, directions: pairs.map { _, vector in
            let unit = Directions.split(vector * (1 / vector.norm()), like: weights)
            return LandscapeDirection(parameters: Directions.normalized(unit, to: weights, by: normalization, lowRank: lowRank))
        })
        axes.eigenvalues = pairs.map(\.0)
        return axes
    }

    /// The unit gradient at the objective's point; in 2-D the second axis is a seeded Gaussian direction made
    /// orthogonal to it and of unit norm. A normalisation other than `.none` then scales both like random directions.
    public static func gradient<Scalar: TensorScalar>(
        _ objective: Objective<Scalar>, weights: [NamedTensor], count: Int, seed: UInt64, normalization: DirectionNormalization,
        lowRank: LowRankPolicy
    ) throws -> LandscapeAxes {
        let gradient = objective.lossAndGradient(at: objective.point).gradient.converted(to: Double.self)
        let length = gradient.norm()
        guard length > 0 else { throw AxesError.zeroGradient }
        var directions = [Directions.split(gradient * (1 / length), like: weights)]
        if count == 2 {
            let random = Directions.orthogonalized(Directions.gaussian(like: weights, seed: seed, stream: 1), against: directions[0])
            directions.append(random.map { NamedTensor(name: $0.name, tensor: $0.tensor * (1 / Directions.norm(of: random)), outputAxis: $0.outputAxis) })
        }
        directions = directions.map { Directions.normalized($0, to: weights, by: normalization, lowRank: lowRank) }
        if count == 2 && normalization != .none { directions[1] = Directions.orthogonalized(directions[1], against: directions[0]) }
        return LandscapeAxes(kind: .gradient, directions: directions.map { LandscapeDirection(parameters: $0) })
    }

    /// The line through two models, `theta_1 + a (theta_2 - theta_1)`, buffers (BatchNorm running statistics)
    /// interpolated with the same coefficient: the end models sit at a = 0 and a = 1.
    public static func interpolation(
        from start: (parameters: [NamedTensor], buffers: [NamedTensor]), to end: (parameters: [NamedTensor], buffers: [NamedTensor])
    ) throws -> LandscapeAxes {
        let direction = difference(end, start)
        guard direction.norm > 0 else { throw AxesError.identicalModels("--axes interpolate") }
        var axes = LandscapeAxes(kind: .interpolate, directions: [direction])
        axes.landmarks = [Landmark(name: "start", a: 0, b: 0), Landmark(name: "end", a: 1, b: 0)]
        return axes
    }

    /// The plane through three models: x along `theta_2 - theta_1`, y along the part of `theta_3 - theta_1`
    /// orthogonal to it, so distances and angles are true. theta_1 sits at (0, 0), theta_2 at (1, 0), theta_3 at
    /// (c, 1) with c = <theta_3 - theta_1, u> / |u|^2. Buffers move by the same combination of the models' buffers.
    public static func plane(
        through first: (parameters: [NamedTensor], buffers: [NamedTensor]), _ second: (parameters: [NamedTensor], buffers: [NamedTensor]),
        _ third: (parameters: [NamedTensor], buffers: [NamedTensor])
    ) throws -> LandscapeAxes {
        let u = difference(second, first), w = difference(third, first)
        guard u.norm > 0, w.norm > 0 else { throw AxesError.identicalModels("--axes plane") }
        let c = dot(w.parameters, u.parameters) / dot(u.parameters, u.parameters)
        let v = LandscapeDirection(parameters: combination(w.parameters, u.parameters, -c), buffers: combination(w.buffers, u.buffers, -c))
        guard v.norm > 1e-12 * w.norm else { throw AxesError.identicalModels("--axes plane (the three models are on one line)") }
        var axes = LandscapeAxes(kind: .plane, directions: [u, v])
        axes.landmarks = [Landmark(name: "model 1", a: 0, b: 0), Landmark(name: "model 2", a: 1, b: 0), Landmark(name: "model 3", a: c, b: 1)]
        return axes
    }

    /// The top principal directions (unit) of a trajectory, as Li et al. draw optimiser paths: rows
    /// `theta_t - theta_final`, centred, by the eigendecomposition of their Gram matrix. Each checkpoint's path point
    /// is its projection `<theta_t - theta_final, d_k>`; the centre (the final model) is at the origin.
    public static func pca(trajectory: [[NamedTensor]], centre: [NamedTensor], count: Int) throws -> LandscapeAxes {
        guard trajectory.count >= 2 else { throw AxesError.trajectoryTooShort(trajectory.count) }
        let final = Directions.flattened(centre)
        let n = final.count, t = trajectory.count
        var rows = [Double](), mean = [Double](repeating: 0, count: n)
        for checkpoint in trajectory {
            let row = Directions.flattened(checkpoint) - final
            rows += row.scalars
            for i in 0..<n { mean[i] += row.scalars[i] / Double(t) }
        }
        var centred = rows
        for r in 0..<t { for i in 0..<n { centred[r * n + i] -= mean[i] } }
        let matrix = Tensor(shape: [t, n], scalars: centred)
        let decomposition = try symmetricEigen(matmul(matrix, matrix, transposeB: true))
        let total = decomposition.values.reduce(0) { $0 + max(0, $1) }
        guard total > 0 else { throw AxesError.flatTrajectory }
        let kept = min(count, t - 1)
        var directions: [LandscapeDirection] = [], explained: [Double] = []
        for k in 0..<kept {
            let index = t - 1 - k
            let u = Tensor(shape: [t], scalars: Array(decomposition.vectors!.scalars[index * t..<(index + 1) * t]))
            let d = matvec(matrix, u, transpose: true)
            directions.append(LandscapeDirection(parameters: Directions.split(d * (1 / d.norm()), like: centre)))
            explained.append(max(0, decomposition.values[index]) / total)
        }
        var axes = LandscapeAxes(kind: .pca, directions: directions)
        axes.explainedVariance = explained
        let units = directions.map { Directions.flattened($0.parameters) }
        axes.landmarks = (0..<t).map { r in
            let row = Tensor(shape: [n], scalars: Array(rows[r * n..<(r + 1) * n]))
            return Landmark(name: "checkpoint \(r)", a: row.dot(units[0]), b: units.count > 1 ? row.dot(units[1]) : 0)
        } + [Landmark(name: "final", a: 0, b: 0)]
        return axes
    }

    /// Directions given tensor by tensor (`x/NAME`, `y/NAME` in a direction file), checked against the weights'
    /// names and shapes, then normalised.
    public static func file(
        _ tensors: [String: Tensor<Double>], weights: [NamedTensor], count: Int, normalization: DirectionNormalization, lowRank: LowRankPolicy
    ) throws -> LandscapeAxes {
        let directions = try ["x", "y"].prefix(count).map { axis in
            let parameters = try weights.map { weight in
                guard let tensor = tensors["\(axis)/\(weight.name)"] else {
                    throw AxesError.directionTensor("the direction file has no '\(axis)/\(weight.name)' for parameter '\(weight.name)' \(weight.tensor.shape)")
                }
                guard tensor.shape == weight.tensor.shape else {
                    throw AxesError.directionTensor("'\(axis)/\(weight.name)' has shape \(tensor.shape), the parameter \(weight.tensor.shape)")
                }
                return NamedTensor(name: weight.name, tensor: tensor, outputAxis: weight.outputAxis)
            }
            return LandscapeDirection(parameters: Directions.normalized(parameters, to: weights, by: normalization, lowRank: lowRank))
        }
        return LandscapeAxes(kind: .file, directions: directions)
    }

    /// Whether `names` are a direction file of loss-landscape's (Li et al.'s `net_plotter.setup_direction`):
    /// groups `xdirection` (and `ydirection`) holding one dataset per parameter, `0`, `1`, ... in the order of
    /// PyTorch's `net.parameters()`.
    public static func isLossLandscapeFile(_ names: [String]) -> Bool {
        names.contains("xdirection/0")
    }

    /// Directions from a loss-landscape direction file, taken as they are (loss-landscape normalises them when it
    /// makes them, filter-wise by default with biases and BatchNorm zeroed): dataset `i` of `xdirection` and
    /// `ydirection` is the `i`-th of `weights`, the model's parameters in the ONNX file's order, which for
    /// `torch.onnx.export` is the order of `net.parameters()`. Every shape is checked; a file made with
    /// `--dir_type states` (BatchNorm's running statistics among the tensors) is refused, since its buffers cannot
    /// be placed without the module tree.
    public static func lossLandscapeFile(_ tensors: [String: Tensor<Double>], weights: [NamedTensor], count: Int) throws -> LandscapeAxes {
        let directions = try ["xdirection", "ydirection"].prefix(count).map { group in
            let available = tensors.keys.filter { $0.hasPrefix(group + "/") }.count
            guard available > 0 else { throw AxesError.directionTensor("the direction file has no '\(group)' group for a \(count)-D grid") }
            guard available == weights.count else {
                let states = available > weights.count ? " (a file made with --dir_type states holds BatchNorm's buffers too; make it with --dir_type weights)" : ""
                throw AxesError.directionTensor("'\(group)' holds \(available) tensors, the model has \(weights.count) parameters\(states)")
            }
            let parameters = try weights.enumerated().map { index, weight in
                guard let tensor = tensors["\(group)/\(index)"] else {
                    throw AxesError.directionTensor("the direction file has no '\(group)/\(index)' for parameter '\(weight.name)' \(weight.tensor.shape)")
                }
                guard tensor.scalars.count == weight.tensor.scalars.count, tensor.shape.filter({ $0 != 1 }) == weight.tensor.shape.filter({ $0 != 1 }) else {
                    throw AxesError.directionTensor("'\(group)/\(index)' has shape \(tensor.shape) but parameter \(index) ('\(weight.name)') has \(weight.tensor.shape): " +
                                                    "the file's parameters are not in this model's order")
                }
                return NamedTensor(name: weight.name, tensor: Tensor(shape: weight.tensor.shape, scalars: tensor.scalars), outputAxis: weight.outputAxis)
            }
            return LandscapeDirection(parameters: parameters)
        }
        return LandscapeAxes(kind: .file, directions: directions)
    }

    /// Every direction as `x/NAME`, `y/NAME` (and `x.buffers/NAME` for moving buffers): what ``file(_:weights:count:normalization:lowRank:)`` reads.
    public var directionTensors: [(name: String, tensor: Tensor<Double>)] {
        zip(["x", "y"], directions).flatMap { axis, direction in
            direction.parameters.map { ("\(axis)/\($0.name)", $0.tensor) } + direction.buffers.map { ("\(axis).buffers/\($0.name)", $0.tensor) }
        }
    }

    private static func difference(
        _ to: (parameters: [NamedTensor], buffers: [NamedTensor]), _ from: (parameters: [NamedTensor], buffers: [NamedTensor])
    ) -> LandscapeDirection {
        LandscapeDirection(parameters: combination(to.parameters, from.parameters, -1), buffers: combination(to.buffers, from.buffers, -1))
    }

    /// `a + scale * b`, tensor by tensor.
    private static func combination(_ a: [NamedTensor], _ b: [NamedTensor], _ scale: Double) -> [NamedTensor] {
        precondition(a.map(\.name) == b.map(\.name), "the models' tensors differ")
        return zip(a, b).map { x, y in
            var t = x.tensor
            t.addScaled(y.tensor, by: scale)
            return NamedTensor(name: x.name, tensor: t, outputAxis: x.outputAxis)
        }
    }

    private static func dot(_ a: [NamedTensor], _ b: [NamedTensor]) -> Double {
        zip(a, b).reduce(0) { $0 + $1.0.tensor.dot($1.1.tensor) }
    }
}
