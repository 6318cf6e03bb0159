import LinearAlgebra

/// A stochastic trace estimator.
public enum TraceMethod: String, Sendable, Codable, CaseIterable {
    /// Hutchinson (1989): the mean of `v^T A v` over Rademacher probes.
    case hutchinson
    /// Hutch++ (Meyer, Musco, Musco and Woodruff 2021): exact trace on a sketched top subspace plus Hutchinson on the rest.
    case hutchpp
    /// XTrace (Epperly, Tropp and Webber 2024): Hutch++'s idea with every probe also used to sketch, leave-one-out.
    case xtrace
}

/// A trace estimate with its standard error and cost.
public struct TraceEstimate: Sendable, Codable, Equatable {
    public var estimate: Double
    /// The standard error of `estimate`: the sample standard deviation of the estimator's independent terms divided by
    /// the square root of their number (Hutchinson: all probes; Hutch++: its Hutchinson part, the sketched part being
    /// exact given the sketch; XTrace: the leave-one-out estimates, as Epperly et al. report it).
    public var stderr: Double
    public var method: TraceMethod
    /// Operator applications used.
    public var matvecs: Int
}

public enum TraceError: Error, CustomStringConvertible, Equatable {
    case budgetTooSmall(method: TraceMethod, matvecs: Int, minimum: Int)
    case rankDeficient(rank: Int)

    public var description: String {
        switch self {
        case let .budgetTooSmall(method, matvecs, minimum):
            "--matvecs \(matvecs) is too few for \(method.rawValue); it needs at least \(minimum)"
        case let .rankDeficient(rank):
            "the operator's range looks smaller than the sketch (\(rank) vectors): the matrix has low rank; use hutchinson or fewer matvecs"
        }
    }
}

/// Estimates `tr(A)` from `matvecs` products with A.
///
/// - Hutchinson: `tr(A) ~ (1/m) sum_i v_i^T A v_i`, v_i Rademacher; variance `2 (||A||_F^2 - sum A_ii^2) / m`.
/// - Hutch++ with m products: `S` (m/3 Rademacher columns), `Q = orth(A S)`, then `tr(Q^T A Q)` exactly (m/3
///   products) plus Hutchinson with the rest on `(I - Q Q^T) A (I - Q Q^T)`. Error O(||A||_* / m): far better when a
///   few eigenvalues carry the trace.
/// - XTrace with m products: s = m/2 Rademacher columns Omega, `Y = A Omega = Q R`, `Z = A Q`. For each i, with
///   `Q_(i)` an orthonormal basis of the other columns' image (`Q Q^T - q_i q_i^T`, `q_i = Q s_i`, s_i the normalised
///   column i of `R^{-T}`), `t_i = tr(Q_(i)^T A Q_(i)) + omega_i^T (I - P_i) A (I - P_i) omega_i`, each unbiased;
///   XTrace is their mean. Every term is formed from `H = Q^T Z`, `R` and `W = Q^T Omega` in O(n s^2).
///
/// Probe i of the trace family is the same vector in every run with the same seed, so Hutchinson runs resume exactly.
public struct TraceEstimator: Sendable {
    public var method: TraceMethod
    public var matvecs: Int
    public var seed: UInt64
    /// Products computed together (one forward pass for the block on a model).
    public var blockSize: Int

    public init(method: TraceMethod = .hutchinson, matvecs: Int = 100, seed: UInt64 = 0, blockSize: Int = 1) {
        self.method = method
        self.matvecs = matvecs
        self.seed = seed
        self.blockSize = blockSize
    }

    var minimumMatvecs: Int { method == .hutchinson ? 1 : method == .hutchpp ? 3 : 4 }

    /// The estimate. Hutchinson starts from the `completed` probe values of an interrupted run (probe i's
    /// `v_i^T A v_i`) and hands the values so far to `record` after every block; the other methods are one sketch and
    /// start afresh.
    public func estimate(
        _ linearOperator: any LinearOperator, completed: [Double] = [], record: ([Double]) throws -> Void = { _ in }
    ) throws -> TraceEstimate {
        guard matvecs >= minimumMatvecs else { throw TraceError.budgetTooSmall(method: method, matvecs: matvecs, minimum: minimumMatvecs) }
        switch method {
        case .hutchinson:
            let samples = try hutchinsonSamples(linearOperator, count: matvecs, completed: completed, record: record)
            let (mean, error) = meanAndStandardError(samples)
            return TraceEstimate(estimate: mean, stderr: error, method: method, matvecs: matvecs)
        case .hutchpp: return try hutchPlusPlus(linearOperator)
        case .xtrace: return try xtrace(linearOperator)
        }
    }

    func probes(_ n: Int, family: ProbeFamily, _ range: Range<Int>) -> [Tensor<Double>] {
        rademacherProbes(dimension: n, seed: seed, family: family, range)
    }

    func hutchinsonSamples(
        _ linearOperator: any LinearOperator, count: Int, completed: [Double], record: ([Double]) throws -> Void
    ) throws -> [Double] {
        try runProbeBlocks(count: count, completed: completed, blockSize: blockSize, compute: { range in
            let block = probes(linearOperator.dimension, family: .trace, range)
            return zip(block, linearOperator.apply(block: block)).map { $0.dot($1) }
        }, record: record)
    }

    func hutchPlusPlus(_ linearOperator: any LinearOperator) throws -> TraceEstimate {
        let n = linearOperator.dimension
        let sketch = min((matvecs + 2) / 3, n)
        let hutchinsonCount = matvecs - 2 * sketch
        let q = columns(of: try qr(matrix(columns: linearOperator.apply(probes(n, family: .traceSketch, 0..<sketch), blockSize: blockSize))).q)
        let exactPart = zip(q, linearOperator.apply(q, blockSize: blockSize)).reduce(0) { $0 + $1.0.dot($1.1) }
        guard hutchinsonCount > 0 else { return TraceEstimate(estimate: exactPart, stderr: 0, method: .hutchpp, matvecs: 2 * sketch) }
        var basis = OrthonormalRows(dimension: n)
        for u in q { basis.append(u) }
        let projected = probes(n, family: .trace, 0..<hutchinsonCount).map(basis.projectOut)
        let samples = zip(projected, linearOperator.apply(projected, blockSize: blockSize)).map { $0.dot($1) }
        let (mean, error) = meanAndStandardError(samples)
        return TraceEstimate(estimate: exactPart + mean, stderr: error, method: .hutchpp, matvecs: matvecs)
    }

    func xtrace(_ linearOperator: any LinearOperator) throws -> TraceEstimate {
        let n = linearOperator.dimension
        let s = min(matvecs / 2, n - 1)
        let sketch = try LeaveOneOutSketch(linearOperator, omega: probes(n, family: .trace, 0..<s), blockSize: blockSize)
        let (omega, q, z) = (sketch.omega, sketch.q, sketch.z)
        // H = Q^T A Q (symmetrised), W = Q^T Omega, both s x s.
        var h = [[Double]](repeating: [Double](repeating: 0, count: s), count: s)
        for i in 0..<s { for j in 0...i { h[i][j] = (q[i].dot(z[j]) + q[j].dot(z[i])) / 2; h[j][i] = h[i][j] } }
        let w = omega.map { o in q.map { $0.dot(o) } }
        let traceH = (0..<s).reduce(0) { $0 + h[$1][$1] }
        func quadratic(_ x: [Double]) -> Double {
            (0..<s).reduce(0) { sum, i in sum + x[i] * (0..<s).reduce(0) { $0 + h[i][$1] * x[$1] } }
        }
        let estimates = (0..<s).map { i -> Double in
            let si = sketch.directions[i]
            let ri = (0..<s).map { sketch.r[$0, i] }
            let wi = w[i]
            let c = zip(si, wi).reduce(0) { $0 + $1.0 * $1.1 }
            let g = zip(wi, si).map { $0 - c * $1 }
            let dot = { (a: [Double], b: [Double]) in zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
            // tr(P_i A) + u_i^T A u_i with u_i = omega_i - Q g_i (see the type's documentation).
            return traceH - quadratic(si) + dot(wi, ri) - 2 * dot(ri, g) + quadratic(g)
        }
        let (mean, error) = meanAndStandardError(estimates)
        return TraceEstimate(estimate: mean, stderr: error, method: .xtrace, matvecs: 2 * s)
    }
}
