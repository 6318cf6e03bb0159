import Foundation

/// Scalar summaries of a spectrum from SLQ quadrature rules, each defined in docs/spectrum.md with its reference.
public struct CurvatureCriteria: Sendable, Codable, Equatable {
    /// `|min node / max node|` over all probes' Ritz values (LLA's re, Loss Landscape Analysis library).
    public var re: Double
    /// `Kh_0.5 = sum_{theta<0} |theta w|^0.5 / sum_{theta>0} (theta w)^0.5` per probe, averaged over probes (LLA).
    public var kh05: Double
    /// The quadrature weight of negative nodes, averaged over probes: the estimated fraction of eigenvalues below 0.
    public var negativeMass: Double
    /// `lambda_max / lambda_min+`: the largest eigenvalue over the smallest positive resolved one (nil if none).
    public var condition: Double?
    /// Resolved eigenvalues above the bulk edge (median over probes).
    public var outliers: Int
    /// The upper end of the bulk, by the rule in ``compute(rules:dimension:eigenvalues:)``.
    public var bulkEdge: Double

    /// A Ritz value is resolved when its residual is at most this fraction of its magnitude: the interval
    /// `[theta - r, theta + r]`, which holds an eigenvalue, is then within 0.1% of theta.
    public static let resolution = 1e-3

    /// The criteria of an n-dimensional operator from its SLQ rules, plus eigenvalues known otherwise (Lanczos pairs,
    /// with their residuals) for the condition estimate.
    ///
    /// The bulk edge rule, fixed before use: pool every probe's nodes with weight `w / probes`, smooth them with a
    /// Gaussian of width `sigma = (max node - min node) / m` (m = Lanczos steps), and call a point supported where the
    /// smoothed density exceeds half the peak of one eigenvalue's smoothed mass, `(1/n) / (2 sqrt(2 pi) sigma)`. The
    /// bulk is the connected supported interval with the most mass; its upper end is the bulk edge. Each probe's
    /// resolved nodes above the edge are counted, and `outliers` is the median count (single-vector Lanczos sees one
    /// copy of a repeated eigenvalue, so a multiple outlier counts once).
    public static func compute(
        rules: [QuadratureRule], dimension n: Int, eigenvalues known: [(value: Double, residual: Double)] = []
    ) -> CurvatureCriteria {
        precondition(!rules.isEmpty, "criteria need at least one SLQ probe")
        let allNodes = rules.flatMap(\.nodes)
        let (lowest, highest) = (allNodes.min()!, allNodes.max()!)
        let re = highest != 0 ? abs(lowest / highest) : .infinity
        let kh = rules.map { rule -> Double in
            var negative = 0.0, positive = 0.0
            for (theta, w) in zip(rule.nodes, rule.weights) {
                if theta < 0 { negative += abs(theta * w).squareRoot() } else if theta > 0 { positive += (theta * w).squareRoot() }
            }
            return positive > 0 ? negative / positive : .infinity
        }
        let negativeMass = rules.map { rule in zip(rule.nodes, rule.weights).filter { $0.0 < 0 }.reduce(0) { $0 + $1.1 } }
        let candidates = known + rules.flatMap { rule in zip(rule.nodes, rule.residuals).map { (value: $0.0, residual: $0.1) } }
        let positives = candidates.filter { $0.value > 0 && isResolved($0.value, residual: $0.residual) }.map(\.value)
        let condition = positives.min().map { smallest in max(highest, positives.max()!) / smallest }
        let edge = bulkEdge(rules: rules, dimension: n)
        let counts = rules.map { resolvedNodes($0, above: edge).count }.sorted()
        return CurvatureCriteria(re: re, kh05: kh.reduce(0, +) / Double(kh.count),
                                 negativeMass: negativeMass.reduce(0, +) / Double(rules.count), condition: condition,
                                 outliers: counts[counts.count / 2], bulkEdge: edge)
    }

    /// The distinct resolved Ritz values above the bulk edge over all probes, ascending (values within 1e-6 relative
    /// of each other are one eigenvalue seen by several probes).
    public func outlierEigenvalues(in rules: [QuadratureRule]) -> [Double] {
        let values = rules.flatMap { Self.resolvedNodes($0, above: bulkEdge) }.sorted()
        return values.reduce(into: [Double]()) { distinct, value in
            if let last = distinct.last, abs(value - last) <= 1e-6 * abs(value) { return }
            distinct.append(value)
        }
    }

    static func isResolved(_ theta: Double, residual: Double) -> Bool { residual <= resolution * abs(theta) }

    /// A rule's resolved nodes above `edge`.
    static func resolvedNodes(_ rule: QuadratureRule, above edge: Double) -> [Double] {
        zip(rule.nodes, rule.residuals).filter { $0.0 > edge && isResolved($0.0, residual: $0.1) }.map(\.0)
    }

    static func bulkEdge(rules: [QuadratureRule], dimension n: Int) -> Double {
        let nodes = rules.flatMap(\.nodes)
        let weights = rules.flatMap { $0.weights.map { $0 / Double(rules.count) } }
        let (lowest, highest) = (nodes.min()!, nodes.max()!)
        let steps = rules.map(\.nodes.count).max()!
        guard highest > lowest else { return highest }
        let sigma = (highest - lowest) / Double(steps)
        let threshold = 1 / Double(n) / (2 * (2 * Double.pi).squareRoot() * sigma)
        let spacing = sigma / 4
        let start = lowest - 6 * sigma
        let count = Int(((highest + 6 * sigma - start) / spacing).rounded(.up)) + 1
        var density = [Double](repeating: 0, count: count)
        for (node, weight) in zip(nodes, weights) {
            let center = Int(((node - start) / spacing).rounded())
            for j in max(0, center - 28)...min(count - 1, center + 28) {
                let d = (start + Double(j) * spacing - node) / sigma
                density[j] += weight * exp(-d * d / 2) / ((2 * Double.pi).squareRoot() * sigma)
            }
        }
        // Connected supported intervals; the one with most mass is the bulk.
        var best = (mass: -1.0, end: highest), mass = 0.0
        for j in 0..<count {
            if density[j] > threshold {
                mass += density[j] * spacing
                if j == count - 1 || density[j + 1] <= threshold {
                    if mass > best.mass { best = (mass, start + Double(j) * spacing) }
                    mass = 0
                }
            }
        }
        return best.end
    }
}
