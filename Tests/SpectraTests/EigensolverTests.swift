import Foundation
import LinearAlgebra
import NeuralNetworks
import Testing
@testable import Spectra

func mixedSpectrum(_ n: Int, seed: UInt64) -> [Double] {
    var random = SeededRandom(seed: seed)
    return (0..<n).map { _ in random.gaussian() * 2 }
}

@Suite struct LanczosTests {
    @Test func topAndBottomFiveOfASyntheticOperator() {
        let values = mixedSpectrum(80, seed: 1)
        let op = SpectrumOperator(eigenvalues: values, seed: 2)
        let sorted = values.sorted()
        let norm = sorted.map(abs).max()!
        let top = LanczosSolver(count: 5, end: .largest, tolerance: 1e-10, basisSize: 30, seed: 3).solve(op)
        let bottom = LanczosSolver(count: 5, end: .smallest, tolerance: 1e-10, basisSize: 30, seed: 3).solve(op)
        for (found, exact) in zip(top.eigenvalues, sorted.reversed().prefix(5)) { #expect(abs(found - exact) < 1e-8 * norm) }
        for (found, exact) in zip(bottom.eigenvalues, sorted.prefix(5)) { #expect(abs(found - exact) < 1e-8 * norm) }
        #expect(top.converged && bottom.converged)
        #expect(top.residuals.allSatisfy { $0 < 1e-8 * norm })
        // Eigenvectors: unit, and along the true ones.
        let index = values.firstIndex(of: sorted.last!)!
        #expect(abs(abs(top.eigenvectors[0].dot(op.eigenvector(index))) - 1) < 1e-8)
    }

    @Test func smallModelAgainstDenseLAPACK() throws {
        let model = Sequential(Linear(4, 6), Activation.tanh, Linear(6, 3))
        var random = SeededRandom(seed: 4)
        let data = Dataset<Double>(inputs: Tensor.gaussian(shape: [30, 4], using: &random),
                                   targets: .labels((0..<30).map { _ in Int(random.next() % 3) }))
        let objective = Objective(model: model, parameters: model.makeParameters(seed: 5), loss: .crossEntropy, data: data, batchSize: 8)
        for matrix in CurvatureMatrix.allCases {
            let op = objective.curvature(matrix, seed: 7)
            let exact = try DenseSpectrum.decompose(op).values
            let norm = exact.map(abs).max()!
            // For symmetric matrices |theta - lambda| <= ||A y - theta y||: a residual tolerance of 1e-8 ||A|| is exactly
            // the accuracy asked for.
            let top = LanczosSolver(count: 5, end: .largest, tolerance: 1e-8, basisSize: 20, seed: 6).solve(op)
            #expect(top.converged, "\(matrix)")
            for (found, truth) in zip(top.eigenvalues, exact.reversed().prefix(5)) { #expect(abs(found - truth) < 1e-8 * norm, "\(matrix)") }
            let bottom = LanczosSolver(count: 5, end: .smallest, tolerance: 1e-8, basisSize: 20, maxMatvecs: 600, seed: 6).solve(op)
            if matrix == .hessian {
                #expect(bottom.converged)
                for (found, truth) in zip(bottom.eigenvalues, exact.prefix(5)) { #expect(abs(found - truth) < 1e-8 * norm) }
            } else {
                // The GGN and Fisher here have a 7-dimensional null space beside tiny positive eigenvalues: that cluster
                // does not separate within the budget, and the result must say so rather than claim convergence.
                #expect(!bottom.converged || zip(bottom.eigenvalues, exact.prefix(5)).allSatisfy { abs($0 - $1) < 1e-8 * norm })
            }
        }
    }

    @Test func topTenOfA5000DimensionalOperatorWithA20VectorBasis() {
        // A bulk in [0, 1] and ten outliers between 2 and 3.
        var random = SeededRandom(seed: 7)
        var values = (0..<4990).map { _ in random.uniformDouble() }
        values += (0..<10).map { 2 + Double($0) / 10 }
        let op = SpectrumOperator(eigenvalues: values, seed: 8)
        let result = LanczosSolver(count: 10, end: .largest, tolerance: 1e-9, basisSize: 20, seed: 9).solve(op)
        let expected = values.sorted().reversed().prefix(10)
        #expect(result.converged)
        #expect(result.restarts > 0, "the 20-vector basis must have been restarted")
        for (found, truth) in zip(result.eigenvalues, expected) { #expect(abs(found - truth) < 1e-8 * 3) }
    }

    @Test func aFloatBasisReachesAFloatToleranceThroughRestarts() {
        // The outliers of the test above with a 20-vector basis that must restart, its vectors rounded to Float:
        // the eigenvalues within 1e-5 x ||A|| (the Float default), the pairs orthonormal and their residuals honest.
        var random = SeededRandom(seed: 7)
        var values = (0..<4990).map { _ in random.uniformDouble() }
        values += (0..<10).map { 2 + Double($0) / 10 }
        let op = SpectrumOperator(eigenvalues: values, seed: 8)
        let result = LanczosSolver(count: 10, end: .largest, tolerance: 1e-5, basisSize: 20, floatBasis: true, seed: 9).solve(op)
        let expected = values.sorted().reversed().prefix(10)
        #expect(result.converged)
        #expect(result.restarts > 0, "the 20-vector basis must have been restarted")
        for (found, truth) in zip(result.eigenvalues, expected) { #expect(abs(found - truth) < 1e-5 * 3) }
        for (vector, (value, residual)) in zip(result.eigenvectors, zip(result.eigenvalues, result.residuals)) {
            #expect(abs((op.apply(vector) - value * vector).norm() - residual) < 1e-12)
            #expect(residual < 1e-4 * 3)
        }
        for i in 0..<10 { for j in 0..<10 {
            #expect(abs(result.eigenvectors[i].dot(result.eigenvectors[j]) - (i == j ? 1 : 0)) < 1e-6)
        } }
    }

    @Test func oneGramSchmidtPassAfterTheRecurrenceKeepsTheBasisOrthogonal() {
        // A dominant eigenvalue converges in a few steps and then, without full reorthogonalisation, comes back as
        // ghost copies (Paige 1971); the bulk below it needs many more steps. The recurrence's terms are subtracted
        // first and one Gram-Schmidt pass follows (a second only when the first removes much): still no ghosts, the
        // eigenvalues exact to the tolerance and the Ritz vectors orthonormal.
        var random = SeededRandom(seed: 12)
        let values = [1000.0] + (0..<399).map { _ in random.uniformDouble() }
        let op = SpectrumOperator(eigenvalues: values, seed: 13)
        let result = LanczosSolver(count: 4, end: .largest, tolerance: 1e-12, basisSize: 120, seed: 14).solve(op)
        let expected = Array(values.sorted().reversed().prefix(4))
        #expect(result.converged)
        #expect(result.matvecs > 40, "the bulk's pairs take long enough for ghosts to appear")
        for (found, truth) in zip(result.eigenvalues, expected) { #expect(abs(found - truth) < 1e-9 * 1000) }
        #expect(result.eigenvalues.filter { $0 > 999 }.count == 1)
        for i in 0..<4 { for j in 0..<4 {
            #expect(abs(result.eigenvectors[i].dot(result.eigenvectors[j]) - (i == j ? 1 : 0)) < 1e-10)
        } }
    }

    @Test func repeatedEigenvaluesComeWithTheirMultiplicity() {
        var values = [5.0, 5, 5, 3, 3] + (0..<45).map { Double($0) / 50 }
        values.shuffle(using: &SeededRandomBox.shared.random)
        let op = SpectrumOperator(eigenvalues: values, seed: 10)
        let result = LanczosSolver(count: 5, end: .largest, tolerance: 1e-10, basisSize: 20, seed: 11).solve(op)
        #expect(result.eigenvalues.map { ($0 * 1e8).rounded() / 1e8 } == [5, 5, 5, 3, 3])
        // The three eigenvectors of 5 span its eigenspace: orthonormal.
        for i in 0..<3 { for j in 0..<3 {
            #expect(abs(result.eigenvectors[i].dot(result.eigenvectors[j]) - (i == j ? 1 : 0)) < 1e-8)
        } }
    }

    @Test func progressShowsEveryProductsResidualsEveryRestartAndTheComplementSearch() {
        var random = SeededRandom(seed: 7)
        let values = (0..<1990).map { _ in random.uniformDouble() } + (0..<10).map { 2 + Double($0) / 10 }
        let op = SpectrumOperator(eigenvalues: values, seed: 8)
        final class Events: @unchecked Sendable { var list: [LanczosProgress] = [] }
        let events = Events()
        let result = LanczosSolver(count: 4, end: .largest, tolerance: 1e-9, basisSize: 12, seed: 9).solve(op) { events.list.append($0) }
        let steps = events.list.compactMap { if case .step(let products, let residuals) = $0 { (products, residuals) } else { nil } }
        let restarts = events.list.compactMap { if case .restart(let restarts, let products, _) = $0 { (restarts, products) } else { nil } }
        let searches = events.list.compactMap { if case .complementSearch(let products, let locked) = $0 { (products, locked) } else { nil } }
        #expect(result.converged && result.restarts > 0)
        // One line per restart, numbered 1, 2, ... with the products taken so far, and the last one is the solver's count.
        #expect(restarts.map(\.0) == Array(1...result.restarts))
        #expect(zip(restarts, restarts.dropFirst()).allSatisfy { $0.1 < $1.1 })
        // Products count up across restarts and rounds; the residuals that stop the first round meet the tolerance.
        #expect(zip(steps, steps.dropFirst()).allSatisfy { $0.0 < $1.0 })
        #expect(steps.allSatisfy { $0.1.count <= 4 && $0.1.allSatisfy { $0 >= 0 && $0.isFinite } })
        let beforeSearch = steps.filter { $0.0 <= searches[0].0 }
        #expect(beforeSearch.last!.1.allSatisfy { $0 <= 1e-9 } && beforeSearch.last!.1.count == 4)
        #expect(beforeSearch.first!.1.contains { $0 > 1e-9 })
        // After the four pairs lock, the complement search runs (and finds nothing: the outliers are distinct).
        #expect(searches.first! == (searches[0].0, 4))
        #expect(steps.last!.0 < result.matvecs, "the final explicit residual products come after the last step")
    }

    @Test func denseIsRefusedAboveItsLimit() {
        let op = SpectrumOperator(eigenvalues: [Double](repeating: 1, count: 50), seed: 1)
        #expect(throws: DenseSpectrum.TooLarge.self) { _ = try DenseSpectrum.decompose(op, limit: 40) }
    }
}

/// A shared generator for shuffling test data deterministically.
final class SeededRandomBox: @unchecked Sendable {
    static let shared = SeededRandomBox()
    var random = SeededRandom(seed: 12)
}

@Suite struct PowerIterationTests {
    /// PyHessian's hessian.eigenvalues, transcribed line by line (group_product, normalization, orthnormal).
    func pyhessianEigenvalues(_ op: any LinearOperator, maxIter: Int, tol: Double, topN: Int, seed: UInt64) -> [Double] {
        var random = SeededRandom(seed: seed)
        var eigenvalues: [Double] = [], eigenvectors: [Tensor<Double>] = []
        while eigenvalues.count < topN {
            var eigenvalue: Double? = nil
            var v = Tensor<Double>.gaussian(shape: [op.dimension], using: &random)
            v = v * (1 / v.norm())
            for _ in 0..<maxIter {
                for u in eigenvectors { v = v - v.dot(u) * u }
                v = v * (1 / v.norm())
                let hv = op.apply(v)
                let tmp = hv.dot(v)
                v = hv * (1 / hv.norm())
                if let e = eigenvalue {
                    if abs(e - tmp) / (abs(e) + 1e-6) < tol { break } else { eigenvalue = tmp }
                } else {
                    eigenvalue = tmp
                }
            }
            eigenvalues.append(eigenvalue!)
            eigenvectors.append(v)
        }
        return eigenvalues
    }

    @Test func agreesWithPyHessiansAlgorithm() {
        let op = SpectrumOperator(eigenvalues: [10, 7, 4] + (0..<37).map { Double($0) / 40 }, seed: 13)
        let ours = PowerIteration(count: 3, maxIterations: 100, tolerance: 1e-3, seed: 14).solve(op)
        let theirs = pyhessianEigenvalues(op, maxIter: 100, tol: 1e-3, topN: 3, seed: 14)
        for (a, b) in zip(ours.eigenvalues, theirs) { #expect(abs(a - b) < 1e-12 * abs(b)) }
        // And both approximate the truth only to about the tolerance.
        #expect(abs(ours.eigenvalues[0] - 10) < 0.05)
        #expect(ours.converged)
        // Stopped by the iteration cap, it says so.
        #expect(!PowerIteration(count: 1, maxIterations: 1, tolerance: 1e-3, seed: 14).solve(op).converged)
    }
}
