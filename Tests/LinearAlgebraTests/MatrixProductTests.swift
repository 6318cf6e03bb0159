import Testing
@testable import LinearAlgebra

/// Shapes (m, k, n) including vectors, empty and non-square cases.
let productShapes: [(Int, Int, Int)] = [
    (1, 7, 1), (1, 1, 9), (9, 1, 1), (5, 3, 4), (4, 6, 2), (0, 3, 4), (3, 0, 4), (3, 4, 0), (17, 33, 9),
]

@Suite struct MatrixProductTests {
    func checkGemm<S: TensorScalar>(_: S.Type) {
        for (m, k, n) in productShapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    let a = randomRows(m, k, seed: 1), b = randomRows(k, n, seed: 2)
                    let storedA = transposeA ? naiveTranspose(a, columns: k) : a
                    let storedB = transposeB ? naiveTranspose(b, columns: n) : b
                    let ta = tensor(storedA, columns: transposeA ? m : k, as: S.self)
                    let tb = tensor(storedB, columns: transposeB ? k : n, as: S.self)
                    let c = matmul(ta, tb, transposeA: transposeA, transposeB: transposeB)
                    #expect(c.shape == [m, n])
                    let expected = naiveMatmul(a, b)
                    let error = m > 0 && n > 0 ? maxDifference(rowsOf(c), expected) : 0
                    #expect(error <= tolerance(S.self, scale: Double(k)) * 10,
                            "gemm \(S.self) m=\(m) k=\(k) n=\(n) tA=\(transposeA) tB=\(transposeB): \(error)")
                }
            }
        }
    }

    @Test func gemmFloat() { checkGemm(Float.self) }
    @Test func gemmDouble() { checkGemm(Double.self) }

    @Test func gemmAccumulatesWithAlphaAndBeta() {
        let a = Tensor<Double>(rows: [[1, 2], [3, 4]])
        var c = Tensor<Double>(rows: [[1, 1], [1, 1]])
        gemm(alpha: 2, a, a, beta: 3, into: &c)
        // a*a = [[7, 10], [15, 22]]
        #expect(c == Tensor(rows: [[17, 23], [33, 47]]))
        var empty = Tensor<Double>(rows: [[1, 2], [3, 4]])
        gemm(alpha: 1, Tensor(zeros: [2, 0]), Tensor(zeros: [0, 2]), beta: 0.5, into: &empty)
        #expect(empty == Tensor(rows: [[0.5, 1], [1.5, 2]]))
    }

    /// Each matrix of a batch is its own product, on both paths: small ones spread over workers, large ones each
    /// over BLAS's threads; a transposed operand is read in place.
    @Test(arguments: [(2, 3, 4, 5), (3, 150, 130, 120)])
    func batchedGemmIsEveryMatrixsProduct(batch: Int, m: Int, k: Int, n: Int) {
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            let matricesA = (0..<batch).map { randomRows(m, k, seed: UInt64(10 + $0)) }
            let matricesB = (0..<batch).map { randomRows(k, n, seed: UInt64(20 + $0)) }
            let storedA = matricesA.flatMap { (transposeA ? naiveTranspose($0, columns: k) : $0).flatMap { $0 } }
            let storedB = matricesB.flatMap { (transposeB ? naiveTranspose($0, columns: n) : $0).flatMap { $0 } }
            let a = Tensor<Double>(shape: [1, batch] + (transposeA ? [k, m] : [m, k]), scalars: storedA)
            let b = Tensor<Double>(shape: [1, batch] + (transposeB ? [n, k] : [k, n]), scalars: storedB)
            var c = Tensor<Double>(repeating: 1, shape: [1, batch, m, n])
            gemm(alpha: 2, a, transposeA: transposeA, b, transposeB: transposeB, beta: -1, into: &c)
            let expected = (0..<batch).flatMap { naiveMatmul(matricesA[$0], matricesB[$0]).flatMap { $0 }.map { 2 * $0 - 1 } }
            #expect(matmul(a, b, transposeA: transposeA, transposeB: transposeB).shape == [1, batch, m, n])
            #expect(zip(c.scalars, expected).map { abs($0 - $1) }.max()! <= 1e-12 * Double(k),
                    "batch \(batch) of \(m)x\(k)x\(n), tA=\(transposeA) tB=\(transposeB)")
        }
    }

    func checkGemv<S: TensorScalar>(_: S.Type) {
        let shapes: [(Int, Int)] = [(1, 8), (8, 1), (5, 3), (0, 3), (3, 0), (13, 21)]
        for (m, n) in shapes {
            let a = randomRows(m, n, seed: 3)
            let ta = tensor(a, columns: n, as: S.self)
            for transpose in [false, true] {
                let length = transpose ? m : n
                let x = randomRows(1, length, seed: 4)[0]
                let y = matvec(ta, Tensor<S>(x.map { S($0) }), transpose: transpose)
                let product = naiveMatmul(transpose ? [x] : a, transpose ? a : x.map { [$0] }).flatMap { $0 }
                // An empty inner dimension gives zeros, which the naive product cannot size.
                let expected = length == 0 ? [Double](repeating: 0, count: transpose ? n : m) : product
                #expect(y.shape == [expected.count])
                let error = zip(y.scalars, expected).map { abs(Double($0) - $1) }.max() ?? 0
                #expect(error <= tolerance(S.self, scale: Double(length)) * 10, "gemv \(S.self) \(m)x\(n) t=\(transpose)")
            }
        }
    }

    @Test func gemvFloat() { checkGemv(Float.self) }
    @Test func gemvDouble() { checkGemv(Double.self) }

    func checkSmallerGram<S: TensorScalar>(_: S.Type) {
        let shapes: [(Int, Int)] = [(7, 3), (3, 7), (5, 5), (1, 4), (4, 1), (0, 3)]
        for (m, n) in shapes {
            let a = randomRows(m, n, seed: 8)
            let gram = smallerGram(tensor(a, columns: n, as: S.self))
            let expected = m >= n ? naiveMatmul(naiveTranspose(a, columns: n), a) : naiveMatmul(a, naiveTranspose(a, columns: n))
            #expect(gram.shape == [min(m, n), min(m, n)])
            // The upper triangle is the contract.
            for i in 0..<min(m, n) {
                for j in i..<min(m, n) {
                    #expect(abs(Double(gram[i, j]) - expected[i][j]) <= tolerance(S.self, scale: Double(max(m, n))) * 10)
                }
            }
        }
    }

    @Test func accumulatedGramEqualsTheWholeGram() {
        let a = randomRows(23, 6, seed: 12)
        let whole = smallerGram(tensor(a, columns: 6, as: Double.self))
        var accumulated = Tensor<Double>(zeros: [6, 6])
        for start in stride(from: 0, to: 23, by: 5) {
            accumulateGram(rows: tensor(Array(a[start..<min(start + 5, 23)]), columns: 6, as: Double.self), into: &accumulated)
        }
        for i in 0..<6 { for j in i..<6 { #expect(abs(accumulated[i, j] - whole[i, j]) < 1e-12) } }
    }

    @Test func smallerGramFloat() { checkSmallerGram(Float.self) }
    @Test func smallerGramDouble() { checkSmallerGram(Double.self) }
}
