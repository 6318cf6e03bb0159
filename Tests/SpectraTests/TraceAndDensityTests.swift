import Foundation
import LinearAlgebra
import Testing
@testable import Spectra

/// A bulk uniform on [0, 1] plus `spikes` eigenvalues of 100: most of the trace sits in a few directions.
func spikedSpectrum(_ n: Int, spikes: Int, seed: UInt64) -> [Double] {
    var random = SeededRandom(seed: seed)
    return (0..<n).map { $0 < spikes ? 100 : random.uniformDouble() }
}

/// `Q diag(values) Q^T` with Q the orthogonal factor of a Gaussian matrix: eigenvectors in general position (the
/// few reflections of ``SpectrumOperator`` leave a matrix nearly diagonal, which flatters Hutchinson).
func randomlyRotated(_ values: [Double], seed: UInt64) throws -> DenseOperator {
    var random = SeededRandom(seed: seed)
    let q = try qr(Tensor<Double>.gaussian(shape: [values.count, values.count], using: &random)).q
    var scaled = q
    for i in 0..<values.count { for j in 0..<values.count { scaled[i, j] *= values[j] } }
    return DenseOperator(matmul(scaled, q, transposeB: true))
}

/// Papyan's spiked matrix: diag(5, 4, 3, 0, ...) + Z Z^T / n, Z standard normal n x n.
func papyanMatrix(_ n: Int, seed: UInt64) -> Tensor<Double> {
    var random = SeededRandom(seed: seed)
    let z = Tensor<Double>.gaussian(shape: [n, n], using: &random)
    var y = matmul(z, z, transposeB: true) * (1 / Double(n))
    for (i, spike) in [5.0, 4, 3].enumerated() { y[i, i] += spike }
    return y
}

/// The Marchenko-Pastur (ratio 1, variance 1) mass of [a, b] by the midpoint rule.
func marchenkoPasturMass(_ a: Double, _ b: Double) -> Double {
    let steps = 20000
    let h = (b - a) / Double(steps)
    return (0..<steps).reduce(0) { sum, i in
        let x = a + (Double(i) + 0.5) * h
        return sum + (x * (4 - x)).squareRoot() / (2 * Double.pi * x) * h
    }
}

/// The mass of a density on its (possibly non-uniform) grid within [a, b], by the trapezoid rule.
func mass(_ density: SpectralDensity, _ a: Double, _ b: Double) -> Double {
    var total = 0.0
    for j in 1..<density.grid.count where density.grid[j - 1] >= a && density.grid[j] <= b {
        total += (density.grid[j] - density.grid[j - 1]) * (density.values[j] + density.values[j - 1]) / 2
    }
    return total
}

@Suite struct TraceEstimatorTests {
    @Test(arguments: TraceMethod.allCases)
    func estimatesLieWithinThreeStandardErrors(method: TraceMethod) throws {
        var random = SeededRandom(seed: 11)
        let values = (0..<300).map { _ in random.gaussian() + 0.5 }
        let op = try randomlyRotated(values, seed: 12)
        let exact = values.reduce(0, +)
        for seed in UInt64(0)..<4 {
            let result = try TraceEstimator(method: method, matvecs: 90, seed: seed, blockSize: 4).estimate(op)
            #expect(result.stderr > 0 && result.stderr.isFinite)
            #expect(abs(result.estimate - exact) <= 3 * result.stderr, "\(method) seed \(seed): \(result.estimate) vs \(exact) +- \(result.stderr)")
            #expect(result.matvecs <= 90 && result.matvecs >= 88)
        }
    }

    @Test func hutchPlusPlusAndXTraceBeatHutchinsonOnASpikedSpectrum() throws {
        let values = spikedSpectrum(500, spikes: 10, seed: 13)
        let op = try randomlyRotated(values, seed: 14)
        let exact = values.reduce(0, +)
        func meanError(_ method: TraceMethod) throws -> Double {
            try (UInt64(0)..<5).reduce(0) { sum, seed in
                sum + abs(try TraceEstimator(method: method, matvecs: 60, seed: seed).estimate(op).estimate - exact) / 5
            }
        }
        let hutchinson = try meanError(.hutchinson), hutchpp = try meanError(.hutchpp), xtrace = try meanError(.xtrace)
        #expect(hutchpp < hutchinson / 5, "Hutch++ \(hutchpp) vs Hutchinson \(hutchinson)")
        #expect(xtrace < hutchinson / 5, "XTrace \(xtrace) vs Hutchinson \(hutchinson)")
    }

    @Test func xtraceEqualsItsLeaveOneOutDefinition() throws {
        // Brute force: for each i, an orthonormal basis of the other columns of A Omega, then
        // tr(Q_i^T A Q_i) + omega_i^T (I - P_i) A (I - P_i) omega_i.
        var random = SeededRandom(seed: 15)
        let g = Tensor<Double>.gaussian(shape: [30, 30], using: &random)
        let a = (g + g.transposed()) * 0.5
        let op = DenseOperator(a)
        let s = 6
        let omega = (0..<s).map { rademacherProbe(dimension: 30, seed: 3, family: .trace, index: $0) }
        let y = omega.map { matvec(a, $0) }
        var estimates: [Double] = []
        for i in 0..<s {
            let others = y.enumerated().filter { $0.offset != i }.map(\.element)
            let q = columns(of: try qr(matrix(columns: others)).q)
            let exactPart = q.reduce(0) { $0 + $1.dot(matvec(a, $1)) }
            var u = omega[i]
            for v in q { u.addScaled(v, by: -v.dot(u)) }
            estimates.append(exactPart + u.dot(matvec(a, u)))
        }
        let expected = estimates.reduce(0, +) / Double(s)
        let result = try TraceEstimator(method: .xtrace, matvecs: 2 * s, seed: 3).estimate(op)
        #expect(abs(result.estimate - expected) < 1e-10 * max(1, abs(expected)))
    }

    @Test func hutchinsonResumesExactly() throws {
        let op = SpectrumOperator(eigenvalues: mixedSpectrum(200, seed: 16), seed: 17)
        let estimator = TraceEstimator(method: .hutchinson, matvecs: 12, seed: 5, blockSize: 3)
        var checkpoints: [[Double]] = []
        let oneShot = try estimator.estimate(op) { checkpoints.append($0) }
        #expect(checkpoints.map(\.count) == [3, 6, 9, 12])
        let resumed = try estimator.estimate(op, completed: checkpoints[1])
        #expect(resumed == oneShot)
    }

    @Test func tooSmallBudgetsAndLowRankAreErrors() {
        let op = SpectrumOperator(eigenvalues: [1, 2, 3, 4, 5, 6], seed: 1)
        #expect(throws: TraceError.budgetTooSmall(method: .hutchpp, matvecs: 2, minimum: 3)) {
            try TraceEstimator(method: .hutchpp, matvecs: 2).estimate(op)
        }
        let rankTwo = SpectrumOperator(eigenvalues: [3, 2] + [Double](repeating: 0, count: 20), seed: 1)
        #expect(throws: TraceError.rankDeficient(rank: 5)) { try TraceEstimator(method: .xtrace, matvecs: 10).estimate(rankTwo) }
    }
}

@Suite struct DiagonalEstimatorTests {
    @Test(arguments: DiagonalMethod.allCases)
    func diagonalsLieWithinTheirStandardErrors(method: DiagonalMethod) throws {
        var random = SeededRandom(seed: 18)
        let g = Tensor<Double>.gaussian(shape: [60, 60], using: &random)
        let a = matmul(g, g, transposeB: true) * (1.0 / 60)
        let result = try DiagonalEstimator(method: method, matvecs: 40, seed: 2, blockSize: 8).estimate(DenseOperator(a))
        let within = (0..<60).filter { abs(result.diagonal[$0] - a[$0, $0]) <= 3 * result.stderr[$0] }.count
        #expect(within >= 56, "\(method): \(within)/60 entries within 3 standard errors")
        #expect(result.matvecs == 40)
    }

    @Test func xdiagBeatsHutchinsonOnALowRankPlusNoiseMatrix() throws {
        let op = SpectrumOperator(eigenvalues: spikedSpectrum(300, spikes: 5, seed: 19).map { $0 == 100 ? 100 : $0 / 100 }, seed: 20)
        let exact = try DenseSpectrum.decompose(op)
        // diag(A) = sum_k lambda_k v_k (*) v_k.
        var truth = [Double](repeating: 0, count: 300)
        for k in 0..<300 { for i in 0..<300 { truth[i] += exact.values[k] * exact.vectors![k, i] * exact.vectors![k, i] } }
        func error(_ method: DiagonalMethod) throws -> Double {
            let estimate = try DiagonalEstimator(method: method, matvecs: 40, seed: 4).estimate(op).diagonal
            return zip(estimate.scalars, truth).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
        let (xdiag, hutchinson) = (try error(.xdiag), try error(.hutchinson))
        #expect(xdiag < hutchinson / 10, "XDiag \(xdiag) vs Hutchinson \(hutchinson)")
    }
}

@Suite struct SpectralDensityTests {
    @Test func lanczosWithAsManyStepsAsTheDimensionIsExact() throws {
        let values = mixedSpectrum(50, seed: 21)
        let op = SpectrumOperator(eigenvalues: values, seed: 22)
        let rules = try StochasticLanczosQuadrature(steps: 50, seed: 1, blockSize: 2).rules(op, probes: 2)
        for rule in rules {
            #expect(abs(rule.nodes.first! - values.min()!) < 1e-9)
            #expect(abs(rule.nodes.last! - values.max()!) < 1e-9)
            #expect(abs(rule.weights.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test func slqFindsPapyansOutliersAndBothMethodsFollowMarchenkoPastur() throws {
        let n = 2000
        let y = papyanMatrix(n, seed: 23)
        let exact = try symmetricEigen(y, computeVectors: false).values
        let norm = exact.last!
        let op = DenseOperator(y)
        let rules = try StochasticLanczosQuadrature(steps: 100, seed: 24, blockSize: 5).rules(op, probes: 10)
        // The three outliers (near 6.25, 5.33, 4.5) are the top Ritz values of every probe, at the exact eigenvalues.
        for rule in rules {
            for k in 1...3 { #expect(abs(rule.nodes[rule.nodes.count - k] - exact[n - k]) < 1e-8 * norm) }
        }
        #expect(exact[n - 3] > 4.3 && exact[n - 4] < 4.2)
        let criteria = CurvatureCriteria.compute(rules: rules, dimension: n)
        #expect(criteria.outliers == 3, "bulk edge \(criteria.bulkEdge)")
        #expect(criteria.bulkEdge > 3.8 && criteria.bulkEdge < exact[n - 3])
        #expect(criteria.negativeMass == 0)

        let slq = SpectralDensity.gaussianBroadening(rules)
        let bounds = try SpectralBounds.estimate(op, seed: 25)
        #expect(bounds.lower <= exact.first! && bounds.upper >= exact.last!)
        let moments = try KernelPolynomialMethod(moments: 100, seed: 26, blockSize: 5).probeMoments(op, bounds: bounds, probes: 10)
        let averaged = (0..<100).map { k in moments.reduce(0) { $0 + $1[k] } / 10 }
        let kpm = KernelPolynomialMethod.density(moments: averaged, bounds: bounds, points: 4096)
        for (a, b) in [(0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 2.5), (2.5, 3.0), (3.0, 3.5)] {
            let expected = marchenkoPasturMass(a, b)
            #expect(abs(mass(slq, a, b) - expected) < 0.02, "SLQ on [\(a), \(b)]: \(mass(slq, a, b)) vs \(expected)")
            #expect(abs(mass(kpm, a, b) - expected) < 0.02, "KPM on [\(a), \(b)]: \(mass(kpm, a, b)) vs \(expected)")
        }
        #expect(abs(mass(kpm, bounds.lower, bounds.upper) - 1) < 1e-3)
        // The log spectrum is a density too: nearly all the mass lies above epsilon = 1e-6 lambda_max. Its cells hold
        // exact integrals, so a grid point beside the 1/sqrt singularity at the lower bound (-0.074 here) adds no mass
        // (point values did: 1.37).
        let logarithmic = KernelPolynomialMethod.density(moments: averaged, bounds: bounds, points: 4096, logSpectrum: true)
        #expect(abs(mass(logarithmic, -.infinity, .infinity) - 1) < 1e-3)
        #expect(abs(chebyshevMass(averaged, from: -1, to: 1) - 1) < 1e-12)
    }

    @Test func slqAndKPMResumeExactly() throws {
        let op = SpectrumOperator(eigenvalues: mixedSpectrum(120, seed: 27), seed: 28)
        let slq = StochasticLanczosQuadrature(steps: 20, seed: 3, blockSize: 2)
        var saved: [[QuadratureRule]] = []
        let oneShot = try slq.rules(op, probes: 5) { saved.append($0) }
        #expect(saved.map(\.count) == [2, 4, 5])
        #expect(try slq.rules(op, probes: 5, completed: saved[0]) == oneShot)
        let kpm = KernelPolynomialMethod(moments: 21, seed: 3, blockSize: 2)
        let bounds = try SpectralBounds.estimate(op)
        var savedMoments: [[[Double]]] = []
        let moments = try kpm.probeMoments(op, bounds: bounds, probes: 3) { savedMoments.append($0) }
        #expect(try kpm.probeMoments(op, bounds: bounds, probes: 3, completed: savedMoments[0]) == moments)
    }

    @Test func kpmMomentsAreChebyshevMomentsOfTheSpectrum() throws {
        // For a diagonal operator and a Rademacher probe, v^T T_k(A~) v / n = mean_i T_k(x_i) exactly.
        let values = (0..<64).map { Double($0) / 16 - 1.5 }
        let op = DenseOperator(Tensor(rows: (0..<64).map { i in (0..<64).map { $0 == i ? values[i] : 0 } }))
        let bounds = SpectralBounds(lower: -2, upper: 3)
        let moments = try KernelPolynomialMethod(moments: 9, seed: 1).probeMoments(op, bounds: bounds, probes: 1)[0]
        for k in 0..<9 {
            let expected = values.reduce(0) { $0 + cos(Double(k) * acos(($1 - 0.5) / 2.5)) } / 64
            #expect(abs(moments[k] - expected) < 1e-12, "moment \(k)")
        }
        #expect(KernelPolynomialMethod.jacksonDamping(10)[0] == 1)
    }

    @Test func criteriaOfAHandMadeRule() {
        let rule = QuadratureRule(nodes: [-1, 0.5, 4], weights: [0.25, 0.25, 0.5], residuals: [0, 1e-9, 0])
        let criteria = CurvatureCriteria.compute(rules: [rule], dimension: 3)
        #expect(criteria.re == 0.25)
        #expect(abs(criteria.kh05 - 0.5 / ((0.125).squareRoot() + (2.0).squareRoot())) < 1e-15)
        #expect(criteria.negativeMass == 0.25)
        #expect(criteria.condition == 8)
    }
}
