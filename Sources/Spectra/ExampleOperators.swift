import LinearAlgebra

/// A dense symmetric matrix as an operator (ground truth, tests).
public struct DenseOperator: LinearOperator {
    public let matrix: Tensor<Double>
    public init(_ matrix: Tensor<Double>) {
        precondition(matrix.rank == 2 && matrix.shape[0] == matrix.shape[1], "a dense operator needs a square matrix")
        self.matrix = matrix
    }
    public var dimension: Int { matrix.shape[0] }
    public func apply(_ vector: Tensor<Double>) -> Tensor<Double> { matvec(matrix, vector) }
    /// One GEMM for the block: the matrix is read once, not once per vector.
    public func apply(block vectors: [Tensor<Double>]) -> [Tensor<Double>] {
        vectors.count <= 1 ? vectors.map(apply) : columns(of: matmul(matrix, Spectra.matrix(columns: vectors)))
    }
}

/// `Q diag(values) Q^T` for a seeded random orthogonal Q, applied without forming the matrix when `values` is long:
/// a synthetic operator with a chosen spectrum.
public struct SpectrumOperator: LinearOperator {
    public let eigenvalues: [Double]
    /// Orthonormal eigenvectors as Householder reflectors `I - 2 u u^T`, composed: cheap to apply in any dimension.
    private let reflectors: [Tensor<Double>]

    public init(eigenvalues: [Double], seed: UInt64, reflections: Int = 3) {
        self.eigenvalues = eigenvalues
        var random = SeededRandom(seed: seed)
        reflectors = (0..<reflections).map { _ in
            let u = Tensor<Double>.gaussian(shape: [eigenvalues.count], using: &random)
            return u * (1 / u.norm())
        }
    }

    public var dimension: Int { eigenvalues.count }

    private func reflect(_ v: Tensor<Double>, _ order: [Tensor<Double>]) -> Tensor<Double> {
        var x = v
        for u in order { x.addScaled(u, by: -2 * u.dot(x)) }
        return x
    }

    /// Q = R_1 R_2 ... R_r; Q^T = R_r ... R_1.
    public func apply(_ vector: Tensor<Double>) -> Tensor<Double> {
        let inEigenbasis = reflect(vector, reflectors)
        let scaled = Tensor(zip(inEigenbasis.scalars, eigenvalues).map { $0 * $1 })
        return reflect(scaled, reflectors.reversed())
    }

    /// The eigenvector of `eigenvalues[index]`.
    public func eigenvector(_ index: Int) -> Tensor<Double> {
        var e = Tensor<Double>(zeros: [dimension])
        e[index] = 1
        return reflect(e, reflectors.reversed())
    }
}
