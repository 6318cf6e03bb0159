import LinearAlgebra

/// Power iteration with deflation, as PyHessian's `hessian.eigenvalues(maxIter, tol, top_n)` computes it: for each
/// eigenvalue, a Gaussian start vector, then `v <- normalise(H orthonormalise(v, found))` until the Rayleigh
/// quotient changes by less than `tol` relative (`|lambda - lambda'| / (|lambda| + 1e-6)`); the value reported is the
/// estimate before the last product, as PyHessian reports it. It finds the largest-magnitude eigenvalues (not the
/// largest algebraic), converges slowly when eigenvalues are close, and has no residual test: kept for comparison.
public struct PowerIteration: Sendable {
    public var count: Int
    public var maxIterations: Int
    public var tolerance: Double
    public var seed: UInt64

    public init(count: Int, maxIterations: Int = 100, tolerance: Double = 1e-3, seed: UInt64 = 0) {
        self.count = count
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
    }

    public func solve(_ linearOperator: any LinearOperator) -> EigenResult {
        var random = SeededRandom(seed: seed)
        var values: [Double] = [], vectors: [Tensor<Double>] = []
        var matvecs = 0
        var converged = true
        for _ in 0..<min(count, linearOperator.dimension) {
            var v = Tensor<Double>.gaussian(shape: [linearOperator.dimension], using: &random)
            v = v * (1 / v.norm())
            var estimate: Double?
            var stopped = false
            for _ in 0..<maxIterations {
                // PyHessian's orthnormal: one classical Gram-Schmidt pass, then normalisation.
                for u in vectors { v.addScaled(u, by: -v.dot(u)) }
                v = v * (1 / max(v.norm(), Double.leastNormalMagnitude))
                let hv = linearOperator.apply(v)
                matvecs += 1
                let current = hv.dot(v)
                v = hv * (1 / max(hv.norm(), Double.leastNormalMagnitude))
                if let previous = estimate, abs(previous - current) / (abs(previous) + 1e-6) < tolerance {
                    stopped = true
                    break
                }
                estimate = current
            }
            // Converged means PyHessian's own stopping rule was met before maxIterations, nothing stronger.
            converged = converged && stopped
            values.append(estimate ?? 0)
            vectors.append(v)
        }
        let products = linearOperator.apply(block: vectors)
        let residuals = zip(zip(values, vectors), products).map { pair, product in (product - pair.0 * pair.1).norm() }
        return EigenResult(eigenvalues: values, eigenvectors: vectors, residuals: residuals, matvecs: matvecs + vectors.count,
                           restarts: 0, converged: converged)
    }
}

/// The exact spectrum of a small operator: its dense matrix from n products (symmetrised), then LAPACK dsyevd.
public enum DenseSpectrum {
    /// Above this dimension the dense matrix (n^2 doubles, n products) is refused.
    public static let defaultLimit = 6000

    public struct TooLarge: Error, CustomStringConvertible {
        public var dimension: Int
        public var limit: Int
        public var description: String {
            "the dense Hessian of \(dimension) parameters needs \(dimension) products and \(dimension * dimension * 8 / 1_048_576) MiB; " +
                "--method dense is limited to \(limit) parameters (use lanczos, or --parameters to pick a subset)"
        }
    }

    /// All eigenvalues ascending, with eigenvectors (rows), of `operator`'s matrix.
    public static func decompose(_ linearOperator: any LinearOperator, limit: Int = defaultLimit) throws -> SymmetricEigendecomposition<Double> {
        let n = linearOperator.dimension
        guard n <= limit else { throw TooLarge(dimension: n, limit: limit) }
        var columns: [[Double]] = []
        for start in stride(from: 0, to: n, by: 16) {
            let block = (start..<min(start + 16, n)).map { j -> Tensor<Double> in
                var e = Tensor<Double>(zeros: [n])
                e[j] = 1
                return e
            }
            columns += linearOperator.apply(block: block).map(\.scalars)
        }
        let matrix = Tensor(rows: (0..<n).map { i in (0..<n).map { j in (columns[j][i] + columns[i][j]) / 2 } })
        return try symmetricEigen(matrix)
    }
}

extension DenseSpectrum {
    /// The `top` largest and `bottom` smallest eigenpairs of the dense matrix, with explicit residuals.
    public static func extremes(_ linearOperator: any LinearOperator, top: Int, bottom: Int, limit: Int = defaultLimit)
        throws -> (top: EigenResult?, bottom: EigenResult?) {
        let eigen = try decompose(linearOperator, limit: limit)
        let n = eigen.values.count
        func pairs(_ indices: [Int]) -> EigenResult {
            let vectors = indices.map { Tensor(eigen.vectors!.row($0)) }
            let products = linearOperator.apply(block: vectors)
            let residuals = indices.indices.map { (products[$0] - eigen.values[indices[$0]] * vectors[$0]).norm() }
            return EigenResult(eigenvalues: indices.map { eigen.values[$0] }, eigenvectors: vectors, residuals: residuals,
                               matvecs: n + indices.count, restarts: 0, converged: true)
        }
        return (top > 0 ? pairs(Array((max(0, n - top)..<n).reversed())) : nil, bottom > 0 ? pairs(Array(0..<min(bottom, n))) : nil)
    }
}
