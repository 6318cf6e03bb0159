import Foundation

/// A continuous power law `p(x) ~ x^(-alpha)` for `x >= xmin`, fitted to the tail of an ESD the way WeightWatcher
/// 0.7.7 does (its `WWFit`, after Clauset, Shalizi and Newman 2009).
///
/// Data are the eigenvalues above a threshold (1e-5), ascending: x_0 .. x_{n-1}. Every x_i but the largest is a
/// candidate xmin. With m = n - i:
/// - `alpha_i = 1 + m / sum_{j>=i} ln(x_j / x_i)` (maximum likelihood);
/// - `D_i = max_{k<m} |1 - (x_{i+k} / x_i)^(1 - alpha_i) - k/m|` (Kolmogorov-Smirnov), 1 when alpha_i <= 1;
/// - the first i with the smallest D wins; `sigma = (alpha - 1) / sqrt(m)`.
///
/// For n < 20 WeightWatcher's small-sample rule applies: tails shorter than 8 are not candidates, alpha uses the
/// bias-corrected `1 + (m - 1) / sum ln(x_j / x_i)`, and the winner minimises `D - 0.868 / sqrt(m)`. (WeightWatcher
/// 0.7.7 computes that objective and then discards it, choosing by D alone: see docs/htsr.md.)
public struct PowerLawFit: Sendable, Equatable, Codable {
    public var alpha: Double
    public var xmin: Double
    public var xmax: Double
    /// The Kolmogorov-Smirnov distance of the fit.
    public var d: Double
    public var sigma: Double
    /// How many eigenvalues lie in the fitted tail (x >= xmin), counting all eigenvalues of the layer.
    public var numPLSpikes: Int

    /// Below this many points the small-sample rule applies.
    public static let smallSampleCutoff = 20
    static let smallSampleMinimumTail = 8
    /// Tails spanning less than this in ln x (a relative spread of 1e-9) are numerically flat.
    static let flatTailLogRange = 1e-9

    /// Why a fit has no answer.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case tooFewEigenvalues(Int)
        case degenerate

        public var description: String {
            switch self {
            case .tooFewEigenvalues(let count): "only \(count) eigenvalues above the fit threshold"
            case .degenerate: "the tail is degenerate (equal eigenvalues): no finite exponent"
            }
        }
    }

    /// WeightWatcher's `xmax` argument.
    public enum UpperLimit: Sendable, Equatable, Codable {
        /// The default: every eigenvalue above the threshold, the KS distance against the untruncated law.
        case none
        /// The KS distance against the law truncated to [xmin, xmax], `(1 - (x/xmin)^(1-alpha)) /
        /// (1 - (xmax/xmin)^(1-alpha))`; alpha is still the untruncated maximum-likelihood estimate.
        case force
        /// The largest k eigenvalues left out of the fit (they still count in num_pl_spikes).
        case dropTop(Int)
    }

    /// Fits the eigenvalues above `threshold`; `eigenvalues` must be ascending.
    public static func fit(eigenvalues: [Double], threshold: Double = 1e-5, upperLimit: UpperLimit = .none) -> Result<PowerLawFit, Failure> {
        var data = eigenvalues.filter { $0 > threshold }
        if case .dropTop(let k) = upperLimit { data = Array(data.dropLast(min(max(0, k), data.count))) }
        let n = data.count
        guard n >= 2 else { return .failure(.tooFewEigenvalues(n)) }
        let logs = data.map { Foundation.log($0) }
        // suffix[i] = sum_{j >= i} ln x_j, so every alpha_i costs O(1).
        var suffix = [Double](repeating: 0, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + logs[i] }

        let small = n < smallSampleCutoff
        var best: (index: Int, alpha: Double, d: Double, objective: Double)?
        for i in 0..<(n - 1) {
            let m = n - i
            // A tail whose values agree to rounding has no exponent (1 + m / ~0): not a candidate.
            guard logs[n - 1] - logs[i] > flatTailLogRange else { continue }
            let logSum = suffix[i] - Double(m) * logs[i]
            let alpha: Double
            if small {
                guard m >= smallSampleMinimumTail, logSum > 1e-12 else { continue }
                alpha = 1 + Double(m - 1) / logSum
            } else {
                alpha = 1 + Double(m) / logSum
            }
            guard alpha > 1, alpha.isFinite else {
                if !small, best == nil || 1 < best!.d { best = (i, alpha, 1, 1) }
                continue
            }
            // The KS distance, abandoned as soon as it cannot beat the best so far (ties keep the earlier xmin).
            let bound = small ? Double.infinity : best?.d ?? .infinity
            var d = 0.0
            let exponent = 1 - alpha
            // Forced: the CDF renormalised to [xmin, xmax].
            let normaliser = upperLimit == .force ? 1 - Foundation.exp(exponent * (logs[n - 1] - logs[i])) : 1
            for k in 0..<m {
                let gap = Swift.abs((1 - Foundation.exp(exponent * (logs[i + k] - logs[i]))) / normaliser - Double(k) / Double(m))
                if gap > d {
                    d = gap
                    if d >= bound { break }
                }
            }
            let objective = small ? d - 0.868 / Double(m).squareRoot() : d
            if best == nil || objective < best!.objective { best = (i, alpha, d, objective) }
        }
        guard let winner = best, winner.alpha.isFinite, winner.alpha > 1 else { return .failure(.degenerate) }
        let xmin = data[winner.index]
        return .success(PowerLawFit(
            alpha: winner.alpha, xmin: xmin, xmax: data[n - 1], d: winner.d,
            sigma: (winner.alpha - 1) / Double(n - winner.index).squareRoot(),
            numPLSpikes: eigenvalues.filter { $0 >= xmin }.count))
    }
}
