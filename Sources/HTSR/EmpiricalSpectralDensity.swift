import Foundation
import LinearAlgebra

/// The eigenvalues of `W^T W` (the squared singular values of W, no 1/N normalisation) for the matrices of one layer,
/// pooled and sorted, with the singular-value facts WeightWatcher reports beside them.
public struct EmpiricalSpectralDensity: Sendable, Equatable {
    /// Ascending.
    public var eigenvalues: [Double]
    public var svMax: Double
    public var svMin: Double
    /// Sum over the matrices of (count of singular values) - (numerical rank).
    public var rankLoss: Int
    /// How the eigenvalues were computed.
    public var method: ESDMethod
}

/// How singular values are obtained.
public enum ESDMethod: String, Sendable, Codable {
    /// Eigenvalues of the smaller Gram matrix (BLAS syrk + LAPACK dsyevd): about 4x faster than an SVD, with
    /// absolute eigenvalue error about 1e-16 lambda_max.
    case gram
    /// LAPACK dgesdd singular values.
    case svd
}

extension EmpiricalSpectralDensity {
    /// A Gram eigenvalue below this fraction of lambda_max is too close to the Gram route's rounding floor to give
    /// an accurate singular value, so such matrices are redone by SVD (rank and sv_min then match dgesdd).
    static let gramFloor = 1e-8

    /// The ESD of `matrices`, each eigenvalue multiplied by `scale`.
    ///
    /// - Parameter method: `.gram` (default) falls back to `.svd` for nearly rank-deficient matrices.
    init(matrices: [Tensor<Double>], scale: Double, method: ESDMethod = .gram) throws(LAPACKError) {
        var all: [Double] = []
        var svMax = 0.0
        var svMin = Double.infinity
        var rankLoss = 0
        var used = method
        for matrix in matrices {
            var singular: [Double]
            if method == .gram {
                let gramValues = try symmetricEigen(smallerGram(matrix), computeVectors: false).values
                let top = gramValues.last ?? 0
                if let bottom = gramValues.first, bottom < top * Self.gramFloor {
                    singular = try singularValues(matrix)
                    used = .svd
                } else {
                    singular = gramValues.reversed().map { max(0, $0).squareRoot() }
                }
            } else {
                singular = try singularValues(matrix)
            }
            singular = singular.map { $0 * scale.squareRoot() }
            let n = max(matrix.shape[0], matrix.shape[1])
            let largest = singular.max() ?? 0
            // numpy.linalg.matrix_rank's tolerance, which WeightWatcher uses: sv_max * N * eps.
            rankLoss += singular.count - singular.filter { $0 > largest * Double(n) * Double.ulpOfOne }.count
            svMax = max(svMax, largest)
            svMin = min(svMin, singular.min() ?? .infinity)
            all += singular.map { $0 * $0 }
        }
        self.init(eigenvalues: all.sorted(), svMax: svMax, svMin: svMin.isFinite ? svMin : 0, rankLoss: rankLoss,
                  method: used)
    }
}
