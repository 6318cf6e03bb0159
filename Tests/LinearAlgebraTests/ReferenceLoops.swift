// Naive reference implementations the native wrappers are tested against. Written for clarity, in Double.
import Foundation
@testable import LinearAlgebra

func naiveMatmul(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
    let m = a.count, k = b.count, n = b.first?.count ?? 0
    var c = Array(repeating: Array(repeating: 0.0, count: n), count: m)
    for i in 0..<m { for j in 0..<n { for l in 0..<k { c[i][j] += a[i][l] * b[l][j] } } }
    return c
}

func naiveTranspose(_ a: [[Double]], columns: Int) -> [[Double]] {
    (0..<columns).map { j in a.map { $0[j] } }
}

func rowsOf<S: TensorScalar>(_ t: Tensor<S>) -> [[Double]] {
    (0..<t.shape[0]).map { i in (0..<t.shape[1]).map { j in Double(t[i, j]) } }
}

/// Cyclic Jacobi rotations: slow, simple and independent of LAPACK. Returns eigenvalues ascending.
func jacobiEigenvalues(_ matrix: [[Double]]) -> [Double] {
    var a = matrix
    let n = a.count
    for _ in 0..<100 {
        var offDiagonal = 0.0
        for i in 0..<n { for j in 0..<n where i != j { offDiagonal += a[i][j] * a[i][j] } }
        if offDiagonal < 1e-22 { break }
        for p in 0..<n {
            for q in (p + 1)..<n where abs(a[p][q]) > 1e-300 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k][p], akq = a[k][q]
                    a[k][p] = c * akp - s * akq
                    a[k][q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p][k], aqk = a[q][k]
                    a[p][k] = c * apk - s * aqk
                    a[q][k] = s * apk + c * aqk
                }
            }
        }
    }
    return (0..<n).map { a[$0][$0] }.sorted()
}

func randomRows(_ rows: Int, _ columns: Int, seed: UInt64) -> [[Double]] {
    var random = SeededRandom(seed: seed)
    return (0..<rows).map { _ in (0..<columns).map { _ in random.gaussian() } }
}

func tensor<S: TensorScalar>(_ rows: [[Double]], columns: Int, as _: S.Type) -> Tensor<S> {
    Tensor<S>(shape: [rows.count, columns], scalars: rows.flatMap { $0.map { S($0) } })
}

/// Relative tolerance for results computed in `S`, scaled by the size of the computation.
func tolerance<S: TensorScalar>(_: S.Type, scale: Double = 1) -> Double {
    (S.self == Float.self ? 2e-5 : 1e-12) * max(1, scale)
}

func maxDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
    zip(a, b).flatMap { zip($0, $1).map { abs($0 - $1) } }.max() ?? 0
}
