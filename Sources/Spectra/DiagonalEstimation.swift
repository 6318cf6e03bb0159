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
        let omega = rademacherProbes(dimension: n, seed: seed, family: .diagonal, 0..<count)
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
            for (v, product) in zip(omega, linearOperator.apply(omega, blockSize: blockSize)) { add { v[$0] * product[$0] } }
        case .xdiag:
            let sketch = try LeaveOneOutSketch(linearOperator, omega: omega, blockSize: blockSize)
            var projected = [Double](repeating: 0, count: n)  // diag(Q Z^T)
            for (qj, zj) in zip(sketch.q, sketch.z) { for i in 0..<n { projected[i] += qj[i] * zj[i] } }
            for i in 0..<count {
                var qs = Tensor<Double>(zeros: [n]), zs = Tensor<Double>(zeros: [n])
                for j in 0..<count {
                    qs.addScaled(sketch.q[j], by: sketch.directions[i][j])
                    zs.addScaled(sketch.z[j], by: sketch.directions[i][j])
                }
                let norm = sketch.norms[i]
                add { projected[$0] - qs[$0] * zs[$0] + omega[i][$0] * qs[$0] / norm }
            }
        }
        let stderr = squares.map { seen > 1 ? ($0 / (seen - 1) / seen).squareRoot() : .infinity }
        return DiagonalEstimate(diagonal: Tensor(mean), stderr: Tensor(stderr), method: method,
                                matvecs: method == .hutchinson ? count : 2 * count)
    }
}
