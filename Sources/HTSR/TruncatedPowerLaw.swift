import Foundation

/// A power law with an exponential cut-off, fitted by maximum likelihood at a given xmin:
/// `p(x) = Lambda^(1-alpha) x^(-alpha) e^(-Lambda x) / Gamma(1 - alpha, Lambda xmin)` for `x >= xmin`
/// (Clauset, Shalizi and Newman 2009, table 1; `powerlaw`'s `truncated_power_law`, WeightWatcher's `fit='TPL'`).
///
/// The law is an exponential family in `(alpha, Lambda)` with sufficient statistics `(ln x, x)`, so the
/// log-likelihood is concave and its maximum is where the model's means of `ln x` and `x` equal the sample's. Newton's
/// method with the exact Hessian (minus the covariance of `(ln x, x)` under the model) finds it; the same covariance,
/// inverted and divided by the tail size, gives the standard errors. When the best exponent has `Lambda = 0` (the
/// data have no cut-off) the fit is the plain power law. Alpha is kept at or above 1, `powerlaw`'s standard range
/// for this law: when the free maximum has alpha < 1 (a hump rather than a tail), the fit is the maximum on
/// alpha = 1. Integrals run in `u = ln(x / xmin)` by adaptive Gauss-Legendre quadrature, so no incomplete gamma
/// function of negative order is needed.
public struct TruncatedPowerLaw: Sendable, Equatable, Codable {
    public var alpha: Double
    /// The cut-off rate, in the eigenvalues' units (1 / lambda).
    public var lambda: Double
    public var xmin: Double
    /// Standard errors from the inverse Fisher information.
    public var alphaError: Double
    public var lambdaError: Double

    public init(alpha: Double, lambda: Double, xmin: Double, alphaError: Double = 0, lambdaError: Double = 0) {
        self.alpha = alpha
        self.lambda = lambda
        self.xmin = xmin
        self.alphaError = alphaError
        self.lambdaError = lambdaError
    }

    /// Tails shorter than this are not fitted: two parameters need data to spare.
    public static let minimumTail = 8

    /// The maximum-likelihood fit to `tail` (ascending, every value >= `tail[0]` = xmin); nil when the tail is too
    /// short or flat, or the optimisation does not converge.
    public static func fit(tail: ArraySlice<Double>, start: (alpha: Double, scaledLambda: Double)? = nil) -> TruncatedPowerLaw? {
        guard tail.count >= minimumTail, let xmin = tail.first, xmin > 0, let top = tail.last, top > xmin * (1 + 1e-9) else { return nil }
        let m = Double(tail.count)
        var meanLog = 0.0, meanScaled = 0.0
        for x in tail {
            meanLog += Foundation.log(x / xmin)
            meanScaled += x / xmin
        }
        meanLog /= m
        meanScaled /= m
        // The maximum over alpha >= 1 (powerlaw's standard range): the free maximum, or if that has alpha < 1 (or
        // is not found), the maximum on the boundary alpha = 1, where the likelihood is concave in Lambda alone.
        var best = maximise(meanLog: meanLog, meanScaled: meanScaled, start: start)
        if best == nil || best!.0 < 1 { best = maximiseAtUnitAlpha(meanScaled: meanScaled) }
        guard let (alpha, scaled, inverse) = best else { return nil }
        return TruncatedPowerLaw(alpha: alpha, lambda: scaled / xmin, xmin: xmin,
                                 alphaError: (inverse.aa / m).squareRoot(), lambdaError: (inverse.ll / m).squareRoot() / xmin)
    }

    /// `Lambda xmin`, the cut-off in units of xmin, which the integrals use.
    var scaledLambda: Double { lambda * xmin }

    /// The density at `x >= xmin`: `x^(-alpha) e^(-Lambda x)` over its integral from xmin.
    public func density(_ x: Double) -> Double {
        let integrand = TailIntegrand(alpha: alpha, scaledLambda: scaledLambda)
        // In u = ln(x / xmin) the density of u is w(u) / Z; dividing by x converts it to a density of x.
        return Foundation.exp(integrand.exponent(Foundation.log(x / xmin))) / integrand.normaliser / x
    }

    /// The cumulative distribution at each of `values` (ascending, all >= xmin).
    public func cdf(_ values: ArraySlice<Double>) -> [Double] {
        var result: [Double] = []
        result.reserveCapacity(values.count)
        ksScan(values) { result.append($0); return true }
        return result
    }

    /// The Kolmogorov-Smirnov distance `max_k |F(x_k) - k/m|` over the tail (WeightWatcher's convention), abandoned
    /// once it reaches `bound`.
    func ksDistance(_ tail: ArraySlice<Double>, bound: Double = .infinity) -> Double {
        var d = 0.0, k = 0
        let m = Double(tail.count)
        ksScan(tail) { value in
            d = Swift.max(d, Swift.abs(value - Double(k) / m))
            k += 1
            return d < bound
        }
        return d
    }

    /// Walks the values from the bottom, handing each one's CDF to `body` until it returns false.
    private func ksScan(_ values: ArraySlice<Double>, _ body: (Double) -> Bool) {
        let integrand = TailIntegrand(alpha: alpha, scaledLambda: scaledLambda)
        let total = integrand.normaliser
        var head = 0.0, previous = 0.0
        for x in values {
            let u = Foundation.log(x / xmin)
            if u > previous {
                head += integrand.integral(from: previous, to: u)
                previous = u
            }
            guard body(Swift.min(1, head / total)) else { return }
        }
    }

    /// Newton's method in L at alpha = 1, where `d ln-likelihood / dL = E[e^u] - T2` and the curvature is
    /// `-Var(e^u)`; as L -> 0 the likelihood falls to -infinity (x^-1 is not normalisable), so the maximum is inside.
    private static func maximiseAtUnitAlpha(meanScaled: Double) -> (Double, Double, Inverse)? {
        var scaled = 1 / meanScaled
        for _ in 0..<200 {
            let moments = TailIntegrand(alpha: 1, scaledLambda: scaled).moments()
            let gradient = moments.meanScaled - meanScaled
            guard moments.varianceScaled > 0, gradient.isFinite else { return nil }
            let step = Swift.max(gradient / moments.varianceScaled, -0.5 * scaled)
            scaled += step
            if Swift.abs(step) < 1e-12 * scaled {
                let determinant = moments.varianceLog * moments.varianceScaled - moments.covariance * moments.covariance
                return (1, scaled, Inverse(aa: moments.varianceScaled / determinant, ll: moments.varianceLog / determinant))
            }
        }
        return nil
    }

    /// The inverse of the Fisher information (the covariance of `(u, e^u)`), per sample.
    struct Inverse { var aa: Double; var ll: Double }

    /// Newton's method on the concave log-likelihood `-alpha T1 - L T2 - ln Z(alpha, L)` in scaled units.
    private static func maximise(meanLog: Double, meanScaled: Double, start: (alpha: Double, scaledLambda: Double)?)
        -> (Double, Double, Inverse)? {
        // The boundary L = 0 is the plain power law, alpha = 1 + 1/T1. It is the maximum when the likelihood does not
        // rise into L > 0 there: the model's mean of x/xmin, (alpha-1)/(alpha-2), is finite and at most the sample's.
        let boundaryAlpha = 1 + 1 / meanLog
        if boundaryAlpha > 2, (boundaryAlpha - 1) / (boundaryAlpha - 2) <= meanScaled {
            return (boundaryAlpha, 0, Inverse(aa: (boundaryAlpha - 1) * (boundaryAlpha - 1), ll: 0))
        }
        var alpha = start?.alpha ?? boundaryAlpha
        var scaled = start?.scaledLambda ?? 1 / meanScaled
        if !(scaled > 0) || !alpha.isFinite { (alpha, scaled) = (boundaryAlpha, 1 / meanScaled) }
        func objective(_ moments: TailIntegrand.Moments, _ alpha: Double, _ scaled: Double) -> Double {
            -alpha * meanLog - scaled * meanScaled - moments.logNormaliser
        }
        var moments = TailIntegrand(alpha: alpha, scaledLambda: scaled).moments()
        var value = objective(moments, alpha, scaled)
        for _ in 0..<200 {
            let (vu, ve, cue) = (moments.varianceLog, moments.varianceScaled, moments.covariance)
            let determinant = vu * ve - cue * cue
            guard determinant > 0, determinant.isFinite else { return nil }
            let gu = moments.meanLog - meanLog, ge = moments.meanScaled - meanScaled
            var stepAlpha = (ve * gu - cue * ge) / determinant
            var stepScaled = (vu * ge - cue * gu) / determinant
            if scaled + stepScaled <= 0 {
                // The quadratic model's peak lies past L = 0, though the optimum is inside (settled above): shrinking
                // the whole step would stall at the boundary, so take each coordinate's own Newton step instead
                // (still an ascent direction), with L at most halved.
                stepAlpha = gu / vu
                stepScaled = Swift.max(ge / ve, -0.5 * scaled)
            }
            var t = 1.0
            var accepted = false
            for _ in 0..<60 {
                let nextAlpha = alpha + t * stepAlpha, nextScaled = scaled + t * stepScaled
                let nextMoments = TailIntegrand(alpha: nextAlpha, scaledLambda: nextScaled).moments()
                let nextValue = objective(nextMoments, nextAlpha, nextScaled)
                if nextValue.isFinite, nextValue >= value - 1e-12 * Swift.abs(value) {
                    (alpha, scaled, moments, value, accepted) = (nextAlpha, nextScaled, nextMoments, nextValue, true)
                    break
                }
                t /= 2
            }
            guard accepted else { return nil }
            if Swift.abs(t * stepAlpha) < 1e-10 * Swift.max(1, Swift.abs(alpha)), Swift.abs(t * stepScaled) < 1e-10 * scaled {
                let final = moments.varianceLog * moments.varianceScaled - moments.covariance * moments.covariance
                return (alpha, scaled, Inverse(aa: moments.varianceScaled / final, ll: moments.varianceLog / final))
            }
        }
        return nil
    }
}

/// `w(u) = exp((1 - alpha) u - L e^u)` on `u >= 0`: the truncated power law's density in `u = ln(x / xmin)`, up to its
/// normaliser, evaluated relative to its peak so nothing overflows.
struct TailIntegrand {
    var alpha: Double
    var scaledLambda: Double
    /// The largest exponent on u >= 0: at `e^u = (1 - alpha) / L` when alpha < 1, else at u = 0.
    let peak: Double

    init(alpha: Double, scaledLambda: Double) {
        self.alpha = alpha
        self.scaledLambda = scaledLambda
        let location = alpha < 1 ? Swift.max(0, Foundation.log((1 - alpha) / scaledLambda)) : 0
        peak = (1 - alpha) * location - scaledLambda * Foundation.exp(location)
    }

    func exponent(_ u: Double) -> Double { (1 - alpha) * u - scaledLambda * Foundation.exp(u) - peak }

    /// Where every moment's integrand, up to `e^(2u) w(u)`, has fallen below e^-60 of its peak and keeps falling.
    var upperLimit: Double {
        // The slowest-decaying integrand is e^(2u) w(u) = exp((3 - alpha) u - L e^u): it peaks at ln((3 - alpha) / L).
        var u = Swift.max(1, alpha < 3 ? Foundation.log((3 - alpha) / scaledLambda) + 1 : 1)
        let top = (3 - alpha) * Swift.max(0, u - 1) - scaledLambda * Foundation.exp(Swift.max(0, u - 1)) - peak
        while (3 - alpha) * u - scaledLambda * Foundation.exp(u) - peak > Swift.min(top, 0) - 60, u < 1e4 { u += Swift.max(1, u / 2) }
        return u
    }

    /// `ln Z`, the means of `u` and `e^u`, and their covariance under the normalised density.
    struct Moments {
        var logNormaliser: Double
        var meanLog: Double
        var meanScaled: Double
        var varianceLog: Double
        var varianceScaled: Double
        var covariance: Double
    }

    func moments() -> Moments {
        let sums = GaussLegendre.adaptive(0, upperLimit, components: 6) { u, out in
            // e^u w and e^(2u) w as single exponentials: far out, e^u overflows where w is already 0.
            let r = exponent(u)
            let w = Foundation.exp(r), ew = Foundation.exp(r + u)
            out[0] = w
            out[1] = u * w
            out[2] = ew
            out[3] = u * u * w
            out[4] = u * ew
            out[5] = Foundation.exp(r + 2 * u)
        }
        let z = sums[0]
        let meanLog = sums[1] / z, meanScaled = sums[2] / z
        return Moments(logNormaliser: Foundation.log(z) + peak, meanLog: meanLog, meanScaled: meanScaled,
                       varianceLog: sums[3] / z - meanLog * meanLog, varianceScaled: sums[5] / z - meanScaled * meanScaled,
                       covariance: sums[4] / z - meanLog * meanScaled)
    }

    /// `∫_0^∞ w`.
    var normaliser: Double { GaussLegendre.adaptive(0, upperLimit, components: 1) { u, out in out[0] = Foundation.exp(exponent(u)) }[0] }

    /// `∫_a^b w`, for the gaps between consecutive eigenvalues (usually narrow, where one rule is exact to rounding).
    func integral(from a: Double, to b: Double) -> Double {
        if b - a <= 0.05 { return GaussLegendre.rule(a, b) { exp(exponent($0)) } }
        return GaussLegendre.adaptive(a, b, components: 1) { u, out in out[0] = Foundation.exp(exponent(u)) }[0]
    }
}

/// Eight-point Gauss-Legendre quadrature, plain and adaptive (a panel is split until its halves agree with it).
enum GaussLegendre {
    static let nodes: [Double] = [-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
                                  0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363]
    static let weights: [Double] = [0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
                                    0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763]

    static func rule(_ a: Double, _ b: Double, _ f: (Double) -> Double) -> Double {
        let half = (b - a) / 2, middle = (a + b) / 2
        var sum = 0.0
        for k in 0..<8 { sum += weights[k] * f(middle + half * nodes[k]) }
        return sum * half
    }

    static func adaptive(_ a: Double, _ b: Double, components: Int, tolerance: Double = 1e-12,
                         _ f: (Double, inout [Double]) -> Void) -> [Double] {
        guard (b - a).isFinite else { return [Double](repeating: .nan, count: components) }
        var scratch = [Double](repeating: 0, count: components)
        func panel(_ a: Double, _ b: Double) -> [Double] {
            var sum = [Double](repeating: 0, count: components)
            let half = (b - a) / 2, middle = (a + b) / 2
            for k in 0..<8 {
                f(middle + half * nodes[k], &scratch)
                for c in 0..<components { sum[c] += weights[k] * scratch[c] * half }
            }
            return sum
        }
        // Start from panels of width about 1 so a narrow peak near u = 0 is never straddled by a single coarse panel.
        let count = Swift.max(1, Swift.min(64, Int((b - a).rounded(.up))))
        var total = [Double](repeating: 0, count: components)
        var stack: [(Double, Double, [Double], Int)] = (0..<count).map { i in
            let lo = a + (b - a) * Double(i) / Double(count), hi = a + (b - a) * Double(i + 1) / Double(count)
            return (lo, hi, panel(lo, hi), 0)
        }
        // Each component's own size sets its tolerance, so the far tail (negligible to every sum) is not refined.
        let scales = (0..<components).map { c in stack.reduce(0) { $0 + Swift.abs($1.2[c]) } }
        var panels = 0
        while let (lo, hi, whole, depth) = stack.popLast() {
            panels += 1
            let mid = (lo + hi) / 2
            let left = panel(lo, mid), right = panel(mid, hi)
            let converged = (0..<components).allSatisfy { c in
                Swift.abs(left[c] + right[c] - whole[c]) <= tolerance * scales[c]
            }
            // A non-finite panel cannot converge by splitting; the caller sees the non-finite sum.
            if converged || depth >= 30 || panels > 20_000 || !left[0].isFinite || !right[0].isFinite {
                for c in 0..<components { total[c] += left[c] + right[c] }
            } else {
                stack.append((lo, mid, left, depth + 1))
                stack.append((mid, hi, right, depth + 1))
            }
        }
        return total
    }
}
