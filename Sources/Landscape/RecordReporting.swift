import Foundation
import Reporting

extension LandscapeRecord: Report {
    /// A few lines for people: the settings, the grid, the axes' norms, and the centre, lowest and highest points.
    public func table() -> String {
        let s = settings
        return (["\(s.objective.model) on \(s.objective.data): \(s.axes.rawValue) axes, normalization \(s.normalization.rawValue) (bias-bn \(s.biasBn.rawValue)), " +
                 "seed \(s.seed), bn_mode \(s.objective.bnMode.rawValue), \(s.objective.precision.rawValue)"] + summaryLines).joined(separator: "\n") + "\n"
    }

    /// The grid, the axes' norms, and the centre, lowest and highest points, a line each.
    var summaryLines: [String] {
        let number = { (v: Double) in String(format: "%.6g", v) }
        var lines: [String] = []
        let axesText = grid.y.isEmpty ? "\(grid.x.count) points, a in [\(number(grid.x.first!)), \(number(grid.x.last!))]"
            : "\(grid.x.count) x \(grid.y.count) grid (values [ny, nx]), a in [\(number(grid.x.first!)), \(number(grid.x.last!))], " +
              "b in [\(number(grid.y.first!)), \(number(grid.y.last!))]"
        let computed = grid.pointCount - grid.missing.count
        lines.append(axesText + "; \(computed) of \(grid.pointCount) points computed" + (shard.map { " (shard \($0))" } ?? ""))
        lines.append("direction norms: " + directionNorms.map(number).joined(separator: ", ") +
                     (axisEigenvalues.isEmpty ? "" : "; axis eigenvalues: " + axisEigenvalues.map(number).joined(separator: ", ")) +
                     (explainedVariance.isEmpty ? "" : "; explained variance: " + explainedVariance.map { String(format: "%.4f", $0) }.joined(separator: ", ")))
        if computed > 0 {
            let centre = (0..<grid.pointCount).min { a, b in
                let (p, q) = (grid.coordinates(a), grid.coordinates(b))
                return p.a * p.a + p.b * p.b < q.a * q.a + q.b * q.b
            }!
            let describe = { (index: Int) -> String in
                let (a, b) = grid.coordinates(index)
                let values = zip(grid.quantities, grid.values).map { "\($0) \(number($1[index]))" }.joined(separator: ", ")
                return "(\(number(a))\(grid.y.isEmpty ? "" : ", \(number(b))")): \(values)"
            }
            let finite = grid.loss.indices.filter { grid.loss[$0].isFinite }
            lines.append("centre " + describe(centre))
            if let low = finite.min(by: { grid.loss[$0] < grid.loss[$1] }) { lines.append("lowest loss at " + describe(low)) }
            if let high = finite.max(by: { grid.loss[$0] < grid.loss[$1] }) { lines.append("highest loss at " + describe(high)) }
        }
        return lines
    }

    /// The report as one self-contained HTML page: the settings, the summary lines, the plot of `appearance`'s
    /// quantity, and the values as a table (for a 2-D grid, the plotted quantity with b down and a across; for a
    /// 1-D slice, every quantity per point) when the grid has at most 41 columns.
    public func page(appearance: Appearance = Appearance()) -> HTMLPage {
        let s = settings
        var pairs = [("model", s.objective.model), ("data", s.objective.data), ("axes", s.axes.rawValue),
                     ("normalization", "\(s.normalization.rawValue) (bias-bn \(s.biasBn.rawValue))"),
                     ("bn_mode", s.objective.bnMode.rawValue), ("precision", s.objective.precision.rawValue), ("seed", String(s.seed))]
        if let directions = s.directions { pairs.append(("directions", directions)) }
        let number = { (v: Double) in String(format: "%.6g", v) }
        var blocks: [HTMLPage.Block] = [.text(summaryLines), .svg(svg(appearance))]
        let quantity = grid.quantities.contains(appearance.plotQuantity) ? appearance.plotQuantity : grid.quantities[0]
        if grid.y.isEmpty {
            let rows = grid.x.indices.map { i in [number(grid.x[i])] + grid.values.map { number($0[i]) } }
            blocks.append(.table(TableContent(header: ["a"] + grid.quantities, rows: rows, rightAligned: Set(0...grid.quantities.count))))
        } else if grid.x.count <= 41, let values = grid[quantity] {
            let rows = grid.y.indices.reversed().map { j in [number(grid.y[j])] + grid.x.indices.map { number(values[j * grid.x.count + $0]) } }
            blocks.append(.text(["\(quantity) at (a, b): b down, a across"]))
            blocks.append(.table(TableContent(header: ["b \\ a"] + grid.x.map(number), rows: rows, rightAligned: Set(0...grid.x.count))))
        }
        let title = appearance.title.isEmpty ? "Loss landscape of \(URL(fileURLWithPath: s.objective.model).lastPathComponent)" : appearance.title
        return HTMLPage(title: title, settings: pairs, sections: [HTMLPage.Section(grid.y.isEmpty ? "Slice" : "Surface", blocks)])
    }

    /// The long form: one row per point, x, y and every quantity.
    public func csv() -> String { grid.csv() }
}
