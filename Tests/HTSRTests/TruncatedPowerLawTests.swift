import Foundation
import LinearAlgebra
import Testing
@testable import HTSR

@Suite struct TruncatedPowerLawTests {
    /// A seeded sample of `x^(-alpha) e^(-Lambda x)` on [xmin, inf): Pareto proposals, accepted with
    /// probability `e^(-Lambda (x - xmin))`.
    static func sample(alpha: Double, lambda: Double, xmin: Double, count: Int, seed: UInt64) -> [Double] {
        var random = SeededRandom(seed: seed)
        var values: [Double] = []
        while values.count < count {
            let x = xmin * pow(1 - Double.random(in: 0..<1, using: &random), -1 / (alpha - 1))
            if Double.random(in: 0..<1, using: &random) < exp(-lambda * (x - xmin)) { values.append(x) }
        }
        return values.sorted()
    }

    @Test(arguments: [(2.5, 0.05, UInt64(1)), (1.8, 0.5, 2), (3.2, 0.01, 3)])
    func aSeededSampleGivesBackAlphaAndLambdaWithinThreeStandardErrors(alpha: Double, lambda: Double, seed: UInt64) throws {
        let data = Self.sample(alpha: alpha, lambda: lambda, xmin: 2, count: 4000, seed: seed)
        // At the known xmin, and as the scan over candidates chooses it (a longer path to the same law).
        let fitted = TruncatedPowerLaw.fit(tail: data[...])
        let known = try #require(fitted, "no fit at the known xmin")
        #expect(abs(known.alpha - alpha) < 3 * known.alphaError, "alpha \(known.alpha) +- \(known.alphaError)")
        #expect(abs(known.lambda - lambda) < 3 * known.lambdaError, "Lambda \(known.lambda) +- \(known.lambdaError)")
        #expect(known.alphaError > 0 && known.alphaError.isFinite && known.lambdaError > 0 && known.lambdaError.isFinite)
        let scanned = try PowerLawFit.fit(eigenvalues: data, distribution: .truncatedPowerLaw).get()
        let law = try #require(TruncatedPowerLaw.fit(tail: data[data.firstIndex(of: scanned.xmin)!...]))
        // The scan starts each fit from the previous candidate's answer: the same maximum to the solver's tolerance.
        let same = abs(scanned.alpha - law.alpha) < 1e-8 && abs(scanned.lambda! - law.lambda) < 1e-8 * lambda
            && abs(scanned.sigma - law.alphaError) < 1e-8
        #expect(same, "scan \(scanned.alpha), \(scanned.lambda!); direct \(law.alpha), \(law.lambda)")
        let recovered = abs(scanned.alpha - alpha) < 3 * law.alphaError && abs(scanned.lambda! - lambda) < 3 * law.lambdaError
        #expect(recovered, "alpha \(scanned.alpha) +- \(law.alphaError), Lambda \(scanned.lambda!) +- \(law.lambdaError) at xmin \(scanned.xmin)")
    }

    /// At the maximum the model's means of ln x and x equal the sample's (the likelihood equations of an
    /// exponential family), checked by integrating the fitted density independently with the trapezoid rule.
    @Test func theFitSolvesTheLikelihoodEquations() throws {
        let data = Self.sample(alpha: 2.2, lambda: 0.2, xmin: 1, count: 2000, seed: 7)
        let law = try #require(TruncatedPowerLaw.fit(tail: data[...]))
        let steps = 400_000, top = 200.0
        var z = 0.0, meanLog = 0.0, mean = 0.0
        for k in 0...steps {
            let u = top * Double(k) / Double(steps), x = law.xmin * exp(u)
            let w = (k == 0 || k == steps ? 0.5 : 1) * pow(x, 1 - law.alpha) * exp(-law.lambda * x)
            z += w
            meanLog += w * log(x)
            mean += w * x
        }
        #expect(abs(meanLog / z - data.reduce(0) { $0 + log($1) } / 2000) < 1e-6)
        #expect(abs(mean / z - data.reduce(0, +) / 2000) < 1e-6 * mean / z)
    }

    /// alpha = 0 is the shifted exponential law and alpha = -1 a gamma law: closed-form CDFs.
    @Test func theCDFMatchesClosedForms() {
        let xs = [1.0, 1.01, 1.5, 2, 4, 9, 30][...]
        let exponential = TruncatedPowerLaw(alpha: 0, lambda: 0.7, xmin: 1, alphaError: 0, lambdaError: 0)
        for (x, f) in zip(xs, exponential.cdf(xs)) { #expect(abs(f - (1 - exp(-0.7 * (x - 1)))) < 1e-12) }
        let gamma = TruncatedPowerLaw(alpha: -1, lambda: 0.4, xmin: 1, alphaError: 0, lambdaError: 0)
        func survival(_ x: Double) -> Double { exp(-0.4 * x) * (1 + 0.4 * x) }
        for (x, f) in zip(xs, gamma.cdf(xs)) { #expect(abs(f - (1 - survival(x) / survival(1))) < 1e-12) }
        // A power law with a tiny cut-off is the power law, 1 - x^(1 - alpha), to first order in Lambda.
        let nearlyPure = TruncatedPowerLaw(alpha: 2.5, lambda: 1e-9, xmin: 1, alphaError: 0, lambdaError: 0)
        for (x, f) in zip(xs, nearlyPure.cdf(xs)) { #expect(abs(f - (1 - pow(x, -1.5))) < 1e-7) }
    }

    /// Pareto quantiles have no cut-off: Lambda is within two standard errors of 0 and alpha near the power law's.
    /// With one far eigenvalue added the sample mean exceeds what any cut-off allows, and the maximum is on the
    /// boundary Lambda = 0: exactly the power law's closed-form exponent.
    @Test func aTailWithoutACutOffFitsLambdaZero() throws {
        let pareto = (1...1000).map { pow(1 - (Double($0) - 0.5) / 1000, -1 / 2.5) }
        let law = try #require(TruncatedPowerLaw.fit(tail: pareto[...]))
        #expect(law.lambda >= 0 && law.lambda < 2 * law.lambdaError)
        #expect(abs(law.alpha - 3.5) < 2 * law.alphaError)
        let heavier = pareto + [50]
        let boundary = try #require(TruncatedPowerLaw.fit(tail: heavier[...]))
        let m = 1001.0
        let alpha = 1 + m / heavier.reduce(0) { $0 + log($1 / heavier[0]) }
        #expect(boundary.lambda == 0 && abs(boundary.alpha - alpha) < 1e-12)
        #expect(abs(boundary.alphaError - (alpha - 1) / m.squareRoot()) < 1e-12)
    }

    /// Exponential data (alpha = 0) have their free maximum below alpha = 1; the fit keeps alpha >= 1, so it is
    /// the maximum on alpha = 1, where the model's mean of x equals the sample's (the one likelihood equation left).
    @Test func alphaBelowOneIsHeldAtOne() throws {
        var random = SeededRandom(seed: 4)
        let data = (0..<3000).map { _ in 1 - log(1 - random.uniformDouble()) / 0.8 }.sorted()
        let law = try #require(TruncatedPowerLaw.fit(tail: data[...]))
        #expect(law.alpha == 1 && law.lambda > 0)
        // E[x] for x^-1 e^(-Lambda x) on [xmin, inf) is e^(-Lambda xmin) / (Lambda E1(Lambda xmin)), with the
        // exponential integral E1 by the trapezoid rule in u = ln(x / xmin).
        let steps = 200_000, top = 20.0
        var e1 = 0.0
        for k in 0...steps {
            let u = top * Double(k) / Double(steps)
            e1 += (k == 0 || k == steps ? 0.5 : 1) * exp(-law.lambda * data[0] * exp(u)) * top / Double(steps)
        }
        let mean = exp(-law.lambda * data[0]) / (law.lambda * e1)
        #expect(abs(mean / (data.reduce(0, +) / 3000) - 1) < 1e-6, "model mean \(mean)")
    }

    @Test func shortOrFlatTailsAreNotFitted() {
        #expect(TruncatedPowerLaw.fit(tail: [1, 2, 3][...]) == nil)
        #expect(TruncatedPowerLaw.fit(tail: [Double](repeating: 2, count: 20)[...]) == nil)
        #expect(PowerLawFit.fit(eigenvalues: [1, 2, 3], distribution: .truncatedPowerLaw) == .failure(.tooFewEigenvalues(3)))
    }
}
