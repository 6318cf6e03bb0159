import Foundation
import LinearAlgebra

/// One probe of stochastic Lanczos quadrature: the Gauss quadrature rule of the spectral measure seen from a
/// Rademacher start vector.
public struct QuadratureRule: Sendable, Codable, Equatable {
    /// Ritz values of the Lanczos tridiagonal matrix, ascending.
    public var nodes: [Double]
    /// Squared first components of T's eigenvectors; they sum to 1.
    public var weights: [Double]
    /// Ritz residuals `||A y - theta y|| = |beta_m (last component)|`: how well each node is an eigenvalue.
    public var residuals: [Double]

    public init(nodes: [Double], weights: [Double], residuals: [Double]) {
        self.nodes = nodes
        self.weights = weights
        self.residuals = residuals
    }
}

/// A density on a grid.
public struct SpectralDensity: Sendable, Codable, Equatable {
    /// Ascending.
    public var grid: [Double]
    public var values: [Double]
    /// True when `grid` is `log10(|lambda| + epsilon)` rather than lambda.
    public var logSpectrum: Bool
}

/// Stochastic Lanczos quadrature (Golub and Meurant; Ghorbani, Krishnan and Xiao 2019; PyHessian's `density`).
///
/// For each probe, m Lanczos steps with full reorthogonalisation from a normalised Rademacher vector give a
/// tridiagonal T; its eigenvalues are the nodes and the squared first components of its eigenvectors the weights of
/// a Gauss rule for `v^T f(A) v`. Probes in a block advance in lockstep, so each step is one block product.
public struct StochasticLanczosQuadrature: Sendable {
    public var steps: Int
    public var seed: UInt64
    public var blockSize: Int

    public init(steps: Int = 100, seed: UInt64 = 0, blockSize: Int = 1) {
        precondition(steps >= 1, "SLQ needs at least one Lanczos step")
        self.steps = steps
        self.seed = seed
        self.blockSize = blockSize
    }

    /// The rules of probes `count` long, starting from `completed` ones, handing all rules so far to `record` after
    /// every block (a checkpoint).
    public func rules(
        _ linearOperator: any LinearOperator, probes count: Int, completed: [QuadratureRule] = [],
        record: ([QuadratureRule]) throws -> Void = { _ in }
    ) throws -> [QuadratureRule] {
        try runProbeBlocks(count: count, completed: completed, blockSize: blockSize, compute: { range in
            let starts = rademacherProbes(dimension: linearOperator.dimension, seed: seed, family: .density, range)
            return try lanczosRules(linearOperator, starts: starts, steps: steps)
        }, record: record)
    }
}

/// Lanczos with full reorthogonalisation from each start vector, in lockstep; each probe's quadrature rule.
/// A probe whose Krylov space becomes invariant (beta ~ 0) stops early: its rule is then exact.
func lanczosRules(_ linearOperator: any LinearOperator, starts: [Tensor<Double>], steps: Int) throws -> [QuadratureRule] {
    let m = min(steps, linearOperator.dimension)
    // Each probe's latest Lanczos vector, also the last row of its basis.
    var latest = starts.map { $0 * (1 / $0.norm()) }
    var bases = latest.map { v in
        var basis = OrthonormalRows(dimension: v.count)
        basis.append(v)
        return basis
    }
    var alphas = [[Double]](repeating: [], count: starts.count), betas = [[Double]](repeating: [], count: starts.count)
    var active = Array(starts.indices)
    var lastBeta = [Double](repeating: 0, count: starts.count)
    while !active.isEmpty {
        let products = linearOperator.apply(block: active.map { latest[$0] })
        var stillActive: [Int] = []
        for (probe, product) in zip(active, products) {
            let alpha = product.dot(latest[probe])
            alphas[probe].append(alpha)
            let w = bases[probe].projectOut(product)
            let beta = w.norm()
            let invariant = beta <= 1e-12 * max(1, abs(alpha))
            lastBeta[probe] = invariant ? 0 : beta
            if alphas[probe].count < m, !invariant {
                betas[probe].append(beta)
                latest[probe] = w * (1 / beta)
                bases[probe].append(latest[probe])
                stillActive.append(probe)
            }
        }
        active = stillActive
    }
    return try starts.indices.map { probe in
        let eigen = try tridiagonalEigen(diagonal: alphas[probe], offDiagonal: betas[probe])
        let k = alphas[probe].count
        let vectors = eigen.vectors!
        // Rows of `vectors` are eigenvectors.
        return QuadratureRule(nodes: eigen.values, weights: (0..<k).map { vectors[$0, 0] * vectors[$0, 0] },
                              residuals: (0..<k).map { abs(lastBeta[probe] * vectors[$0, k - 1]) })
    }
}

extension SpectralDensity {
    /// PyHessian's `density_generate`: each node a Gaussian of variance `1e-5 max(1, b - a)` (PyHessian calls it
    /// sigma), weighted, averaged over probes, on `points` equally spaced points from `a` = the probes' mean smallest
    /// node - 0.01 to `b` = their mean largest node + 0.01, normalised to unit area by the Riemann sum.
    ///
    /// With `logSpectrum`, nodes are first mapped to `log10(|theta| + epsilon)` and the same rule is applied there.
    public static func gaussianBroadening(
        _ rules: [QuadratureRule], points: Int = 10000, varianceFactor: Double = 1e-5, overhead: Double = 0.01,
        logSpectrum: Bool = false, epsilon: Double? = nil
    ) -> SpectralDensity {
        precondition(!rules.isEmpty && points >= 2, "broadening needs a rule and two grid points")
        let scale = rules.flatMap(\.nodes).map(abs).max() ?? 1
        let shift = epsilon ?? defaultEpsilon(scale: scale)
        let mapped = rules.map { rule in logSpectrum ? rule.nodes.map { log10(abs($0) + shift) } : rule.nodes }
        let lower = mapped.map { $0.min()! }.reduce(0, +) / Double(rules.count) - overhead
        let upper = mapped.map { $0.max()! }.reduce(0, +) / Double(rules.count) + overhead
        let grid = (0..<points).map { lower + (upper - lower) * Double($0) / Double(points - 1) }
        let variance = varianceFactor * max(1, upper - lower)
        var values = [Double](repeating: 0, count: points)
        // Nodes only reach about 9 standard deviations before exp underflows to nothing that matters; skip the rest.
        let reach = 9 * variance.squareRoot()
        let step = (upper - lower) / Double(points - 1)
        for (nodes, rule) in zip(mapped, rules) {
            for (node, weight) in zip(nodes, rule.weights) {
                let first = max(0, Int(((node - reach - lower) / step).rounded(.down)))
                let last = min(points - 1, Int(((node + reach - lower) / step).rounded(.up)))
                guard first <= last else { continue }
                for j in first...last {
                    let d = grid[j] - node
                    values[j] += weight * exp(-d * d / (2 * variance)) / (2 * Double.pi * variance).squareRoot()
                }
            }
        }
        let area = values.reduce(0, +) * step
        return SpectralDensity(grid: grid, values: area > 0 ? values.map { $0 / area } : values, logSpectrum: logSpectrum)
    }

    /// The default shift of the log spectrum: 1e-6 of the largest |eigenvalue| seen.
    public static func defaultEpsilon(scale: Double) -> Double { max(1e-6 * scale, Double.leastNormalMagnitude) }
}
