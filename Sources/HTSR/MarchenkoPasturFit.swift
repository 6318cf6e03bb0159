import Foundation

/// A Marchenko-Pastur bulk fitted to an ESD, with the spikes above it: WeightWatcher's `mp_fit` columns, computed by
/// a fit that outliers cannot move.
///
/// As WeightWatcher does, the eigenvalues are first rescaled to mean 1 (`W_scale^2 = count / sum(lambda)`). The
/// bulk of a random `N x M` matrix then follows Marchenko-Pastur with variance `sigma^2` and ratio `Q`:
/// `rho(x) = Q sqrt((x+ - x)(x - x-)) / (2 pi sigma^2 x)` on `x+- = sigma^2 (1 +- Q^-1/2)^2`.
///
/// WeightWatcher fits sigma by a brute-force grid over `[0.05, 2) s0` with `s0` set from the largest eigenvalue,
/// matching a kernel density estimate of all eigenvalues: spikes both widen the grid (coarsening it) and pull the
/// density. Here instead the sorted bulk eigenvalues are matched to Marchenko-Pastur quantiles: for each ratio Q,
/// `sigma^2` is the least-squares slope through the origin of the eigenvalues against the unit-variance quantiles
/// at plotting positions `(i - 1/2) / bulk`, and Q minimises the residual (golden-section search on `ln Q`). Only
/// the eigenvalues between the 5% and 95% positions enter, so spikes cannot move the fit; those above
/// `x+ + 2.02 s_TW` are spikes and are left out of the next round (until the count stops changing), where
/// `s_TW = sigma^2 (1 + Q^-1/2)^(4/3) Q^-1/2 M^(-2/3)` is the Tracy-Widom scale of the largest eigenvalue
/// (Johnstone 2001) and 2.02 its 99th percentile.
public struct MarchenkoPasturFit: Sendable, Equatable, Encodable {
    /// `sigma_mp`: the bulk's standard deviation in the rescaled units (1 for an unstructured random matrix).
    public var sigma: Double
    /// `mp_q`: the fitted aspect ratio (the layer's Q = N/M for an unstructured random matrix).
    public var q: Double
    /// `W_scale`: the factor applied to W so that the eigenvalues have mean 1.
    public var scale: Double
    /// `bulk_min` and `bulk_max`: the Marchenko-Pastur edges in the eigenvalues' own units (as WeightWatcher reports
    /// them, though its sigma_mp is in the rescaled units).
    public var bulkMin: Double
    public var bulkMax: Double
    /// `num_spikes`: eigenvalues above `bulk_max + 2.02 s_TW`.
    public var numSpikes: Int
    /// `mp_softrank`: `bulk_max / lambda_max` (rescaled or not, the ratio is the same).
    public var softRank: Double

    /// The 99th percentile of the Tracy-Widom (beta = 1) law.
    public static let tracyWidom99 = 2.0234

    /// - Parameters:
    ///   - eigenvalues: ascending, all of the layer's (pooled conv slices together).
    ///   - m: the smaller dimension of one matrix, for the Tracy-Widom scale.
    /// Returns nil when fewer than 10 eigenvalues are positive.
    public init?(eigenvalues: [Double], m: Int) {
        let total = eigenvalues.reduce(0, +)
        guard eigenvalues.filter({ $0 > 0 }).count >= 10, total > 0 else { return nil }
        let rescale = Double(eigenvalues.count) / total
        let x = eigenvalues.map { $0 * rescale }
        var spikes = 0
        var fit = Self.fitBulk(x, spikes: 0)
        for _ in 0..<10 {
            let edge = fit.sigma2 * pow(1 + 1 / fit.q.squareRoot(), 2)  // rescaled units, like x
            let tracyWidom = fit.sigma2 * pow(1 + 1 / fit.q.squareRoot(), 4.0 / 3) / fit.q.squareRoot() * pow(Double(m), -2.0 / 3)
            let count = x.filter { $0 > edge + Self.tracyWidom99 * tracyWidom }.count
            if count == spikes { break }
            spikes = min(count, x.count - 10)
            fit = Self.fitBulk(x, spikes: spikes)
        }
        let root = 1 / fit.q.squareRoot()
        sigma = fit.sigma2.squareRoot()
        q = fit.q
        scale = rescale.squareRoot()
        bulkMin = fit.sigma2 * (1 - root) * (1 - root) / rescale
        bulkMax = fit.sigma2 * (1 + root) * (1 + root) / rescale
        numSpikes = spikes
        softRank = bulkMax / eigenvalues.last!
    }

    /// The least-squares quantile fit of the lowest `x.count - spikes` values, over Q in [1, 1000].
    static func fitBulk(_ x: [Double], spikes: Int) -> (sigma2: Double, q: Double) {
        let bulk = Array(x.prefix(x.count - spikes))
        let n = bulk.count
        let used = Array(Int((0.05 * Double(n)).rounded(.down))..<Int((0.95 * Double(n)).rounded(.up)))
        let levels = used.map { (Double($0) + 0.5) / Double(n) }
        func residual(_ logQ: Double) -> (Double, Double) {
            let quantiles = MarchenkoPasturLaw(q: exp(logQ)).quantiles(levels)
            var xy = 0.0, yy = 0.0, xx = 0.0
            for (k, i) in used.enumerated() {
                xy += bulk[i] * quantiles[k]
                yy += quantiles[k] * quantiles[k]
                xx += bulk[i] * bulk[i]
            }
            return (xx - xy * xy / yy, xy / yy)
        }
        // Golden-section search for the residual's minimum in ln Q.
        var (a, b) = (0.0, log(1000.0))
        let ratio = (5.0.squareRoot() - 1) / 2
        var c = b - ratio * (b - a), d = a + ratio * (b - a)
        var fc = residual(c).0, fd = residual(d).0
        for _ in 0..<40 {
            if fc < fd { (b, d, fd) = (d, c, fc); c = b - ratio * (b - a); fc = residual(c).0 }
            else { (a, c, fc) = (c, d, fd); d = a + ratio * (b - a); fd = residual(d).0 }
        }
        let logQ = (a + b) / 2
        return (residual(logQ).1, exp(logQ))
    }
}

/// The Marchenko-Pastur law with unit variance and ratio `Q = N/M >= 1`.
struct MarchenkoPasturLaw {
    var q: Double

    /// The theta grid, pi down to 0, is the same for every Q: its cosines and squared sines are computed once.
    static let steps = 4096
    static let cosines = (0...steps).map { cos(Double.pi - Double($0) * Double.pi / Double(steps)) }
    static let sineSquares = (0...steps).map { pow(sin(Double.pi - Double($0) * Double.pi / Double(steps)), 2) }

    /// The quantiles at ascending `levels` in (0, 1), by inverting the CDF tabulated in `x = c + r cos(theta)`,
    /// where the density becomes the smooth `r^2 sin^2(theta) / (2 pi y x)` (y = 1/Q) with no endpoint singularity.
    func quantiles(_ levels: [Double]) -> [Double] {
        let y = 1 / q, c = 1 + y, r = 2 * y.squareRoot()
        let steps = Self.steps
        // theta from pi (the lower edge) down to 0 (the upper edge); cumulative mass by the trapezoid rule.
        var xs = [Double](repeating: 0, count: steps + 1), mass = xs
        func density(_ k: Int) -> Double {
            let x = c + r * Self.cosines[k]
            return x > 0 ? r * r * Self.sineSquares[k] / (2 * Double.pi * y * x) : 0
        }
        let h = Double.pi / Double(steps)
        var previous = density(0)
        xs[0] = c - r
        for k in 1...steps {
            let value = density(k)
            mass[k] = mass[k - 1] + (previous + value) / 2 * h
            xs[k] = c + r * Self.cosines[k]
            previous = value
        }
        // For Q = 1 the density x^(-1/2) near 0 makes the integrand (1 - cos theta) at theta = pi: smooth, but the
        // trapezoid total is not exactly 1, so normalise.
        let total = mass[steps]
        var result: [Double] = []
        var k = 1
        for level in levels {
            let target = level * total
            while k < steps, mass[k] < target { k += 1 }
            let fraction = (target - mass[k - 1]) / Swift.max(mass[k] - mass[k - 1], .leastNormalMagnitude)
            result.append(xs[k - 1] + fraction * (xs[k] - xs[k - 1]))
        }
        return result
    }
}
