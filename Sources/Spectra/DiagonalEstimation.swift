import LinearAlgebra

/// A stochastic estimator of a matrix's diagonal.
public enum DiagonalMethod: String, Sendable, Codable, CaseIterable {
    /// Bekas, Kokiopoulou and Saad (2007): the mean of `v (*) A v` over Rademacher probes.
    case hutchinson
    /// XDiag (Epperly, Tropp and Webber 2024): exact on a leave-one-out sketch, Hutchinson on the rest.
    case xdiag
}

/// A diagonal estimate with a standard error per entry.
public struct DiagonalEstimate: Sendable {
    public var diagonal: Tensor<Double>
    /// Per entry: the sample standard deviation of the estimator's terms over sqrt of their number.
    public var stderr: Tensor<Double>
    public var method: DiagonalMethod
    public var matvecs: Int
}

/// Estimates `diag(A)` from `matvecs` products with A.
///
/// - Hutchinson: `diag(A) ~ (1/m) sum_i v_i (*) A v_i` (elementwise product), v_i Rademacher.
/// - XDiag with m products: s = m/2 probes, `A Omega = Q R`, `Z = A Q`; with `P_i = Q Q^T - q_i q_i^T` as in
///   ``TraceEstimator``'s XTrace, `d_i = diag(P_i A) + omega_i (*) (I - P_i) A omega_i`, which simplifies to
///   `diag(Q Z^T) - (Q s_i) (*) (Z s_i) + omega_i (*) Q s_i / ||R^{-T} e_i||`; XDiag is the mean of the d_i.
public struct DiagonalEstimator: Sendable {
    public var method: DiagonalMethod
    public var matvecs: Int
    public var seed: UInt64
    public var blockSize: Int

    public init(method: DiagonalMethod = .hutchinson, matvecs: Int = 100, seed: UInt64 = 0, blockSize: Int = 1) {
        self.method = method
        self.matvecs = matvecs
        self.seed = seed
        self.blockSize = blockSize
    }

    public func estimate(_ linearOperator: any LinearOperator) throws -> DiagonalEstimate {
        let n = linearOperator.dimension
        let minimum = method == .hutchinson ? 1 : 4
        guard matvecs >= minimum else {
            throw TraceError.budgetTooSmall(method: method == .hutchinson ? .hutchinson : .xtrace, matvecs: matvecs, minimum: minimum)
        }
        let count = method == .hutchinson ? matvecs : min(matvecs / 2, n - 1)
        let omega = (0..<count).map { rademacherProbe(dimension: n, seed: seed, family: .diagonal, index: $0) }
        let products = linearOperator.apply(omega, blockSize: blockSize)
        // Welford's running mean and sum of squared deviations, one term vector at a time.
        var mean = [Double](repeating: 0, count: n), squares = [Double](repeating: 0, count: n), seen = 0.0
        func add(_ term: (Int) -> Double) {
            seen += 1
            for i in 0..<n {
                let x = term(i), delta = x - mean[i]
                mean[i] += delta / seen
                squares[i] += delta * (x - mean[i])
            }
        }
        switch method {
        case .hutchinson:
            for (v, product) in zip(omega, products) { add { v[$0] * product[$0] } }
        case .xdiag:
            let factors = try qr(matrix(columns: products))
            guard let inverseTranspose = inverseTransposeColumns(factors.r) else { throw TraceError.rankDeficient(rank: count) }
            let q = columns(of: factors.q)
            let z = linearOperator.apply(q, blockSize: blockSize)
            var projected = [Double](repeating: 0, count: n)  // diag(Q Z^T)
            for (qj, zj) in zip(q, z) { for i in 0..<n { projected[i] += qj[i] * zj[i] } }
            for i in 0..<count {
                let norm = inverseTranspose[i].reduce(0) { $0 + $1 * $1 }.squareRoot()
                var qs = Tensor<Double>(zeros: [n]), zs = Tensor<Double>(zeros: [n])
                for j in 0..<count {
                    qs.addScaled(q[j], by: inverseTranspose[i][j] / norm)
                    zs.addScaled(z[j], by: inverseTranspose[i][j] / norm)
                }
                add { projected[$0] - qs[$0] * zs[$0] + omega[i][$0] * qs[$0] / norm }
            }
        }
        let stderr = squares.map { seen > 1 ? ($0 / (seen - 1) / seen).squareRoot() : .infinity }
        return DiagonalEstimate(diagonal: Tensor(mean), stderr: Tensor(stderr), method: method,
                                matvecs: method == .hutchinson ? count : 2 * count)
    }
}
