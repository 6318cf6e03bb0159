import Foundation
import LinearAlgebra
import Testing
@testable import HTSR

/// A rows x columns matrix with the given singular values: U diag(s) V^T from QR factors of Gaussian matrices.
func matrix(rows: Int, columns: Int, singularValues s: [Double], seed: UInt64) throws -> Tensor<Double> {
    var random = SeededRandom(seed: seed)
    let k = s.count
    let u = try qr(Tensor<Double>.gaussian(shape: [rows, k], using: &random)).q
    let v = try qr(Tensor<Double>.gaussian(shape: [columns, k], using: &random)).q
    var scaled = u
    for i in 0..<rows { for j in 0..<k { scaled[i, j] *= s[j] } }
    return matmul(scaled, v, transposeB: true)
}

@Suite struct SpectrumTests {
    @Test(arguments: [ESDMethod.gram, .svd])
    func knownSpectra(method: ESDMethod) throws {
        let s = (1...12).map { 1 / Double($0) + 0.2 }
        for (rows, columns) in [(40, 12), (12, 40)] {
            let w = try matrix(rows: rows, columns: columns, singularValues: s, seed: 3)
            let esd = try EmpiricalSpectralDensity(matrices: [w], scale: 1, method: method)
            let expected = s.map { $0 * $0 }.sorted()
            for (value, truth) in zip(esd.eigenvalues, expected) { #expect(abs(value - truth) < 1e-12) }
            #expect(abs(esd.svMax - s.max()!) < 1e-12 && abs(esd.svMin - s.min()!) < 1e-12)
            #expect(esd.rankLoss == 0)
        }
    }

    @Test func gramAndSVDRoutesAgreeOnRandomMatrices() throws {
        var random = SeededRandom(seed: 9)
        for (rows, columns) in [(64, 16), (30, 50), (33, 33)] {
            let w = Tensor<Double>.gaussian(shape: [rows, columns], using: &random)
            let gram = try EmpiricalSpectralDensity(matrices: [w], scale: 1, method: .gram)
            let svd = try EmpiricalSpectralDensity(matrices: [w], scale: 1, method: .svd)
            #expect(gram.method == .gram)
            let top = svd.eigenvalues.last!
            for (a, b) in zip(gram.eigenvalues, svd.eigenvalues) { #expect(abs(a - b) <= 1e-13 * top) }
            #expect(abs(gram.svMin - svd.svMin) <= 1e-10 * svd.svMax)
        }
    }

    @Test func rankDeficientMatricesFallBackToSVDForExactRank() throws {
        // Rank 5 of 20: the Gram route's rounding would hide the zeros, so it must switch to SVD.
        let w = try matrix(rows: 60, columns: 20, singularValues: [5, 4, 3, 2, 1], seed: 4)
        let esd = try EmpiricalSpectralDensity(matrices: [w], scale: 1)
        #expect(esd.method == .svd)
        #expect(esd.rankLoss == 15)
        #expect(esd.eigenvalues.filter { $0 > 1e-20 }.count == 5)
    }

    @Test func normMetricsFollowTheirFormulas() throws {
        let s = (1...30).map { Foundation.pow(Double($0), 0.8) }
        let w = try matrix(rows: 90, columns: 30, singularValues: s, seed: 6)
        let layer = HTSRLayer(layerID: 1, name: "w", tensorName: "w.weight", kind: .dense, n: 90, m: 30, rf: 1)
        let esd = try EmpiricalSpectralDensity(matrices: [w], scale: 1)
        let fit = PowerLawFit.fit(eigenvalues: esd.eigenvalues)
        let row = LayerReport(layer: layer, esd: esd, fit: fit, options: HTSROptions())
        let lambda = s.map { $0 * $0 }
        let norm = lambda.reduce(0, +), top = lambda.max()!
        #expect(abs(row.norm - norm) < 1e-9 * norm && abs(row.lambdaMax - top) < 1e-9 * top)
        #expect(abs(row.logNorm - log10(norm)) < 1e-12 && abs(row.stableRank - norm / top) < 1e-9)
        #expect(row.matrixRank == 30 && row.rankLoss == 0 && row.weakRankLoss == 0)
        let alpha = try #require(row.alpha)
        #expect(abs(row.alphaWeighted! - alpha * log10(top)) < 1e-12)
        #expect(abs(row.logAlphaNorm! - log10(lambda.reduce(0) { $0 + Foundation.pow($1, alpha) })) < 1e-9)
        let p = lambda.map { $0 / norm + 1e-10 }
        #expect(abs(row.entropy - (-p.reduce(0) { $0 + $1 * Foundation.log($1) } / Foundation.log(30 + 1e-10))) < 1e-9)
        #expect(row.q == 3 && row.status == "success" && row.numEvals == 30)
    }
}
