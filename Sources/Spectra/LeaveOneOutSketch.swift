import LinearAlgebra

/// The sketch XTrace and XDiag share (Epperly, Tropp and Webber 2024): probes Omega, `A Omega = Q R`, `Z = A Q`,
/// and for each probe i the unit vector s_i (column i of `R^{-T}`, normalised) for which `Q s_i` is the direction
/// that leaves the range of `A Omega` when column i is dropped: `P_i = Q Q^T - (Q s_i)(Q s_i)^T`.
struct LeaveOneOutSketch {
    let omega: [Tensor<Double>]
    /// The columns of Q.
    let q: [Tensor<Double>]
    let r: Tensor<Double>
    /// `A q_j` for each column of Q.
    let z: [Tensor<Double>]
    /// s_i for each probe.
    let directions: [[Double]]
    /// `||R^{-T} e_i||` for each probe.
    let norms: [Double]

    /// Costs `2 omega.count` products; throws when `A Omega` is numerically rank deficient.
    init(_ linearOperator: any LinearOperator, omega: [Tensor<Double>], blockSize: Int) throws {
        let factors = try qr(matrix(columns: linearOperator.apply(omega, blockSize: blockSize)))
        guard let inverseTranspose = inverseTransposeColumns(factors.r) else { throw TraceError.rankDeficient(rank: omega.count) }
        self.omega = omega
        q = columns(of: factors.q)
        r = factors.r
        z = linearOperator.apply(q, blockSize: blockSize)
        norms = inverseTranspose.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        directions = zip(inverseTranspose, norms).map { column, norm in column.map { $0 / norm } }
    }
}
