import Foundation

/// SETOL's ERG condition (Martin and Hinrichs, "SETOL", 2025): the tail where `Tr ln X = 0`, i.e. where the
/// product of the rescaled eigenvalues crosses 1, as WeightWatcher's `detX` columns report it.
///
/// Eigenvalues are rescaled to mean 1, `lambda~ = lambda n / sum(lambda)`. Scanning from the largest down, `index`
/// is the largest i with `prod_{j >= i} lambda~_j < 1` (sums of logarithms, so nothing overflows). Then
/// `num = n - index` eigenvalues make up the ERG tail, `value = lambda_index` in the original units, and
/// `delta = (xmin - value) n / sum(lambda)`, in rescaled units (SETOL's Delta lambda_min: near 0 when the
/// power-law tail and the ERG tail agree, alpha near 2).
public struct DetX: Sendable, Equatable, Encodable {
    /// `detX_num`: how many eigenvalues the ERG tail holds.
    public var num: Int
    /// `detX_val`: the smallest eigenvalue of that tail, original units.
    public var value: Double
    /// `detX_delta`: power-law xmin minus `value`, rescaled; nil without a power-law fit.
    public var delta: Double?

    /// - Parameters:
    ///   - eigenvalues: ascending. Returns nil when no product falls below 1 (all eigenvalues equal, or none
    ///     positive).
    ///   - xmin: the power-law fit's xmin, for `delta`; nil without a fit.
    public init?(eigenvalues: [Double], xmin: Double?) {
        let total = eigenvalues.reduce(0, +), n = eigenvalues.count
        guard n > 0, total > 0 else { return nil }
        let scale = Double(n) / total
        var logProduct = 0.0
        var found: Int?
        for index in stride(from: n - 1, through: 0, by: -1) {
            guard eigenvalues[index] > 0 else { break }
            logProduct += Foundation.log(eigenvalues[index] * scale)
            if logProduct < 0 {
                found = index
                break
            }
        }
        guard let index = found else { return nil }
        num = n - index
        value = eigenvalues[index]
        delta = xmin.map { ($0 - eigenvalues[index]) * scale }
    }
}
