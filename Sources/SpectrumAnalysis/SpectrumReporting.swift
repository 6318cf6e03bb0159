import Foundation
import ModelImport
import Plotting
import Reporting
import Spectra

extension SpectrumReport: Report {
    /// The run's settings, one line per row, the largest residual, and the estimates as sentences.
    public func table() -> String {
        "\(model) on \(data) (\(nSamples) samples): \(matrix.rawValue)\(lossFunction == .crossEntropy ? "" : " of " + lossFunction.rawValue), \(method.rawValue), " +
            "bn_mode \(bnMode.rawValue), \(precision.rawValue), seed \(seed)\n\n" +
            eigenvalueTable.text() + "\n" + notes.map { $0 + "\n" }.joined()
    }

    /// One row per (checkpoint, parameter group): loss, eigenvalues, products and convergence.
    var eigenvalueTable: TableContent {
        let values = { (list: [Double]) in list.map { String(format: "%.6g", $0) }.joined(separator: " ") }
        let showCheckpoint = rows.contains { $0.checkpoint != nil }
        let header = (showCheckpoint ? ["checkpoint"] : []) + ["parameters", "n_parameters", "loss", "top eigenvalues", "bottom eigenvalues", "matvecs", "converged"]
        let lines = rows.map { row in
            (showCheckpoint ? [row.checkpoint ?? ""] : []) + [row.parameters, String(row.nParameters), String(format: "%.6f", row.loss),
             values(row.topEigenvalues), values(row.bottomEigenvalues), String(row.matvecs), row.converged ? "yes" : "NO"]
        }
        return TableContent(header: header, rows: lines, rightAligned: Set([showCheckpoint ? 2 : 1]))
    }

    /// The largest residual, the estimates as sentences, and what the export changed, one line each.
    var notes: [String] {
        let worst = rows.flatMap { $0.residuals.top + $0.residuals.bottom }.max() ?? 0
        let hasEigenpairs = rows.contains { !$0.topEigenvalues.isEmpty || !$0.bottomEigenvalues.isEmpty }
        let residual = hasEigenpairs
            ? ["largest residual ||H v - lambda v||: \(String(format: "%.2e", worst)) (tolerance \(String(format: "%.0e", tolerance)) x ||H||)"] : []
        let export = ExportNotes.text(batchNormFolded: batchNormFolded, untied: untiedTensors)
        return residual + rows.flatMap(Self.estimatesSummary) + export.split(separator: "\n").map(String.init)
    }

    /// The report as one self-contained HTML page, with `plot` (the density SVG, when one was estimated) inline.
    public func page(plot: String? = nil) -> HTMLPage {
        let settings = [("model", model), ("data", "\(data) (\(nSamples) samples)"), ("matrix", matrix.rawValue), ("loss_function", lossFunction.rawValue), ("method", method.rawValue),
                        ("bn_mode", bnMode.rawValue), ("precision", precision.rawValue), ("tolerance", String(format: "%.0e", tolerance)),
                        ("seed", String(seed))]
        var sections = [HTMLPage.Section("Eigenvalues", [.table(eigenvalueTable), .text(notes)])]
        if let plot { sections.append(HTMLPage.Section("Spectral density", [.svg(plot)])) }
        return HTMLPage(title: "\(matrix.rawValue) spectrum of \(URL(fileURLWithPath: model).lastPathComponent)", settings: settings, sections: sections)
    }

    /// One row per (checkpoint, parameter group); eigenvalues joined by ';'.
    public func csv() -> String {
        let header = ["checkpoint", "parameters", "n_parameters", "loss", "top_eigenvalues", "bottom_eigenvalues", "matvecs", "converged",
                      "trace", "trace_stderr", "re", "kh05", "negative_mass", "condition", "outliers", "bulk_edge"]
        let optional = { (value: Double?) in value.map { "\($0)" } ?? "" }
        return Rendering.csv(header: header, rows: rows.map { row in
            [row.checkpoint ?? "", row.parameters, String(row.nParameters), "\(row.loss)",
             row.topEigenvalues.map { "\($0)" }.joined(separator: ";"), row.bottomEigenvalues.map { "\($0)" }.joined(separator: ";"),
             String(row.matvecs), String(row.converged), optional(row.trace?.estimate), optional(row.trace?.stderr),
             optional(row.criteria?.re), optional(row.criteria?.kh05), optional(row.criteria?.negativeMass),
             optional(row.criteria?.condition), row.criteria.map { String($0.outliers) } ?? "", optional(row.criteria?.bulkEdge)]
        })
    }

    /// The trace, density and criteria of a row as sentences under the table.
    static func estimatesSummary(_ row: SpectrumRow) -> [String] {
        let prefix = "\(row.checkpoint.map { "[\($0)] " } ?? "")\(row.parameters): "
        var lines: [String] = []
        if let trace = row.trace {
            lines.append(prefix + "trace \(String(format: "%.6g", trace.estimate)) +- \(String(format: "%.2g", trace.stderr)) (standard error; " +
                         "\(trace.method.rawValue), \(trace.matvecs) products)")
        }
        if let density = row.density {
            let range = density.grid.isEmpty ? "" : String(format: " over [%.4g, %.4g]", density.grid.first!, density.grid.last!)
            lines.append(prefix + "density \(density.method.rawValue), \(density.probes) probe(s) x \(density.steps) " +
                         "\(density.method == .slq ? "Lanczos steps" : "moments"), \(density.matvecs) products\(range)" +
                         (density.logSpectrum ? " (log10 |eigenvalue| axis)" : ""))
        }
        if let c = row.criteria {
            lines.append(prefix + "\(c.outliers) outlier(s) above the bulk edge \(String(format: "%.4g", c.bulkEdge)); " +
                         "re \(String(format: "%.4g", c.re)), Kh0.5 \(String(format: "%.4g", c.kh05)), negative mass \(String(format: "%.4g", c.negativeMass)), " +
                         "condition \(c.condition.map { String(format: "%.4g", $0) } ?? "n/a")")
        }
        return lines
    }
}

extension SpectrumOutputs {
    /// The first row's density as the SVG `curvature spectrum --plot` writes, resolved outliers marked; nil without one.
    public func densityPlot(of report: SpectrumReport, logY: Bool = false) -> String? {
        guard let estimate = density, let row = report.rows.first else { return nil }
        let outliers = row.criteria?.outlierEigenvalues(in: estimate.rules) ?? []
        let name = URL(fileURLWithPath: report.model).lastPathComponent
        return LinePlot.spectralDensity(estimate.density, method: estimate.method.rawValue, outliers: outliers, logY: logY,
                                        title: "\(report.matrix.rawValue) spectral density of \(name) (\(row.parameters))").svg()
    }
}
