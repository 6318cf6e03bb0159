import Foundation
import Plotting

extension LandscapeGrid {
    /// The SVG `curvature landscape --plot` writes: for a 1-D slice, the quantity's curve (and its test-set twin);
    /// for a 2-D slice, its contour lines over a filled heatmap, with `path` drawn through its points in order (a
    /// trajectory's projection) and `points` as labelled dots (the models a plane passes through). With
    /// `logarithmic`, values are shown on a log10 scale.
    public func plot(
        quantity: String = "loss", logarithmic: Bool = false, title: String, xLabel: String = "x", yLabel: String = "y",
        path: [Landmark] = [], points: [Landmark] = []
    ) -> String {
        let values = self[quantity] ?? loss
        guard y.count >= 2, x.count >= 2 else {
            var series = [LinePlot.Series(name: quantity, x: x, y: values)]
            let twin = quantity.hasPrefix("test_") ? String(quantity.dropFirst(5)) : "test_" + quantity
            if let other = self[twin] { series.append(.init(name: twin, x: x, y: other, color: "#ff7f0e")) }
            return LinePlot(title: title, xLabel: xLabel, yLabel: quantity, logY: logarithmic, series: series,
                            markers: (path + points).map { .init(x: $0.a, label: $0.name, color: "#555555") }).svg()
        }
        let toPoint = { (landmark: Landmark) in ContourPlot.Point(name: landmark.name, x: landmark.a, y: landmark.b) }
        return ContourPlot(title: title, xLabel: xLabel, yLabel: yLabel, valueLabel: quantity, x: x, y: y, values: values,
                           logarithmic: logarithmic, path: path.map(toPoint), points: points.map(toPoint)).svg()
    }
}
