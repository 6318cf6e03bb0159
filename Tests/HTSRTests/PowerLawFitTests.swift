import Foundation
import LinearAlgebra
import Testing
@testable import HTSR

@Suite struct PowerLawFitTests {
    /// The reference's check with a known answer: Pareto(alpha = 2.5) quantiles.
    @Test func paretoQuantilesMatchTheReferenceTo1e8() throws {
        let values = (1...1000).map { i in Foundation.pow(1 - (Double(i) - 0.5) / 1000, -1 / 1.5) }.sorted()
        let fit = try PowerLawFit.fit(eigenvalues: values).get()
        #expect(abs(fit.alpha - 2.5012710616) < 1e-8)
        #expect(abs(fit.xmin - 1.0003334723) < 1e-8)
        #expect(abs(fit.d - 0.0006726060) < 1e-8)
        #expect(abs(fit.sigma - 0.0474743594) < 1e-8)
        #expect(fit.xmax == values.last && fit.numPLSpikes == 1000)
    }

    /// The KS scan with early exit must pick exactly what the full O(n^2) scan picks.
    @Test func prunedScanEqualsTheFullScan() throws {
        var random = SeededRandom(seed: 5)
        for trial in 0..<20 {
            let n = 25 + trial * 13
            let values = (0..<n).map { _ in Foundation.exp(2 * random.gaussian()) }.sorted()
            let fit = try PowerLawFit.fit(eigenvalues: values).get()
            // Full scan, written plainly.
            let logs = values.map { Foundation.log($0) }
            var bestD = Double.infinity, bestIndex = 0, bestAlpha = 0.0
            for i in 0..<(n - 1) {
                let m = Double(n - i)
                let alpha = 1 + m / (logs[i...].reduce(0, +) - m * logs[i])
                var d = 1.0
                if alpha > 1 {
                    d = 0
                    for k in 0..<(n - i) {
                        let model: Double = Foundation.pow(values[i + k] / values[i], 1 - alpha)
                        d = max(d, abs(1 - model - Double(k) / m))
                    }
                }
                if d < bestD { (bestD, bestIndex, bestAlpha) = (d, i, alpha) }
            }
            #expect(fit.xmin == values[bestIndex], "trial \(trial)")
            #expect(abs(fit.alpha - bestAlpha) < 1e-10 && abs(fit.d - bestD) < 1e-12, "trial \(trial)")
        }
    }

    /// WeightWatcher 0.7.7's WWFit on the same samples (its numbers, printed by weightwatcher.WW_powerlaw.WWFit):
    /// below 20 points xmin is the argmin of the KS distance over tails of at least 8, with the bias-corrected alpha;
    /// with fewer than 8 points the whole sample is the tail.
    @Test(arguments: [
        ([1.0, 1.1, 1.3, 1.6, 2.0, 2.6, 3.5, 4.8, 7.0, 11.0, 19.0, 40.0], 1.0, 1.6758899244514995, 0.07118507703140908),
        ([0.5, 0.9, 1.2, 1.25, 1.3, 1.4, 1.6, 1.9, 2.5, 3.2, 4.4, 6.0, 9.0, 15.0, 31.0], 1.25, 1.8495400811047151, 0.07487883645662954),
        ([1.0, 1.5, 2.2, 3.9, 8.0], 1.0, 1.8631217204206, 0.09528776843827608),
    ])
    func smallSamplesMatchWeightWatcher(values: [Double], xmin: Double, alpha: Double, d: Double) throws {
        let fit = try PowerLawFit.fit(eigenvalues: values).get()
        #expect(fit.xmin == xmin)
        #expect(abs(fit.alpha - alpha) < 1e-12 && abs(fit.d - d) < 1e-12, "alpha \(fit.alpha), D \(fit.d)")
        #expect(fit.numPLSpikes == values.filter { $0 >= xmin }.count)
    }

    @Test func smallSamplesCanUseThePenalisedObjective() throws {
        // Twelve points: tails shorter than 8 are no candidates, so xmin is one of the five smallest.
        let values = [1.0, 1.1, 1.3, 1.6, 2.0, 2.6, 3.5, 4.8, 7.0, 11.0, 19.0, 40.0]
        let fit = try PowerLawFit.fit(eigenvalues: values, smallSampleRule: .penalisedKSDistance).get()
        #expect(fit.xmin == 2.0, "the penalised objective prefers a longer tail than the smallest D's 1.0")
        let index = try #require(values.firstIndex(of: fit.xmin))
        #expect(index <= values.count - 8)
        // Its alpha is the bias-corrected MLE of its tail, and it minimises D - 0.868 / sqrt(m).
        func objective(_ i: Int) -> (alpha: Double, j: Double) {
            let tail = values[i...], m = Double(tail.count)
            let s = tail.reduce(0) { $0 + Foundation.log($1 / values[i]) }
            let alpha = 1 + (m - 1) / s
            var d = 0.0
            for (k, x) in tail.enumerated() {
                let model: Double = Foundation.pow(x / values[i], 1 - alpha)
                d = max(d, abs(1 - model - Double(k) / m))
            }
            return (alpha, d - 0.868 / m.squareRoot())
        }
        #expect(abs(fit.alpha - objective(index).alpha) < 1e-12)
        for i in 0...(values.count - 8) { #expect(objective(index).j <= objective(i).j) }
    }

    @Test func failures() {
        #expect(PowerLawFit.fit(eigenvalues: [0, 0, 1e-7]) == .failure(.tooFewEigenvalues(0)))
        #expect(PowerLawFit.fit(eigenvalues: [0, 3]) == .failure(.tooFewEigenvalues(1)))
        #expect(PowerLawFit.fit(eigenvalues: [Double](repeating: 2, count: 50)) == .failure(.degenerate))
    }
}

@Suite struct DetXTests {
    @Test func theERGTailOfAConstructedSpectrum() throws {
        // Sum 16, n = 6: rescaled [0.375 x 4, 1.5, 3]. Products from the top: 3, 4.5, 1.6875, then 0.633 < 1 at index 2.
        let eigenvalues = [1.0, 1, 1, 1, 4, 8]
        let detX = try #require(DetX(eigenvalues: eigenvalues, xmin: 2.5))
        #expect(detX.num == 4 && detX.value == 1)
        #expect(abs(detX.delta! - (2.5 - 1) * 6 / 16) < 1e-15)
        #expect(DetX(eigenvalues: eigenvalues, xmin: nil)?.delta == nil)
        // Equal eigenvalues: every product is exactly 1, never below; no tail.
        #expect(DetX(eigenvalues: [2, 2, 2], xmin: nil) == nil)
        // A long spectrum does not overflow: 2000 eigenvalues, one huge.
        let long = (1...1999).map { Double($0) / 1000 } + [1e6]
        let tail = try #require(DetX(eigenvalues: long, xmin: nil))
        #expect(tail.num >= 1 && tail.num < 2000 && tail.value < 1e6)
    }
}

@Suite struct UpperLimitTests {
    var pareto: [Double] { (1...1000).map { pow(1 - (Double($0) - 0.5) / 1000, -1 / 1.5) } }

    @Test func droppingTheTopKIsTheFitWithoutThem() throws {
        let dropped = try PowerLawFit.fit(eigenvalues: pareto, upperLimit: .dropTop(5)).get()
        let direct = try PowerLawFit.fit(eigenvalues: Array(pareto.dropLast(5))).get()
        #expect(dropped.alpha == direct.alpha && dropped.xmin == direct.xmin && dropped.d == direct.d && dropped.xmax == pareto[994])
        // The spikes are still counted over the whole ESD.
        #expect(dropped.numPLSpikes == pareto.filter { $0 >= dropped.xmin }.count)
    }

    @Test func forcingMeasuresTheKSDistanceAgainstTheTruncatedLaw() throws {
        // Quantiles of a power law (alpha 2.5) truncated to [1, 10].
        let (alpha, upper) = (2.5, 10.0)
        let mass = 1 - pow(upper, 1 - alpha)
        let data = (1...1000).map { pow(1 - mass * (Double($0) - 0.5) / 1000, 1 / (1 - alpha)) }
        let forced = try PowerLawFit.fit(eigenvalues: data, upperLimit: .force).get()
        // At the chosen xmin, D is the distance to (1 - (x/xmin)^(1-a)) / (1 - (xmax/xmin)^(1-a)), and the alpha is
        // the untruncated estimate.
        let tail = data.filter { $0 >= forced.xmin }, m = Double(tail.count), a = forced.alpha
        #expect(abs(a - (1 + m / tail.reduce(0) { $0 + log($1 / forced.xmin) })) < 1e-9)
        let normaliser = 1 - pow(tail.last! / forced.xmin, 1 - a)
        let gaps = tail.enumerated().map { k, x in abs((1 - pow(x / forced.xmin, 1 - a)) / normaliser - Double(k) / m) }
        #expect(abs(gaps.max()! - forced.d) < 1e-9)
        // The forced CDF reaches 1 at xmax, so the last point's gap is exactly 1/m.
        #expect(abs(gaps.last! - 1 / m) < 1e-9)
    }
}
