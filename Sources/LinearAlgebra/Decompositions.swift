/// A LAPACK routine reported failure.
public struct LAPACKError: Error, Equatable, CustomStringConvertible {
    /// The routine, e.g. "dsyevd".
    public let routine: String
    /// LAPACK's `info`: negative for a bad argument, positive when the algorithm did not converge.
    public let info: Int32

    public var description: String {
        info < 0
            ? "LAPACK \(routine): argument \(-info) is invalid"
            : "LAPACK \(routine) did not converge (info = \(info))"
    }
}

/// Eigenvalues in ascending order and, optionally, their orthonormal eigenvectors.
public struct SymmetricEigendecomposition<Scalar: TensorScalar>: Sendable {
    /// Eigenvalues, ascending.
    public var values: [Scalar]
    /// An n x n tensor whose row `i` is the unit eigenvector of `values[i]`; nil when vectors were not asked for.
    public var vectors: Tensor<Scalar>?
}

private func lapackPrefix<Scalar: TensorScalar>(_: Scalar.Type) -> String { Scalar.self == Float.self ? "s" : "d" }

/// Eigenvalues (ascending) and eigenvectors of a symmetric matrix, by divide and conquer (LAPACK `?syevd`).
///
/// Only the lower triangle (in row-major terms, the upper) is read; the matrix is assumed symmetric.
public func symmetricEigen<Scalar: TensorScalar>(
    _ matrix: Tensor<Scalar>, computeVectors: Bool = true
) throws(LAPACKError) -> SymmetricEigendecomposition<Scalar> {
    precondition(matrix.rank == 2 && matrix.shape[0] == matrix.shape[1],
                 "symmetricEigen needs a square matrix, got shape \(matrix.shape)")
    let n = matrix.shape[0]
    guard n > 0 else { return .init(values: [], vectors: computeVectors ? Tensor(zeros: [0, 0]) : nil) }
    // A symmetric matrix is its own transpose, so the row-major storage is a valid column-major input, and the
    // column-major eigenvector columns read back row-major as rows: no transposes needed.
    var work = matrix
    var values = [Scalar](repeating: 0, count: n)
    let info = work.withUnsafeMutableBufferPointer { a in
        values.withUnsafeMutableBufferPointer { w in
            Scalar._syevd(n: n, a: a.baseAddress!, w: w.baseAddress!, vectors: computeVectors)
        }
    }
    guard info == 0 else { throw LAPACKError(routine: lapackPrefix(Scalar.self) + "syevd", info: info) }
    return .init(values: values, vectors: computeVectors ? work : nil)
}

/// Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal matrix with the given diagonal and
/// off-diagonal (LAPACK `?stevd`), as Lanczos produces.
public func tridiagonalEigen<Scalar: TensorScalar>(
    diagonal: [Scalar], offDiagonal: [Scalar], computeVectors: Bool = true
) throws(LAPACKError) -> SymmetricEigendecomposition<Scalar> {
    let n = diagonal.count
    precondition(offDiagonal.count == max(0, n - 1),
                 "tridiagonalEigen: off-diagonal has \(offDiagonal.count) entries, needs \(max(0, n - 1))")
    guard n > 0 else { return .init(values: [], vectors: computeVectors ? Tensor(zeros: [0, 0]) : nil) }
    var d = diagonal
    var e = offDiagonal + [0]  // LAPACK wants length n workspace for e
    var z = [Scalar](repeating: 0, count: computeVectors ? n * n : 1)
    let info = d.withUnsafeMutableBufferPointer { pd in
        e.withUnsafeMutableBufferPointer { pe in
            z.withUnsafeMutableBufferPointer { pz in
                Scalar._stevd(n: n, d: pd.baseAddress!, e: pe.baseAddress!, z: pz.baseAddress!, vectors: computeVectors)
            }
        }
    }
    guard info == 0 else { throw LAPACKError(routine: lapackPrefix(Scalar.self) + "stevd", info: info) }
    // Column-major eigenvector columns are row-major rows.
    return .init(values: d, vectors: computeVectors ? Tensor(shape: [n, n], scalars: z) : nil)
}

/// The singular values of a rank-2 tensor, descending (LAPACK `?gesdd`, values only).
public func singularValues<Scalar: TensorScalar>(_ matrix: Tensor<Scalar>) throws(LAPACKError) -> [Scalar] {
    precondition(matrix.rank == 2, "singularValues needs a rank-2 tensor, got shape \(matrix.shape)")
    let (rows, columns) = (matrix.shape[0], matrix.shape[1])
    guard rows > 0, columns > 0 else { return [] }
    // Row-major rows x columns is column-major columns x rows: the transpose, which has the same singular values.
    var work = matrix
    var values = [Scalar](repeating: 0, count: min(rows, columns))
    let info = work.withUnsafeMutableBufferPointer { a in
        values.withUnsafeMutableBufferPointer { s in
            Scalar._gesddValues(m: columns, n: rows, a: a.baseAddress!, s: s.baseAddress!)
        }
    }
    guard info == 0 else { throw LAPACKError(routine: lapackPrefix(Scalar.self) + "gesdd", info: info) }
    return values
}

/// A thin QR factorisation `A = Q R` of an m x n matrix: Q is m x k with orthonormal columns, R is k x n upper
/// triangular, k = min(m, n) (LAPACK `?geqrf` + `?orgqr`).
public struct QRFactorization<Scalar: TensorScalar>: Sendable {
    public var q: Tensor<Scalar>
    public var r: Tensor<Scalar>
}

/// The thin QR factorisation of a rank-2 tensor.
public func qr<Scalar: TensorScalar>(_ matrix: Tensor<Scalar>) throws(LAPACKError) -> QRFactorization<Scalar> {
    precondition(matrix.rank == 2, "qr needs a rank-2 tensor, got shape \(matrix.shape)")
    let (m, n) = (matrix.shape[0], matrix.shape[1])
    let k = min(m, n)
    guard k > 0 else { return .init(q: Tensor(zeros: [m, 0]), r: Tensor(zeros: [0, n])) }
    var factored = matrix
    var tau = [Scalar](repeating: 0, count: k)
    let info = factored.withUnsafeMutableBufferPointer { a in
        tau.withUnsafeMutableBufferPointer { t in Scalar._geqrf(m: m, n: n, a: a.baseAddress!, tau: t.baseAddress!) }
    }
    guard info == 0 else { throw LAPACKError(routine: lapackPrefix(Scalar.self) + "geqrf", info: info) }

    var r = [Scalar](repeating: 0, count: k * n)
    var q = [Scalar](repeating: 0, count: m * k)
    factored.withUnsafeBufferPointer { a in
        for i in 0..<k {
            for j in i..<n { r[i * n + j] = a[i * n + j] }
        }
        for i in 0..<m {
            for j in 0..<k { q[i * k + j] = a[i * n + j] }
        }
    }
    let orgqrInfo = q.withUnsafeMutableBufferPointer { a in
        tau.withUnsafeBufferPointer { t in Scalar._orgqr(m: m, n: k, k: k, a: a.baseAddress!, tau: t.baseAddress!) }
    }
    guard orgqrInfo == 0 else { throw LAPACKError(routine: lapackPrefix(Scalar.self) + "orgqr", info: orgqrInfo) }
    return .init(q: Tensor(shape: [m, k], scalars: q), r: Tensor(shape: [k, n], scalars: r))
}
