import Foundation
import Plotting

extension LinePlot {
    /// One layer's ESD on log-log axes, as `curvature htsr --plot` draws it: a histogram density over `bins`
    /// log-spaced bins from the smallest positive eigenvalue to the largest (dots), the fitted power law
    /// `p(x) = f (alpha - 1) / xmin (x / xmin)^-alpha` over the tail (f the fraction of eigenvalues >= xmin, so the line
    /// sits on the histogram), and xmin marked.
    public static func empiricalSpectralDensity(
        eigenvalues: [Double], alpha: Double?, xmin: Double?, truncation lambda: Double? = nil, title: String, bins: Int = 40
    ) -> LinePlot {
        let positive = eigenvalues.filter { $0 > 0 && $0.isFinite }.sorted()
        var series: [Series] = []
        var markers: [Marker] = []
        if let low = positive.first, let high = positive.last, high > low {
            let (logLow, logHigh) = (Foundation.log10(low), Foundation.log10(high))
            let edges = (0...bins).map { pow(10, logLow + (logHigh - logLow) * Double($0) / Double(bins)) }
            var counts = [Int](repeating: 0, count: bins)
            for value in positive {
                let bin = min(bins - 1, Int((Foundation.log10(value) - logLow) / (logHigh - logLow) * Double(bins)))
                counts[bin] += 1
            }
            let total = Double(positive.count)
            let centres: [Double] = (0..<bins).map { (edges[$0] * edges[$0 + 1]).squareRoot() }
            let density: [Double] = (0..<bins).map { bin -> Double in
                let width: Double = edges[bin + 1] - edges[bin]
                return Double(counts[bin]) / (total * width)
            }
            let kept = (0..<bins).filter { counts[$0] > 0 }
            series.append(Series(name: "ESD", x: kept.map { centres[$0] }, y: kept.map { density[$0] }, dots: true))
            if let alpha, let xmin, xmin > 0, alpha > 1 || lambda != nil {
                let fraction = Double(positive.filter { $0 >= xmin }.count) / Double(positive.count)
                let xs: [Double] = (0...40).map { step -> Double in xmin * pow(high / xmin, Double(step) / 40) }
                if let lambda {
                    let law = TruncatedPowerLaw(alpha: alpha, lambda: lambda, xmin: xmin)
                    series.append(Series(name: String(format: "truncated power law, alpha %.2f, Lambda %.3g", alpha, lambda), x: xs,
                                         y: xs.map { fraction * law.density($0) }, color: "#d62728"))
                } else {
                    let ys: [Double] = xs.map { x -> Double in fraction * (alpha - 1) / xmin * pow(x / xmin, -alpha) }
                    series.append(Series(name: String(format: "power law, alpha %.2f", alpha), x: xs, y: ys, color: "#d62728"))
                }
                markers.append(Marker(x: xmin, label: String(format: "xmin %.3g", xmin), color: "#555555"))
            }
        }
        return LinePlot(title: title, xLabel: "eigenvalue", yLabel: "density", logX: true, logY: true, series: series, markers: markers)
    }

    /// Alpha per layer with WeightWatcher's thresholds: below 2 over-trained, above 6 under-trained.
    public static func alphaPerLayer(layerIDs: [Int], alphas: [Double], title: String) -> LinePlot {
        LinePlot(title: title, xLabel: "layer_id", yLabel: "alpha",
                 series: [Series(name: "alpha", x: layerIDs.map(Double.init), y: alphas, dots: true)],
                 horizontalLines: [(2, "2: over-trained below"), (6, "6: under-trained above")])
    }
}
