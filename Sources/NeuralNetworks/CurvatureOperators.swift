import Foundation
import LinearAlgebra

/// Which curvature matrix of an objective: one name in Swift, the CLI (`--matrix`) and JSON (`matrix`).
public enum CurvatureMatrix: String, Sendable, Codable, CaseIterable {
    case hessian, ggn, fisher
    /// The Monte-Carlo Fisher: the Fisher with targets sampled from the model (``MonteCarloFisherOperator``).
    case monteCarloFisher = "mc-fisher"
}

/// A curvature matrix of an ``Objective`` at a fixed point, as a `LinearOperator` in the style of curvlinops'
/// `CurvatureLinearOperator`: the objective (the empirical risk: model, loss, data, batching, BatchNorm mode and
/// parameter subset) is the base, and each matrix says only how it multiplies a block of vectors in the objective's
/// precision. Products over the whole data set are exact whatever the batch size, because each is the
/// sample-weighted sum of its batches' products.
public protocol CurvatureOperator<Scalar>: LinearOperator {
    associatedtype Scalar: TensorScalar
    var objective: Objective<Scalar> { get }
    /// The point the matrix is taken at (the objective's point when the operator was made).
    var point: Tensor<Scalar> { get }
    /// The products with `vectors`, each of ``dimension`` coordinates, sharing what a block can share.
    func products(_ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>]
}

extension CurvatureOperator {
    public var dimension: Int { objective.dimension }

    public func apply(_ vector: Tensor<Double>) -> Tensor<Double> { apply(block: [vector])[0] }

    /// Converts to and from the objective's precision around ``products(_:)``.
    public func apply(block vectors: [Tensor<Double>]) -> [Tensor<Double>] {
        products(vectors.map { $0.converted(to: Scalar.self) }).map { $0.converted(to: Double.self) }
    }
}

/// The Hessian `H = (1/N) sum_i d^2 l_i / d theta^2`, by Pearlmutter's R-operator in the objective's
/// ``Objective/hessianProductMode`` (forward-over-reverse by default; blocks replay one linearization per batch).
///
/// When the data is one batch and products run forward-over-reverse, the first product records the forward and
/// backward passes at ``point`` and every later product (Lanczos steps, trace probes, density probes) replays only
/// their tangent rules, as PyHessian reuses its gradient's graph: such a product takes 0.5-0.65 of a full one's time
/// on the benchmark models (docs/performance.md).
public struct HessianOperator<Scalar: TensorScalar>: CurvatureOperator {
    public let objective: Objective<Scalar>
    public let point: Tensor<Scalar>
    let recording: RecordedOnce<RecordedGradient<Scalar>>
    public init(_ objective: Objective<Scalar>) {
        self.objective = objective
        point = objective.point
        recording = RecordedOnce(objective, when: objective.hessianProductMode == .forwardOverReverse)
    }
    public func products(_ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        recording.products(vectors, of: objective) { objective.recordedGradients(at: point) } otherwise: {
            objective.hessianBlockProduct(at: point, vectors)
        }
    }
}

/// The generalised Gauss-Newton matrix `G = (1/N) sum_i J_i^T H_{z,i} J_i` (Schraudolph 2002), J_i the Jacobian of
/// sample i's outputs and H_{z,i} its loss's Hessian with respect to them: positive semi-definite for
/// cross-entropy and MSE, and equal to the Hessian where the model is linear in its parameters. On one batch the
/// first product records the forward pass and later ones replay it.
public struct GGNOperator<Scalar: TensorScalar>: CurvatureOperator {
    public let objective: Objective<Scalar>
    public let point: Tensor<Scalar>
    let recording: RecordedOnce<RecordedOutputs<Scalar>>
    public init(_ objective: Objective<Scalar>) {
        self.objective = objective
        point = objective.point
        recording = RecordedOnce(objective)
    }
    public func products(_ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        recording.products(vectors, of: objective) { objective.recordedOutputs(at: point, .ggn) } otherwise: {
            objective.ggnBlockProduct(at: point, vectors)
        }
    }
}

/// The empirical Fisher `F = (1/N) sum_i g_i g_i^T`, g_i the gradient of sample i's loss at its observed target
/// (Kunstner et al. 2019 on how it differs from the Fisher). On one batch the first product records the forward pass
/// and later ones replay it.
public struct EmpiricalFisherOperator<Scalar: TensorScalar>: CurvatureOperator {
    public let objective: Objective<Scalar>
    public let point: Tensor<Scalar>
    let recording: RecordedOnce<RecordedOutputs<Scalar>>
    public init(_ objective: Objective<Scalar>) {
        self.objective = objective
        point = objective.point
        recording = RecordedOnce(objective)
    }
    public func products(_ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        recording.products(vectors, of: objective) { objective.recordedOutputs(at: point, .empiricalFisher) } otherwise: {
            objective.empiricalFisherBlockProduct(at: point, vectors)
        }
    }
}

/// The Monte-Carlo Fisher: `(1/(N S)) sum_i sum_s g_is g_is^T`, g_is the gradient of sample i's loss at a target
/// drawn from the model's predictive distribution, S draws per sample. The draws are fixed by `seed` (batch b uses
/// stream b), so the operator is one symmetric matrix that every product sees; its expectation is the GGN. On one
/// batch the first product records the forward pass and the draws, and later ones replay them.
public struct MonteCarloFisherOperator<Scalar: TensorScalar>: CurvatureOperator {
    public let objective: Objective<Scalar>
    public let point: Tensor<Scalar>
    public let seed: UInt64
    public let samples: Int
    let recording: RecordedOnce<RecordedOutputs<Scalar>>
    public init(_ objective: Objective<Scalar>, seed: UInt64, samples: Int = 1) {
        precondition(samples >= 1, "Monte-Carlo Fisher needs at least one sample")
        self.objective = objective
        point = objective.point
        self.seed = seed
        self.samples = samples
        recording = RecordedOnce(objective)
    }
    public func products(_ vectors: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        recording.products(vectors, of: objective) {
            objective.recordedOutputs(at: point, .monteCarloFisher(seed: seed, samples: samples))
        } otherwise: {
            objective.monteCarloFisherBlockProduct(at: point, vectors, seed: seed, samples: samples)
        }
    }
}

/// An operator's recorded batches, made by its first product and replayed by every later one (and shared by copies
/// of the operator), when the objective's data is one batch. With several batches nothing is kept, since every
/// batch's recording at once would hold the activations of the whole data set: each product records afresh.
final class RecordedOnce<Recorded: RecordedBatch>: @unchecked Sendable {
    // @unchecked: `made` is written once, under `lock`, and only read after that.
    private let lock = NSLock()
    private var made: [Recorded]?
    /// Whether products after the first replay the recording.
    let replays: Bool

    init(_ objective: Objective<Recorded.Scalar>, when condition: Bool = true) {
        replays = condition && objective.batchCount == 1
    }

    func products(_ vectors: [Tensor<Recorded.Scalar>], of objective: Objective<Recorded.Scalar>, record: () -> [Recorded],
                  otherwise fresh: () -> [Tensor<Recorded.Scalar>]) -> [Tensor<Recorded.Scalar>] {
        guard replays else { return fresh() }
        return objective.blockProduct(replaying: recorded(record), vectors)
    }

    private func recorded(_ record: () -> [Recorded]) -> [Recorded] {
        lock.lock()
        defer { lock.unlock() }
        if let made { return made }
        let value = record()
        made = value
        return value
    }
}

extension Objective {
    /// Why `matrix` is not defined for this objective's loss, or nil when it is. The GGN needs a loss of the model's
    /// outputs (not the model's own loss); the Fisher matrices need a mean of per-sample terms that each depend on
    /// one sample's outputs (``Loss/hasPerSampleTerms(_:)``).
    public func unavailability(of matrix: CurvatureMatrix) -> String? {
        switch matrix {
        case .hessian: return nil
        case .ggn: return loss == .fromModel ? "the GGN needs a loss of the model's outputs; with --loss from-model the output is the loss (use the Hessian)" : nil
        case .fisher, .monteCarloFisher:
            return loss.hasPerSampleTerms(data.targets) ? nil
                : "the \(matrix.rawValue) matrix needs a loss with one term per sample (cross-entropy with one label per sample, or MSE); " +
                  "\(loss.rawValue) with these targets has none (use the GGN, its expectation)"
        }
    }

    /// The operator of `matrix` at the current point; `seed` and `samples` fix the Monte-Carlo Fisher's draws.
    public func curvature(_ matrix: CurvatureMatrix, seed: UInt64 = 0, samples: Int = 1) -> any CurvatureOperator<Scalar> {
        switch matrix {
        case .hessian: HessianOperator(self)
        case .ggn: GGNOperator(self)
        case .fisher: EmpiricalFisherOperator(self)
        case .monteCarloFisher: MonteCarloFisherOperator(self, seed: seed, samples: samples)
        }
    }
}
