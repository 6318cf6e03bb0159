import LinearAlgebra
import NeuralNetworks
import Spectra

/// How the Hessian's lambda_max and lambda_min are found at each grid point (Li et al.'s eigenvalue map): Lanczos
/// to `tolerance` (relative to ||H||) within `maxMatvecs` products per end, seeded.
public struct EigenvalueMap: Sendable, Codable, Equatable {
    public var tolerance: Double
    public var maxMatvecs: Int
    public var seed: UInt64

    public init(tolerance: Double = 1e-4, maxMatvecs: Int = 200, seed: UInt64 = 0) {
        self.tolerance = tolerance
        self.maxMatvecs = maxMatvecs
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case tolerance, maxMatvecs = "max_matvecs", seed
    }
}

/// The function a grid samples: the model moved to `theta_0 + a d_1 + b d_2` (buffers moved by their own direction
/// parts), then its loss and accuracy over the whole evaluation set, the same on a test set, and optionally the
/// Hessian's extreme eigenvalues there (Li et al.'s eigenvalue map).
///
/// BatchNorm runs in each objective's `batchNormMode` (eval, with the running statistics at the point, by default).
/// The objectives' batching only trades memory for speed in eval mode.
public struct LandscapeSlice<Scalar: TensorScalar>: Sendable {
    /// The centre and the training (or first) evaluation set.
    public let objective: Objective<Scalar>
    /// The same model evaluated on a test set.
    public let testObjective: Objective<Scalar>?
    public let eigenvalueMap: EigenvalueMap?
    /// Per parameter (in the objective's order) and per axis, the direction's tensor in the working precision.
    private let parameterSteps: [[Tensor<Scalar>?]]
    private let bufferSteps: [[Tensor<Scalar>?]]

    /// - Parameters:
    ///   - objective: the loss at the centre point, over the data every point is evaluated on.
    ///   - testObjective: a second data set evaluated at every point (test loss and accuracy), or nil.
    ///   - directions: one or two, over all of the objective's parameters (and optionally its buffers).
    ///   - eigenvalueMap: also the Hessian's extreme eigenvalues at every point (Lanczos), or nil.
    public init(objective: Objective<Scalar>, testObjective: Objective<Scalar>? = nil, directions: [LandscapeDirection],
                eigenvalueMap: EigenvalueMap? = nil) {
        precondition((1...2).contains(directions.count), "a slice has one or two axes")
        self.objective = objective
        self.testObjective = testObjective
        self.eigenvalueMap = eigenvalueMap
        func steps(_ names: [String], _ parts: [[NamedTensor]]) -> [[Tensor<Scalar>?]] {
            names.map { name in
                parts.map { part in
                    guard !part.isEmpty else { return nil }
                    guard let tensor = part.first(where: { $0.name == name }) else { preconditionFailure("the direction has no tensor '\(name)'") }
                    return tensor.tensor.converted(to: Scalar.self)
                }
            }
        }
        parameterSteps = steps(objective.parameters.names, directions.map(\.parameters))
        bufferSteps = steps(objective.buffers.names, directions.map(\.buffers))
    }

    /// The names of the values `evaluate` returns, in order (JSON, CSV and npz keys).
    public var quantities: [String] {
        ["loss", "accuracy"] + (testObjective == nil ? [] : ["test_loss", "test_accuracy"])
            + (eigenvalueMap == nil ? [] : ["lambda_max", "lambda_min"])
    }

    /// The objective with its parameters and buffers moved to grid point (a, b).
    public func moved(_ base: Objective<Scalar>, _ a: Double, _ b: Double) -> Objective<Scalar> {
        func move(_ set: ParameterSet<Scalar>, _ steps: [[Tensor<Scalar>?]]) -> ParameterSet<Scalar> {
            ParameterSet(zip(set.names, zip(set.tensors, steps)).map { name, pair in
                var tensor = pair.0
                for (step, coefficient) in zip(pair.1, [a, b]) where coefficient != 0 {
                    if let step { tensor.addScaled(step, by: Scalar(coefficient)) }
                }
                return (name, tensor)
            })
        }
        var result = base
        result.parameters = move(base.parameters, parameterSteps)
        result.buffers = move(base.buffers, bufferSteps)
        return result
    }

    /// The quantities at grid point (a, b); accuracy is NaN when the targets are not labels.
    public func evaluate(_ a: Double, _ b: Double) -> [Double] {
        let here = moved(objective, a, b)
        let train = here.evaluate()
        var values = [Double(train.loss), train.accuracy ?? .nan]
        if var testObjective {
            // The same model, moved once: only the data differ.
            (testObjective.parameters, testObjective.buffers) = (here.parameters, here.buffers)
            let test = testObjective.evaluate()
            values += [Double(test.loss), test.accuracy ?? .nan]
        }
        if let map = eigenvalueMap {
            let op = HessianOperator(here)
            for end in [SpectrumEnd.largest, .smallest] {
                let result = LanczosSolver(count: 1, end: end, tolerance: map.tolerance, floatBasis: Scalar.self == Float.self,
                                           maxMatvecs: map.maxMatvecs,
                                           seed: map.seed &+ (end == .largest ? 0 : 1)).solve(op)
                values.append(result.eigenvalues.first ?? .nan)
            }
        }
        return values
    }
}
