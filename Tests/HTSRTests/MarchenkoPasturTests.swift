import Foundation
import LinearAlgebra
import Testing
@testable import HTSR

@Suite struct MarchenkoPasturTests {
    static func gaussian(_ rows: Int, _ columns: Int, standardDeviation: Double, seed: UInt64) -> Tensor<Double> {
        var random = SeededRandom(seed: seed)
        return Tensor(shape: [rows, columns], scalars: (0..<(rows * columns)).map { _ in standardDeviation * random.gaussian() })
    }

    static func eigenvalues(_ w: Tensor<Double>) -> [Double] {
        try! symmetricEigen(matmul(w, w, transposeA: true), computeVectors: false).values.sorted()
    }

    /// Unit-variance Marchenko-Pastur has mean 1 and variance 1/Q: the quantiles at fine plotting positions do too.
    @Test(arguments: [1.0, 2.0, 8.0])
    func quantilesHaveTheLawsMeanAndVariance(q: Double) {
        let levels = (0..<20_000).map { (Double($0) + 0.5) / 20_000 }
        let x = MarchenkoPasturLaw(q: q).quantiles(levels)
        let mean = x.reduce(0, +) / 20_000
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20_000
        #expect(abs(mean - 1) < 1e-3 && abs(variance - 1 / q) < 2e-3, "mean \(mean), variance \(variance)")
        #expect(x.first! >= pow(1 - 1 / q.squareRoot(), 2) - 1e-12 && x.last! <= pow(1 + 1 / q.squareRoot(), 2) + 1e-12)
    }

    /// A 400 x 200 Gaussian matrix with entries of standard deviation 0.05: sigma_mp is 1 in the rescaled units, the
    /// fitted Q is 2, the entries' standard deviation comes back as sigma_mp / (W_scale sqrt(N)), and nothing is a spike.
    @Test(arguments: [(400, 200, 2.0), (300, 300, 1.0), (800, 100, 8.0)])
    func aRandomGaussianMatrixGivesBackSigmaAndQ(rows: Int, columns: Int, q: Double) throws {
        let evals = Self.eigenvalues(Self.gaussian(rows, columns, standardDeviation: 0.05, seed: 5))
        let fit = try #require(MarchenkoPasturFit(eigenvalues: evals, m: columns))
        #expect(abs(fit.sigma - 1) < 0.02, "sigma_mp \(fit.sigma)")
        #expect(abs(fit.q - q) < 0.06 * q, "mp_q \(fit.q)")
        let entries = fit.sigma / (fit.scale * Double(rows).squareRoot())
        #expect(abs(entries - 0.05) < 0.001, "entry standard deviation \(entries)")
        #expect(fit.numSpikes == 0)
        // The edges are in the eigenvalues' units: sigma_mp^2 (1 + Q^-1/2)^2 / W_scale^2.
        #expect(abs(fit.bulkMax * fit.scale * fit.scale - pow(1 + 1 / q.squareRoot(), 2)) < 0.1 && fit.softRank > 0.9)
        #expect(abs(fit.bulkMax / (Double(rows) * 0.0025 * pow(1 + 1 / q.squareRoot(), 2)) - 1) < 0.05)
    }

    /// Three planted directions far above the bulk are the spikes, and they move neither sigma nor Q.
    @Test func plantedSpikesAreCountedAndDoNotMoveTheBulk() throws {
        let noise = Self.gaussian(400, 200, standardDeviation: 0.05, seed: 9)
        var random = SeededRandom(seed: 10)
        var signal = Tensor<Double>(zeros: [400, 200])
        for strength in [4.0, 6.0, 9.0] {
            let u = Tensor<Double>(shape: [400, 1], scalars: (0..<400).map { _ in random.gaussian() / 20 })
            let v = Tensor<Double>(shape: [1, 200], scalars: (0..<200).map { _ in random.gaussian() / 200.squareRoot() })
            signal = signal + matmul(u, v) * strength
        }
        let clean = try #require(MarchenkoPasturFit(eigenvalues: Self.eigenvalues(noise), m: 200))
        let spiked = try #require(MarchenkoPasturFit(eigenvalues: Self.eigenvalues(noise + signal), m: 200))
        #expect(spiked.numSpikes == 3)
        // Sigma is in units rescaled by the mean eigenvalue, which the spikes raise: compare in the original units.
        let original = { (fit: MarchenkoPasturFit) in fit.sigma / fit.scale }
        #expect(abs(original(spiked) / original(clean) - 1) < 0.03 && abs(spiked.q / clean.q - 1) < 0.05)
        #expect(spiked.softRank < 0.5)
    }

    @Test func tooFewEigenvaluesHaveNoFit() {
        #expect(MarchenkoPasturFit(eigenvalues: [1, 2, 3], m: 3) == nil)
        #expect(MarchenkoPasturFit(eigenvalues: [Double](repeating: 0, count: 50), m: 50) == nil)
    }
}
