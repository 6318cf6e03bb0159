import Foundation
import LinearAlgebra

/// An interval that encloses an operator's whole spectrum.
public struct SpectralBounds: Sendable, Codable, Equatable {
    public var lower: Double
    public var upper: Double
    public var center: Double { (upper + lower) / 2 }
    public var halfWidth: Double { (upper - lower) / 2 }

    /// From `steps` Lanczos steps on a random start: every eigenvalue lies within `[theta_min - ||r_min||,
    /// theta_max + ||r_max||]` (a Ritz pair's residual bounds its distance to an eigenvalue, and the extreme Ritz
    /// values approach the extreme eigenvalues from inside), widened by `margin` of the width on each side.
    public static func estimate(
        _ linearOperator: any LinearOperator, steps: Int = 30, margin: Double = 0.01, seed: UInt64 = 0
    ) throws -> SpectralBounds {
        let start = rademacherProbe(dimension: linearOperator.dimension, seed: seed, family: .densityBounds, index: 0)
        let rule = try lanczosRules(linearOperator, starts: [start], steps: steps)[0]
        let low = rule.nodes.first! - rule.residuals.first!, high = rule.nodes.last! + rule.residuals.last!
        let pad = margin * max(high - low, 1e-12 * max(abs(high), abs(low), 1))
        return SpectralBounds(lower: low - pad, upper: high + pad)
    }
}

/// The kernel polynomial method (Weisse, Wellein, Alvermann and Fehske 2006; Lin, Saad and Yang 2016).
///
/// With `A~ = (A - c) / d` mapping the bounds onto [-1, 1], the Chebyshev moments
/// `mu_k = E[v^T T_k(A~) v] / n` (v Rademacher) are computed by the recurrence `T_{k+1} = 2 A~ T_k - T_{k-1}`, two
/// moments per product (`mu_{2k} = 2 t_k.t_k - mu_0`, `mu_{2k+1} = 2 t_{k+1}.t_k - mu_1`, t_k = T_k(A~) v). With
/// Jackson damping `g_k` the density is
/// `rho~(x) = [g_0 mu_0 + 2 sum_{k>=1} g_k mu_k T_k(x)] / (pi sqrt(1 - x^2))`, evaluated on Chebyshev nodes by one
/// DCT-III (FFTW REDFT01), and `rho(lambda) = rho~((lambda - c) / d) / d`.
public struct KernelPolynomialMethod: Sendable {
    /// M, the number of Chebyshev moments (about M/2 products per probe).
    public var moments: Int
    public var seed: UInt64
    public var blockSize: Int

    public init(moments: Int = 100, seed: UInt64 = 0, blockSize: Int = 1) {
        precondition(moments >= 2, "KPM needs at least two moments")
        self.moments = moments
        self.seed = seed
        self.blockSize = blockSize
    }

    /// Each probe's moments `v^T T_k(A~) v / n`, k < M, continuing from `completed` probes and recording after
    /// every block.
    public func probeMoments(
        _ linearOperator: any LinearOperator, bounds: SpectralBounds, probes count: Int, completed: [[Double]] = [],
        record: ([[Double]]) throws -> Void = { _ in }
    ) throws -> [[Double]] {
        let n = linearOperator.dimension
        let (c, d) = (bounds.center, bounds.halfWidth)
        // A~ x = (A x - c x) / d.
        func scaled(_ xs: [Tensor<Double>]) -> [Tensor<Double>] {
            zip(xs, linearOperator.apply(block: xs)).map { x, ax in
                var y = ax
                y.addScaled(x, by: -c)
                return y * (1 / d)
            }
        }
        let half = moments / 2  // t_0 ... t_half are needed
        return try runProbeBlocks(count: count, completed: completed, blockSize: blockSize, compute: { range in
            let v = rademacherProbes(dimension: n, seed: seed, family: .density, range)
            var previous = v, current = scaled(v)
            var mu = [[Double]](repeating: [Double](repeating: 0, count: moments), count: v.count)
            for p in v.indices {
                mu[p][0] = v[p].dot(v[p])
                mu[p][1] = current[p].dot(v[p])
            }
            // Invariant: previous = t_{k-1}, current = t_k.
            for k in 1...max(1, half) {
                for p in v.indices {
                    if 2 * k < moments { mu[p][2 * k] = 2 * current[p].dot(current[p]) - mu[p][0] }
                }
                guard 2 * k + 1 < moments else { break }
                let next = zip(scaled(current), previous).map { ax, prev in
                    var t = ax * 2
                    t.addScaled(prev, by: -1)
                    return t
                }
                for p in v.indices {
                    mu[p][2 * k + 1] = 2 * next[p].dot(current[p]) - mu[p][1]
                }
                (previous, current) = (current, next)
            }
            return mu.map { $0.map { $0 / Double(n) } }
        }, record: record)
    }

    /// Jackson's damping factors for M moments.
    public static func jacksonDamping(_ m: Int) -> [Double] {
        let a = Double.pi / Double(m + 1)
        return (0..<m).map { k in
            (Double(m - k + 1) * cos(a * Double(k)) + sin(a * Double(k)) / tan(a)) / Double(m + 1)
        }
    }

    /// The damped density from moments averaged over probes, on `points` Chebyshev nodes mapped to the lambda axis
    /// (ascending). With `logSpectrum`, the density of `t = log10(|lambda| + epsilon)` on `points` equally spaced t,
    /// by the change of variables `rho_t(t) = (rho(l) + rho(-l)) ln(10) 10^t`, `l = 10^t - epsilon`, averaged over the
    /// cell of width `dt` around each t: the mass of |lambda| in that cell over `dt`, from the series' exact integral
    /// (`chebyshevMass`). Point values would not do: `rho` has a `1 / sqrt(1 - x^2)` singularity at the
    /// spectral bounds, and a grid point that lands next to it takes arbitrary mass.
    public static func density(
        moments averaged: [Double], bounds: SpectralBounds, points: Int = 10000, logSpectrum: Bool = false, epsilon: Double? = nil
    ) -> SpectralDensity {
        let damping = jacksonDamping(averaged.count)
        let coefficients = zip(averaged, damping).map(*)
        let (c, d) = (bounds.center, bounds.halfWidth)
        if logSpectrum {
            let scale = max(abs(bounds.lower), abs(bounds.upper))
            let shift = epsilon ?? SpectralDensity.defaultEpsilon(scale: scale)
            let (low, high) = (log10(shift), log10(scale + shift))
            let step = (high - low) / Double(max(1, points - 1))
            let grid = (0..<points).map { low + step * Double($0) }
            // The mass of |lambda| in [a, b], 0 <= a < b: that of [a, b] and of [-b, -a].
            func mass(_ a: Double, _ b: Double) -> Double {
                chebyshevMass(coefficients, from: (a - c) / d, to: (b - c) / d) + chebyshevMass(coefficients, from: (-b - c) / d, to: (-a - c) / d)
            }
            let values = grid.map { t -> Double in
                let (a, b) = (max(0, pow(10, t - step / 2) - shift), pow(10, t + step / 2) - shift)
                return max(0, mass(a, b)) / step
            }
            return SpectralDensity(grid: grid, values: values, logSpectrum: true)
        }
        var input = [Double](repeating: 0, count: points)
        for k in 0..<min(points, coefficients.count) { input[k] = coefficients[k] }
        let transformed = DiscreteCosineTransform<Double>(count: points, kind: .typeIII)(input)
        // Node j is x_j = cos(pi (j + 1/2) / N), descending in j: reverse for an ascending grid.
        var grid: [Double] = [], values: [Double] = []
        for j in (0..<points).reversed() {
            let x = cos(Double.pi * (Double(j) + 0.5) / Double(points))
            grid.append(c + d * x)
            values.append(transformed[j] / (Double.pi * (1 - x * x).squareRoot()) / d)
        }
        return SpectralDensity(grid: grid, values: values, logSpectrum: false)
    }
}

/// The integral over [x1, x2] (clamped to [-1, 1]) of the density `(c_0 + 2 sum_{k>=1} c_k T_k(x)) / (pi sqrt(1 - x^2))`.
/// With x = cos(theta), `int_{-1}^{x} = (c_0 (pi - theta) - 2 sum_{k>=1} c_k sin(k theta) / k) / pi`.
func chebyshevMass(_ c: [Double], from x1: Double, to x2: Double) -> Double {
    func cumulative(_ x: Double) -> Double {
        let theta = acos(min(1, max(-1, x)))
        var sum = c[0] * (Double.pi - theta)
        for k in 1..<max(1, c.count) { sum -= 2 * c[k] * sin(Double(k) * theta) / Double(k) }
        return sum / Double.pi
    }
    return x2 <= x1 ? 0 : cumulative(x2) - cumulative(x1)
}
