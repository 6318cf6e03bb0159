import Foundation
import LinearAlgebra

/// WeightWatcher's randomisation test: the layer's entries shuffled (which keeps their distribution but destroys
/// their correlations), its ESD computed again, and the two compared. Seeded per layer here (WeightWatcher's
/// shuffle is not): layer `id` shuffles with `SeededRandom(seed: seed ^ (id * 0x9E3779B97F4A7C15))`.
public struct Randomization: Sendable, Equatable, Codable {
    /// `rand_distance`: the Jensen-Shannon distance (square root of the divergence, natural logarithm) between the
    /// sorted eigenvalues of W and of shuffled W, each normalised to sum 1.
    public var distance: Double
    /// `max_rand_eval`: the largest eigenvalue of shuffled W.
    public var maxRandomEigenvalue: Double
    /// `ww_softrank = max_rand_eval / lambda_max`: near 1 when W looks random, small when a spike stands out.
    public var softRank: Double
    /// `ww_maxdist = lambda_max - max_rand_eval`.
    public var maxDistance: Double

    init(eigenvalues: [Double], randomized: [Double]) {
        let largest = eigenvalues.last ?? 0, randomLargest = randomized.last ?? 0
        distance = jensenShannonDistance(eigenvalues, randomized)
        maxRandomEigenvalue = randomLargest
        softRank = largest > 0 ? randomLargest / largest : 0
        maxDistance = largest - randomLargest
    }

    /// Each matrix's entries shuffled in place (Fisher-Yates), from `random`.
    static func shuffled(_ matrices: [Tensor<Double>], using random: inout SeededRandom) -> [Tensor<Double>] {
        matrices.map { matrix in
            var values = matrix.scalars
            for i in stride(from: values.count - 1, to: 0, by: -1) {
                let j = Int(random.next() % UInt64(i + 1))
                values.swapAt(i, j)
            }
            return Tensor(shape: matrix.shape, scalars: values)
        }
    }
}

/// sqrt(JSD(p || q)), natural logarithm, of two non-negative vectors of the same length, each normalised to sum 1
/// (scipy's `jensenshannon`): 0 for proportional vectors, sqrt(ln 2) for disjoint ones.
public func jensenShannonDistance(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "Jensen-Shannon distance of vectors of different lengths")
    let (sa, sb) = (a.reduce(0, +), b.reduce(0, +))
    guard sa > 0, sb > 0 else { return 0 }
    var divergence = 0.0
    for (x, y) in zip(a, b) {
        let (p, q) = (max(0, x) / sa, max(0, y) / sb)
        let m = (p + q) / 2
        if p > 0 { divergence += 0.5 * p * Foundation.log(p / m) }
        if q > 0 { divergence += 0.5 * q * Foundation.log(q / m) }
    }
    return max(0, divergence).squareRoot()
}
