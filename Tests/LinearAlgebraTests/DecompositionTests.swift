import Foundation
import Testing
@testable import LinearAlgebra

@Suite struct DecompositionTests {
    func symmetric(_ n: Int, seed: UInt64) -> [[Double]] {
        let a = randomRows(n, n, seed: seed)
        return (0..<n).map { i in (0..<n).map { j in (a[i][j] + a[j][i]) / 2 } }
    }

    func checkSymmetricEigen<S: TensorScalar>(_: S.Type) throws {
        for n in [0, 1, 2, 7, 30] {
            let a = symmetric(n, seed: UInt64(n))
            let result = try symmetricEigen(tensor(a, columns: n, as: S.self))
            let expected = jacobiEigenvalues(a)
            #expect(result.values.count == n)
            for (value, reference) in zip(result.values, expected) {
                #expect(abs(Double(value) - reference) <= tolerance(S.self, scale: Double(n)) * 10)
            }
            // Each row is a unit eigenvector: A v = lambda v.
            let vectors = try #require(result.vectors)
            for i in 0..<n {
                let v = vectors.row(i).map(Double.init)
                let av = (0..<n).map { r in (0..<n).reduce(0.0) { $0 + a[r][$1] * v[$1] } }
                let residual = zip(av, v).map { abs($0 - Double(result.values[i]) * $1) }.max() ?? 0
                #expect(residual <= tolerance(S.self, scale: Double(n)) * 20, "eigenpair \(i) of \(n): \(residual)")
            }
            let gram = rowsOf(matmul(vectors, vectors, transposeB: true))
            #expect(maxDifference(gram, rowsOf(Tensor<Double>.identity(n))) <= tolerance(S.self, scale: Double(n)) * 10)
        }
    }

    @Test func symmetricEigenFloat() throws { try checkSymmetricEigen(Float.self) }
    @Test func symmetricEigenDouble() throws { try checkSymmetricEigen(Double.self) }

    @Test func symmetricEigenValuesOnly() throws {
        let result = try symmetricEigen(Tensor<Double>(rows: [[2, 1], [1, 2]]), computeVectors: false)
        #expect(result.vectors == nil)
        #expect(abs(result.values[0] - 1) < 1e-14 && abs(result.values[1] - 3) < 1e-14)
    }

    func checkTridiagonal<S: TensorScalar>(_: S.Type) throws {
        // The path-graph Laplacian tridiag(-1, 2, -1) of order n has eigenvalues 2 - 2 cos(k pi / (n + 1)).
        for n in [1, 2, 5, 40] {
            let result = try tridiagonalEigen(
                diagonal: [S](repeating: 2, count: n), offDiagonal: [S](repeating: -1, count: n - 1))
            for (k, value) in result.values.enumerated() {
                let exact = 2 - 2 * cos(Double(k + 1) * .pi / Double(n + 1))
                #expect(abs(Double(value) - exact) <= tolerance(S.self, scale: Double(n)) * 10)
            }
            let vectors = try #require(result.vectors)
            let gram = rowsOf(matmul(vectors, vectors, transposeB: true))
            #expect(maxDifference(gram, rowsOf(Tensor<Double>.identity(n))) <= tolerance(S.self, scale: Double(n)) * 10,
                    "tridiagonal eigenvectors of order \(n) are not orthonormal")
        }
        // A random tridiagonal matrix against Jacobi on its dense form, and T v = theta v for every pair.
        let n = 12
        let random = randomRows(2, n, seed: 9)
        let diagonal = random[0], off = Array(random[1].prefix(n - 1))
        var dense = Array(repeating: Array(repeating: 0.0, count: n), count: n)
        for i in 0..<n { dense[i][i] = diagonal[i] }
        for i in 0..<(n - 1) { dense[i][i + 1] = off[i]; dense[i + 1][i] = off[i] }
        let result = try tridiagonalEigen(diagonal: diagonal.map { S($0) }, offDiagonal: off.map { S($0) })
        for (value, reference) in zip(result.values, jacobiEigenvalues(dense)) {
            #expect(abs(Double(value) - reference) <= tolerance(S.self, scale: Double(n)) * 10)
        }
        let vectors = try #require(result.vectors)
        for i in 0..<n {
            let v = vectors.row(i).map(Double.init)
            let tv = (0..<n).map { r in (0..<n).reduce(0.0) { $0 + dense[r][$1] * v[$1] } }
            let residual = zip(tv, v).map { abs($0 - Double(result.values[i]) * $1) }.max() ?? 0
            #expect(residual <= tolerance(S.self, scale: Double(n)) * 20)
        }
    }

    @Test func tridiagonalFloat() throws { try checkTridiagonal(Float.self) }
    @Test func tridiagonalDouble() throws { try checkTridiagonal(Double.self) }

    @Test func tridiagonalEmpty() throws {
        let result = try tridiagonalEigen(diagonal: [Double](), offDiagonal: [])
        #expect(result.values.isEmpty)
    }

    func checkSingularValues<S: TensorScalar>(_: S.Type) throws {
        for (m, n) in [(1, 6), (6, 1), (4, 7), (9, 3), (0, 4), (4, 0), (20, 20)] {
            let a = randomRows(m, n, seed: UInt64(m * 31 + n))
            let values = try singularValues(tensor(a, columns: n, as: S.self))
            #expect(values.count == min(m, n))
            // Reference: square roots of the eigenvalues of the smaller Gram matrix, by Jacobi.
            let gram = m <= n ? naiveMatmul(a, naiveTranspose(a, columns: n)) : naiveMatmul(naiveTranspose(a, columns: n), a)
            let expected = jacobiEigenvalues(gram).reversed().map { max(0, $0).squareRoot() }
            for (value, reference) in zip(values, expected) {
                #expect(abs(Double(value) - reference) <= tolerance(S.self, scale: Double(max(m, n))) * 10,
                        "singular values of \(m)x\(n) \(S.self)")
            }
            #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 }, "singular values are not descending")
        }
    }

    @Test func singularValuesFloat() throws { try checkSingularValues(Float.self) }
    @Test func singularValuesDouble() throws { try checkSingularValues(Double.self) }

    func checkQR<S: TensorScalar>(_: S.Type) throws {
        for (m, n) in [(1, 5), (5, 1), (6, 4), (4, 6), (7, 7), (0, 3), (3, 0)] {
            let a = randomRows(m, n, seed: UInt64(m * 7 + n))
            let result = try qr(tensor(a, columns: n, as: S.self))
            let k = min(m, n)
            #expect(result.q.shape == [m, k] && result.r.shape == [k, n])
            guard k > 0 else { continue }
            #expect(maxDifference(rowsOf(matmul(result.q, result.r)), a) <= tolerance(S.self, scale: Double(n)) * 10)
            let gram = rowsOf(matmul(result.q, result.q, transposeA: true))
            #expect(maxDifference(gram, rowsOf(Tensor<Double>.identity(k))) <= tolerance(S.self, scale: Double(m)) * 10)
            for i in 0..<k { for j in 0..<min(i, n) { #expect(result.r[i, j] == 0, "R is not upper triangular") } }
        }
    }

    @Test func qrFloat() throws { try checkQR(Float.self) }
    @Test func qrDouble() throws { try checkQR(Double.self) }
}

@Suite struct OrthogonalisationTests {
    /// Orthonormal vectors over more coordinates than one chunk holds, and a vector to make orthogonal to them.
    func vectors(_ n: Int, _ m: Int) -> ([Tensor<Double>], Tensor<Double>) {
        var random = SeededRandom(seed: 11)
        var basis: [Tensor<Double>] = []
        for _ in 0..<m {
            var v = Tensor<Double>.gaussian(shape: [n], using: &random)
            for _ in 0..<2 { for u in basis { v.addScaled(u, by: -u.dot(v)) } }
            basis.append(v * (1 / v.norm()))
        }
        return (basis, Tensor<Double>.gaussian(shape: [n], using: &random))
    }

    @Test func classicalGramSchmidtTwiceMatchesModifiedGramSchmidtTwice() {
        let (basis, v) = vectors(3 * Tensor<Double>.projectionChunk + 17, 6)
        var classical = v, modified = v
        classical.subtractProjections(on: basis)
        for _ in 0..<2 { for u in basis { modified.addScaled(u, by: -u.dot(modified)) } }
        #expect((classical - modified).maxAbsolute() < 1e-12 * v.norm())
        for u in basis { #expect(abs(u.dot(classical)) < 1e-12 * v.norm()) }
    }

    @Test func projectionsOnAFloatBasisAreThoseOnItsValuesInDouble() {
        // The basis rounded to Float and widened back is what the Float overload must project on, exactly as the
        // Double overload would (the same chunked sums of the same products), and addScaled must widen the same way.
        let (basis, v) = vectors(3 * Tensor<Double>.projectionChunk + 17, 6)
        let floats = basis.map { $0.converted(to: Float.self) }
        var fromFloat = v, fromWidened = v
        fromFloat.subtractProjections(on: floats)
        fromWidened.subtractProjections(on: floats.map { $0.converted(to: Double.self) })
        #expect(fromFloat.scalars == fromWidened.scalars)
        var sum = v, widened = v
        sum.addScaled(floats[0], by: -0.3)
        widened.addScaled(floats[0].converted(to: Double.self), by: -0.3)
        #expect(sum.scalars == widened.scalars)
        #expect((sum - v).maxAbsolute() > 0)
    }

    @Test func theResultDoesNotDependOnTheThreadCount() {
        let (basis, v) = vectors(5 * Tensor<Double>.projectionChunk + 3, 4)
        var one = v, two = v
        BLASThreads.with(1) { one.subtractProjections(on: basis) }
        BLASThreads.with(2) { two.subtractProjections(on: basis) }
        #expect(one.scalars == two.scalars)
    }

    /// The Lanczos step's chunked kernels against plain loops, on both basis precisions, and with the same bits on
    /// one thread and two: a combination subtracted with its norm, one projection pass with its norm, an inner
    /// product, and several combinations in one pass.
    @Test func chunkedLanczosKernelsMatchPlainLoopsOnAnyThreadCount() {
        let (basis, v) = vectors(5 * Tensor<Double>.projectionChunk + 3, 4)
        let floats = basis.map { $0.converted(to: Float.self) }
        let coefficients = [0.5, 0, -2, 1.25]
        var expected = v
        for (u, c) in zip(floats, coefficients) { expected.addScaled(u, by: -c) }
        func kernels() -> [[Double]] {
            var combined = v, projected = v
            let combinedNorm = combined.subtract(coefficients, of: floats)
            let projectedNorm = projected.subtractProjections(on: basis, passes: 1)
            let rows = Tensor<Double>.combinations([coefficients, [1, 1, 1, 1]], of: floats)
            return [combined.scalars, [combinedNorm, projectedNorm, v.chunkedDot(basis[0])], projected.scalars] + rows.map(\.scalars)
        }
        let one = BLASThreads.with(1) { kernels() }, two = BLASThreads.with(2) { kernels() }
        #expect(one == two)
        let norm = v.norm()
        #expect((Tensor(one[0]) - expected).maxAbsolute() < 1e-14 * norm)
        #expect(abs(one[1][0] - expected.norm()) < 1e-13 * norm)
        var once = v
        for u in basis { once.addScaled(u, by: -u.dot(v)) }  // classical: every coefficient from the same v
        #expect((Tensor(one[2]) - once).maxAbsolute() < 1e-13 * norm)
        #expect(abs(one[1][1] - once.norm()) < 1e-13 * norm)
        #expect(abs(one[1][2] - v.dot(basis[0])) < 1e-13 * norm)
        #expect((Tensor(one[3]) - (v - expected)).maxAbsolute() < 1e-14 * norm)
        let sum = floats.dropFirst().reduce(floats[0].converted(to: Double.self)) { $0 + $1.converted(to: Double.self) }
        #expect((Tensor(one[4]) - sum).maxAbsolute() < 1e-14 * norm)
    }
}
