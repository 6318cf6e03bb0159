import CBLAS
import CFFTW3
import CLAPACKE

/// A floating-point type the native libraries support: `Float` (BLAS `s`, FFTW `fftwf_`) or `Double`
/// (BLAS `d`, FFTW `fftw_`).
///
/// The underscored requirements are the raw, pointer-level calls; use the typed wrappers in this module
/// (``matmul(_:_:transposeA:transposeB:)``, ``symmetricEigen(_:computeVectors:)`` and friends) instead.
public protocol TensorScalar: BinaryFloatingPoint, Sendable, Codable, LosslessStringConvertible
where RawSignificand: FixedWidthInteger {
    /// The NumPy name of the type: "float32" or "float64".
    static var typeName: String { get }

    static func _gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func _gemv(
        transpose: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, beta: Self, y: UnsafeMutablePointer<Self>)
    /// Row-major symmetric rank-k update `C = op(A) op(A)^T + beta C` (upper triangle written).
    static func _syrk(transpose: Bool, n: Int, k: Int, a: UnsafePointer<Self>, lda: Int, beta: Self, c: UnsafeMutablePointer<Self>)
    /// Column-major symmetric eigendecomposition (LAPACK `?syevd`, lower triangle used).
    static func _syevd(n: Int, a: UnsafeMutablePointer<Self>, w: UnsafeMutablePointer<Self>, vectors: Bool) -> Int32
    /// Symmetric tridiagonal eigenproblem (LAPACK `?stevd`); `z` is n x n column-major.
    static func _stevd(
        n: Int, d: UnsafeMutablePointer<Self>, e: UnsafeMutablePointer<Self>,
        z: UnsafeMutablePointer<Self>, vectors: Bool) -> Int32
    /// Singular values only (LAPACK `?gesdd` with jobz = 'N') of a column-major m x n matrix.
    static func _gesddValues(m: Int, n: Int, a: UnsafeMutablePointer<Self>, s: UnsafeMutablePointer<Self>) -> Int32
    /// Row-major Householder QR (`?geqrf`).
    static func _geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Self>, tau: UnsafeMutablePointer<Self>) -> Int32
    /// Row-major explicit Q from Householder reflectors (`?orgqr`), m x n with k reflectors.
    static func _orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Self>, tau: UnsafePointer<Self>) -> Int32

    static func _fftwPlanR2R(
        n: Int, input: UnsafeMutablePointer<Self>, output: UnsafeMutablePointer<Self>, kind: fftw_r2r_kind
    ) -> OpaquePointer?
    static func _fftwExecuteR2R(plan: OpaquePointer, input: UnsafeMutablePointer<Self>, output: UnsafeMutablePointer<Self>)
    static func _fftwDestroyPlan(_ plan: OpaquePointer)
}

// FFTW_ESTIMATE leaves the arrays untouched while planning; FFTW_UNALIGNED lets one plan run on any array.
let fftwPlanningFlags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)

@inline(__always) private func blasTranspose(_ transpose: Bool) -> CBLAS_TRANSPOSE {
    transpose ? CblasTrans : CblasNoTrans
}

extension Float: TensorScalar {
    public static var typeName: String { "float32" }

    public static func _gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    public static func _gemv(
        transpose: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, blasTranspose(transpose), blasint(m), blasint(n), alpha, a, blasint(lda),
                    x, 1, beta, y, 1)
    }

    public static func _syrk(transpose: Bool, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, beta: Float, c: UnsafeMutablePointer<Float>) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, blasTranspose(transpose), blasint(n), blasint(k), 1, a, blasint(lda),
                    beta, c, blasint(n))
    }

    public static func _syevd(n: Int, a: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>, vectors: Bool) -> Int32 {
        LAPACKE_ssyevd(LAPACK_COL_MAJOR, vectors ? 86 /* V */ : 78 /* N */, 76 /* L */,
                       LapackInt(n), a, LapackInt(n), w)
    }

    public static func _stevd(
        n: Int, d: UnsafeMutablePointer<Float>, e: UnsafeMutablePointer<Float>,
        z: UnsafeMutablePointer<Float>, vectors: Bool
    ) -> Int32 {
        LAPACKE_sstevd(LAPACK_COL_MAJOR, vectors ? 86 : 78, LapackInt(n), d, e, z, LapackInt(max(1, n)))
    }

    public static func _gesddValues(m: Int, n: Int, a: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>) -> Int32 {
        var unusedU: Float = 0, unusedVT: Float = 0
        return LAPACKE_sgesdd(LAPACK_COL_MAJOR, 78, LapackInt(m), LapackInt(n), a, LapackInt(max(1, m)), s,
                              &unusedU, 1, &unusedVT, 1)
    }

    public static func _geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Float>, tau: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, LapackInt(m), LapackInt(n), a, LapackInt(max(1, n)), tau)
    }

    public static func _orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, tau: UnsafePointer<Float>) -> Int32 {
        LAPACKE_sorgqr(LAPACK_ROW_MAJOR, LapackInt(m), LapackInt(n), LapackInt(k), a, LapackInt(max(1, n)), tau)
    }

    public static func _fftwPlanR2R(
        n: Int, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, kind: fftw_r2r_kind
    ) -> OpaquePointer? {
        fftwf_plan_r2r_1d(Int32(n), input, output, kind, fftwPlanningFlags)
    }

    public static func _fftwExecuteR2R(plan: OpaquePointer, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>) {
        fftwf_execute_r2r(plan, input, output)
    }

    public static func _fftwDestroyPlan(_ plan: OpaquePointer) { fftwf_destroy_plan(plan) }
}

extension Double: TensorScalar {
    public static var typeName: String { "float64" }

    public static func _gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor, blasTranspose(transposeA), blasTranspose(transposeB),
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    public static func _gemv(
        transpose: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>
    ) {
        cblas_dgemv(CblasRowMajor, blasTranspose(transpose), blasint(m), blasint(n), alpha, a, blasint(lda),
                    x, 1, beta, y, 1)
    }

    public static func _syrk(transpose: Bool, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int, beta: Double, c: UnsafeMutablePointer<Double>) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, blasTranspose(transpose), blasint(n), blasint(k), 1, a, blasint(lda),
                    beta, c, blasint(n))
    }

    public static func _syevd(n: Int, a: UnsafeMutablePointer<Double>, w: UnsafeMutablePointer<Double>, vectors: Bool) -> Int32 {
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, vectors ? 86 : 78, 76, LapackInt(n), a, LapackInt(n), w)
    }

    public static func _stevd(
        n: Int, d: UnsafeMutablePointer<Double>, e: UnsafeMutablePointer<Double>,
        z: UnsafeMutablePointer<Double>, vectors: Bool
    ) -> Int32 {
        LAPACKE_dstevd(LAPACK_COL_MAJOR, vectors ? 86 : 78, LapackInt(n), d, e, z, LapackInt(max(1, n)))
    }

    public static func _gesddValues(m: Int, n: Int, a: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>) -> Int32 {
        var unusedU: Double = 0, unusedVT: Double = 0
        return LAPACKE_dgesdd(LAPACK_COL_MAJOR, 78, LapackInt(m), LapackInt(n), a, LapackInt(max(1, m)), s,
                              &unusedU, 1, &unusedVT, 1)
    }

    public static func _geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Double>, tau: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, LapackInt(m), LapackInt(n), a, LapackInt(max(1, n)), tau)
    }

    public static func _orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Double>, tau: UnsafePointer<Double>) -> Int32 {
        LAPACKE_dorgqr(LAPACK_ROW_MAJOR, LapackInt(m), LapackInt(n), LapackInt(k), a, LapackInt(max(1, n)), tau)
    }

    public static func _fftwPlanR2R(
        n: Int, input: UnsafeMutablePointer<Double>, output: UnsafeMutablePointer<Double>, kind: fftw_r2r_kind
    ) -> OpaquePointer? {
        fftw_plan_r2r_1d(Int32(n), input, output, kind, fftwPlanningFlags)
    }

    public static func _fftwExecuteR2R(plan: OpaquePointer, input: UnsafeMutablePointer<Double>, output: UnsafeMutablePointer<Double>) {
        fftw_execute_r2r(plan, input, output)
    }

    public static func _fftwDestroyPlan(_ plan: OpaquePointer) { fftw_destroy_plan(plan) }
}
