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
/// bias-corrected `1 + (m - 1) / sum ln(x_j / x_i)`, and when no tail qualifies the whole sample is the tail. The
/// winner is chosen by ``SmallSampleRule``: by default the smallest D, as WeightWatcher 0.7.7 does (its
/// `fit_powerlaw_smallN` minimises `D - 0.868 / sqrt(m)`, then `WWFit.__init__` overwrites that choice with the argmin
/// of D), or by the documented objective `D - 0.868 / sqrt(m)` (see docs/htsr.md).
public struct PowerLawFit: Sendable, Equatable, Codable {
    public var alpha: Double
    public var xmin: Double
    public var xmax: Double
    /// The Kolmogorov-Smirnov distance of the fit.
    public var d: Double
    public var sigma: Double
    /// How many eigenvalues lie in the fitted tail (x >= xmin), counting all eigenvalues of the layer.
    public var numPLSpikes: Int
    /// The truncated power law's cut-off rate `Lambda` (WeightWatcher's `Lambda` column); nil for a power law.
    public var lambda: Double?
    /// With clip-xmax: how many top eigenvalues the accepted fit left out (0 when none was accepted).
    public var numFingers: Int?
    /// With clip-xmax: alpha before any eigenvalue was left out.
    public var rawAlpha: Double?

    /// Below this many points the small-sample rule applies.
    public static let smallSampleCutoff = 20
    static let smallSampleMinimumTail = 8
    /// Tails spanning less than this in ln x (a relative spread of 1e-9) are numerically flat.
    static let flatTailLogRange = 1e-9

    /// Why a fit has no answer.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case tooFewEigenvalues(Int)
        case degenerate
        case noCandidateNearPeak
        case noTruncatedTail

        public var description: String {
            switch self {
            case .tooFewEigenvalues(let count): "only \(count) eigenvalues above the fit threshold"
            case .degenerate: "the tail is degenerate (equal eigenvalues): no finite exponent"
            case .noCandidateNearPeak: "no xmin candidate lies within [0.95, 1.5] x the ESD's peak"
            case .noTruncatedTail: "no xmin candidate gives a truncated power law with alpha > 1"
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

    /// Which law is fitted to the tail (WeightWatcher's `fit`).
    public enum Distribution: String, Sendable, Codable, CaseIterable {
        /// The power law, by the closed-form maximum-likelihood exponent at each xmin.
        case powerLaw = "PL"
        /// The truncated power law (``TruncatedPowerLaw``): xmin, alpha and Lambda by the smallest KS distance over
        /// the candidates, each fitted by maximum likelihood with alpha >= 1 (`powerlaw`'s standard range).
        case truncatedPowerLaw = "TPL"
        /// The truncated power law with xmin searched near the ESD's peak (``FingerFix/xminPeak``).
        case extendedTruncatedPowerLaw = "E_TPL"
    }

    /// How a sample of fewer than ``smallSampleCutoff`` eigenvalues chooses xmin among its candidates.
    public enum SmallSampleRule: String, Sendable, Codable, CaseIterable {
        /// The smallest KS distance D, what WeightWatcher 0.7.7 reports.
        case ksDistance = "ks"
        /// The smallest `D - 0.868 / sqrt(m)`, the objective WeightWatcher's `fit_powerlaw_smallN` documents (and
        /// then discards), which favours longer tails.
        case penalisedKSDistance = "penalised-ks"
    }

    /// WeightWatcher's `fix_fingers`: guards against a few outlying eigenvalues ("fingers") deciding the fit.
    public enum FingerFix: String, Sendable, Codable, CaseIterable {
        /// Refit without the top k = 1, 2, ... 9 eigenvalues; keep the first fit whose alpha is below the raw alpha
        /// by more than 1, stop once alpha <= 2. If the raw fit's tail was at most 9 eigenvalues, all of them are the
        /// fingers and are left out. Power law only.
        case clipXmax = "clip-xmax"
        /// Only xmin candidates within [0.95, 1.5] x the ESD's peak: the left edge of the fullest of 100 bins of
        /// log10 lambda.
        case xminPeak = "xmin-peak"
    }

    /// The most eigenvalues clip-xmax removes.
    public static let maximumFingers = 9

    /// Fits the eigenvalues above `threshold`; `eigenvalues` must be ascending.
    public static func fit(eigenvalues: [Double], threshold: Double = 1e-5, upperLimit: UpperLimit = .none,
                           distribution: Distribution = .powerLaw, fixFingers: FingerFix? = nil,
                           smallSampleRule: SmallSampleRule = .ksDistance) -> Result<PowerLawFit, Failure> {
        var data = eigenvalues.filter { $0 > threshold }
        if case .dropTop(let k) = upperLimit { data = Array(data.dropLast(min(max(0, k), data.count))) }
        let range = distribution == .extendedTruncatedPowerLaw || fixFingers == .xminPeak ? peakRange(data) : nil
        let truncated = distribution != .powerLaw
        func tail(_ data: ArraySlice<Double>) -> Result<PowerLawFit, Failure> {
            truncated ? fitTruncated(data, range: range)
                : fitPowerLaw(data, upperLimit: upperLimit, range: range, smallSampleRule: smallSampleRule)
        }
        var result = tail(data[...])
        if fixFingers == .clipXmax, !truncated, case .success(let raw) = result {
            var chosen = raw
            chosen.numFingers = 0
            chosen.rawAlpha = raw.alpha
            for clip in 1...maximumFingers where data.count - clip >= 2 {
                var k = clip
                guard case .success(var clipped) = tail(data.dropLast(k)) else { break }
                if clipped.alpha + 1 < raw.alpha {
                    // The raw fit was on the fingers. When its whole tail is a few eigenvalues, that tail is the
                    // fingers: leave all of them out, not just the first k (WeightWatcher stops at k, and the
                    // fingers still in the data pull alpha down).
                    let rawTail = data.count - data.firstIndex { $0 >= raw.xmin }!
                    if rawTail > k, rawTail <= maximumFingers, case .success(let bulk) = tail(data.dropLast(rawTail)) {
                        (clipped, k) = (bulk, rawTail)
                    }
                    clipped.numFingers = k
                    clipped.rawAlpha = raw.alpha
                    chosen = clipped
                    break
                }
                if clipped.alpha <= 2 { break }
            }
            result = .success(chosen)
        }
        return result.map { fit in
            var fit = fit
            fit.numPLSpikes = eigenvalues.filter { $0 >= fit.xmin }.count
            return fit
        }
    }

    /// WeightWatcher's xmin-peak window: [0.95, 1.5] x the left edge of the fullest of 100 equal bins of log10 x.
    static func peakRange(_ data: [Double]) -> ClosedRange<Double>? {
        guard let low = data.first, let high = data.last, high > low else { return nil }
        let (a, b) = (log10(low), log10(high))
        var counts = [Int](repeating: 0, count: 100)
        for x in data { counts[min(99, Int((log10(x) - a) / (b - a) * 100))] += 1 }
        let fullest = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) }!
        let edge = Foundation.pow(10, a + (b - a) * Double(fullest) / 100)
        return (0.95 * edge)...(1.5 * edge)
    }

    /// The truncated power law at the candidate xmin with the smallest KS distance (ties keep the lower xmin).
    static func fitTruncated(_ data: ArraySlice<Double>, range: ClosedRange<Double>?) -> Result<PowerLawFit, Failure> {
        let n = data.count
        guard n >= TruncatedPowerLaw.minimumTail else { return .failure(.tooFewEigenvalues(n)) }
        var best: (law: TruncatedPowerLaw, d: Double, m: Int)?
        var start: (alpha: Double, scaledLambda: Double)?
        for i in data.indices.dropLast(TruncatedPowerLaw.minimumTail - 1) where range?.contains(data[i]) ?? true {
            guard let law = TruncatedPowerLaw.fit(tail: data[i...], start: start) else { continue }
            start = (law.alpha, law.scaledLambda)
            let d = law.ksDistance(data[i...], bound: best?.d ?? .infinity)
            if best == nil || d < best!.d { best = (law, d, data.endIndex - i) }
        }
        guard let winner = best else { return .failure(range == nil || data.contains(where: range!.contains) ? .noTruncatedTail : .noCandidateNearPeak) }
        return .success(PowerLawFit(alpha: winner.law.alpha, xmin: winner.law.xmin, xmax: data.last!, d: winner.d,
                                    sigma: winner.law.alphaError, numPLSpikes: winner.m, lambda: winner.law.lambda))
    }

    /// The power-law scan over every candidate xmin (in `range`, when given).
    static func fitPowerLaw(_ slice: ArraySlice<Double>, upperLimit: UpperLimit, range: ClosedRange<Double>?,
                            smallSampleRule: SmallSampleRule = .ksDistance) -> Result<PowerLawFit, Failure> {
        let data = Array(slice)
        let n = data.count
        guard n >= 2 else { return .failure(.tooFewEigenvalues(n)) }
        let logs = data.map { Foundation.log($0) }
        // suffix[i] = sum_{j >= i} ln x_j, so every alpha_i costs O(1).
        var suffix = [Double](repeating: 0, count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) { suffix[i] = suffix[i + 1] + logs[i] }

        let small = n < smallSampleCutoff
        let penalised = small && smallSampleRule == .penalisedKSDistance
        var best: (index: Int, alpha: Double, d: Double, objective: Double)?
        // The KS distance of the tail from i, abandoned once it reaches `bound` (it cannot win then).
        func ksDistance(from i: Int, alpha: Double, bound: Double) -> Double {
            var d = 0.0
            let exponent = 1 - alpha
            // Forced: the CDF renormalised to [xmin, xmax].
            let normaliser = upperLimit == .force ? 1 - Foundation.exp(exponent * (logs[n - 1] - logs[i])) : 1
            let m = n - i
            for k in 0..<m {
                let gap = Swift.abs((1 - Foundation.exp(exponent * (logs[i + k] - logs[i]))) / normaliser - Double(k) / Double(m))
                if gap > d {
                    d = gap
                    if d >= bound { break }
                }
            }
            return d
        }
        for i in 0..<(n - 1) where range?.contains(data[i]) ?? true {
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
            // Ties keep the earlier xmin.
            let d = ksDistance(from: i, alpha: alpha, bound: penalised ? .infinity : best?.d ?? .infinity)
            let objective = penalised ? d - 0.868 / Double(m).squareRoot() : d
            if best == nil || objective < best!.objective { best = (i, alpha, d, objective) }
        }
        // No small-sample tail qualified (fewer than 8 points above the threshold): WeightWatcher fits the whole sample.
        if small, best == nil, range == nil, logs[n - 1] - logs[0] > flatTailLogRange {
            let alpha = 1 + Double(n - 1) / (suffix[0] - Double(n) * logs[0])
            if alpha > 1, alpha.isFinite { best = (0, alpha, ksDistance(from: 0, alpha: alpha, bound: .infinity), 0) }
        }
        guard let winner = best, winner.alpha.isFinite, winner.alpha > 1 else {
            return .failure(best == nil && range != nil ? .noCandidateNearPeak : .degenerate)
        }
        return .success(PowerLawFit(
            alpha: winner.alpha, xmin: data[winner.index], xmax: data[n - 1], d: winner.d,
            sigma: (winner.alpha - 1) / Double(n - winner.index).squareRoot(), numPLSpikes: n - winner.index))
    }
}
