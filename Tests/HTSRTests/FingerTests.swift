import Foundation
import LinearAlgebra
import Testing
@testable import HTSR

@Suite struct FingerTests {
    /// A trained layer's ESD in miniature: the eigenvalues of a seeded 600 x 300 Gaussian matrix's W^T W / 600 (a
    /// Marchenko-Pastur bulk) with 20 Pareto (alpha 2.5) eigenvalues above its edge; then 8 planted fingers, a tight
    /// cluster at 4x the largest.
    static let spectra: (bulk: [Double], withFingers: [Double]) = {
        var random = SeededRandom(seed: 11)
        let w = Tensor<Double>(shape: [600, 300], scalars: (0..<180_000).map { _ in random.gaussian() })
        let marchenkoPastur = try! symmetricEigen(matmul(w, w, transposeA: true), computeVectors: false).values.map { $0 / 600 }
        let edge = marchenkoPastur.max()!
        let bulk = (marchenkoPastur + (0..<20).map { _ in edge * pow(1 - random.uniformDouble(), -1 / 1.5) }).sorted()
        let fingers = (1...8).map { 4 * bulk.last! * pow(1 - (Double($0) - 0.5) / 8, -1 / 199) }
        return (bulk, bulk + fingers)
    }()

    @Test func clipXmaxLeavesOutPlantedFingersAndRecoversTheBulkAlpha() throws {
        let (bulk, withFingers) = Self.spectra
        // The plain fit is captured by the cluster: a tiny tail with a spurious alpha.
        let raw = try PowerLawFit.fit(eigenvalues: withFingers).get()
        #expect(raw.alpha > 20 && raw.numPLSpikes == 8, "raw alpha \(raw.alpha) over \(raw.numPLSpikes)")
        let expected = try PowerLawFit.fit(eigenvalues: bulk).get()
        #expect(expected.alpha > 2 && expected.alpha < 4)
        let clipped = try PowerLawFit.fit(eigenvalues: withFingers, fixFingers: .clipXmax).get()
        #expect(clipped.numFingers == 8 && clipped.rawAlpha == raw.alpha)
        #expect(clipped.alpha == expected.alpha && clipped.xmin == expected.xmin && clipped.d == expected.d)
        // The fingers still count as spikes above xmin.
        #expect(clipped.numPLSpikes == expected.numPLSpikes + 8)
    }

    @Test func clipXmaxKeepsAFitThatHasNoFingers() throws {
        let pareto = (1...1000).map { pow(1 - (Double($0) - 0.5) / 1000, -1 / 1.5) }
        let plain = try PowerLawFit.fit(eigenvalues: pareto).get()
        let clipped = try PowerLawFit.fit(eigenvalues: pareto, fixFingers: .clipXmax).get()
        #expect(clipped.numFingers == 0 && clipped.rawAlpha == plain.alpha && clipped.alpha == plain.alpha)
        #expect(plain.numFingers == nil && plain.rawAlpha == nil)
    }

    /// 100 bins of log10 x over [1, 100]: a mode planted in bin 40 (x near 10^0.8) puts the window at
    /// [0.95, 1.5] x 10^0.8, and the fit's xmin inside it.
    @Test func xminPeakSearchesNearTheESDsMode() throws {
        let spread = (0...200).map { pow(10, 2 * Double($0) / 200) }
        let mode = (0..<300).map { pow(10, 0.8 + 0.019 * Double($0) / 300) }
        let data = (spread + mode).sorted()
        let window = try #require(PowerLawFit.peakRange(data))
        #expect(abs(window.lowerBound - 0.95 * pow(10, 0.8)) < 1e-9 && abs(window.upperBound - 1.5 * pow(10, 0.8)) < 1e-9)
        for distribution in [PowerLawFit.Distribution.powerLaw, .truncatedPowerLaw] {
            let fit = try PowerLawFit.fit(eigenvalues: data, distribution: distribution, fixFingers: .xminPeak).get()
            #expect(window.contains(fit.xmin), "\(distribution) xmin \(fit.xmin)")
        }
        let extended = try PowerLawFit.fit(eigenvalues: data, distribution: .extendedTruncatedPowerLaw).get()
        let peaked = try PowerLawFit.fit(eigenvalues: data, distribution: .truncatedPowerLaw, fixFingers: .xminPeak).get()
        #expect(extended == peaked && extended.lambda != nil)
    }
}
