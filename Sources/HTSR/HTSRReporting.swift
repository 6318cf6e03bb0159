import Foundation
import LinearAlgebra
import ModelFormats
import Plotting
import Reporting

extension HTSRReport: Report {
    /// The main columns, the optional analyses' main columns when asked for, and the summary line.
    public func table() -> String {
        let delta = baseModel.map { ", each layer minus its tensor in \($0)" } ?? ""
        var content = layerTable
        // Skipped tensors take their place in layer order, the reason in the warning column: every tensor's fate in
        // one table.
        let blanks = [String](repeating: "", count: content.header.count - 3)
        content.rows += skipped.map { [String($0.layerID), $0.name] + blanks + ["skipped: \($0.reason)"] }
        content.rows = content.rows.enumerated().sorted { (Int($0.element[0]) ?? 0, $0.offset) < (Int($1.element[0]) ?? 0, $1.offset) }.map(\.element)
        return "\(file) (\(format)\(delta))\n\n" + content.text() + "\n" + summaryLine
    }

    /// One row per layer: the main columns and the optional analyses' main columns when asked for.
    public var layerTable: TableContent {
        let number = Rendering.number
        var extras: [(String, (LayerReport) -> String)] = []
        if options.fit != .powerLaw { extras.append(("Lambda", { number($0.truncationLambda, "%.4g") })) }
        if options.fixFingers == .clipXmax { extras.append(("num_fingers", { $0.numFingers.map(String.init) ?? "-" })) }
        if options.mpFit {
            extras.append(("num_spikes", { ($0.marchenkoPastur??.numSpikes).map(String.init) ?? "-" }))
            extras.append(("mp_softrank", { number($0.marchenkoPastur??.softRank, "%.3f") }))
        }
        let header = ["layer_id", "name", "N", "M", "rf", "num_evals", "alpha", "xmin", "D", "lambda_max",
                      "stable_rank", "num_pl_spikes"] + extras.map(\.0) + ["warning"]
        let rows = layers.map { row -> [String] in
            let main: [String] = [String(row.layerID), row.name + (row.slice.map { "[\($0.map(String.init).joined(separator: ","))]" } ?? ""),
             String(row.n), String(row.m), String(row.rf), String(row.numEvals), number(row.alpha, "%.4f"),
             number(row.xmin, "%.4g"), number(row.d, "%.4f"), number(row.lambdaMax, "%.4g"),
             number(row.stableRank, "%.2f"), row.numPLSpikes.map(String.init) ?? "-"]
            return main + extras.map { $0.1(row) } + [row.warning]
        }
        return TableContent(header: header, rows: rows, rightAligned: Set(0..<(header.count - 1)).subtracting([1]))
    }

    /// The report as one self-contained HTML page: the options, the summary, alpha per layer, the layer table, the
    /// skipped tensors with their reasons, and each layer's ESD plot (the first `maximumPlots` layers).
    public func page(maximumPlots: Int = 100) -> HTMLPage {
        var settings = [("file", "\(file) (\(format))"), ("fit", options.fit.rawValue), ("pool", String(options.pool))]
        if let baseModel { settings.append(("base model", baseModel)) }
        if options.randomize { settings.append(("seed", String(options.seed))) }
        let title = "HTSR of \(URL(fileURLWithPath: file).lastPathComponent)"
        let fitted = layers.filter { $0.alpha != nil }
        var sections = [
            HTMLPage.Section("Summary", [.table(summary.metricTable),
                                         .svg(LinePlot.alphaPerLayer(layerIDs: fitted.map(\.layerID), alphas: fitted.compactMap(\.alpha), title: "alpha per layer").svg())]),
            HTMLPage.Section("Layers", [.table(layerTable)]),
        ]
        if !skipped.isEmpty {
            sections.append(HTMLPage.Section("Skipped tensors", [.table(TableContent(
                header: ["layer_id", "name", "reason"], rows: skipped.map { [String($0.layerID), $0.name, $0.reason] }, rightAligned: [0]))]))
        }
        let plotted = layers.prefix(maximumPlots).map { row in HTMLPage.Block.svg(esdPlot(row)) }
        let omitted = layers.count > maximumPlots ? [HTMLPage.Block.text(["\(layers.count - maximumPlots) more layers are not plotted here (--plot DIR writes every one)."])] : []
        sections.append(HTMLPage.Section("Empirical spectral densities", plotted + omitted))
        return HTMLPage(title: title, settings: settings, sections: sections)
    }

    private func esdPlot(_ row: LayerReport) -> String {
        let title = "ESD of layer \(row.layerID) (\(row.name))" + (row.alpha.map { String(format: ", alpha %.3f", $0) } ?? ", no fit")
        return LinePlot.empiricalSpectralDensity(eigenvalues: row.eigenvalues ?? [], alpha: row.alpha, xmin: row.xmin,
                                                 truncation: row.truncationLambda, title: title).svg()
    }

    /// Every column WeightWatcher reports (and the optional analyses'), full precision.
    public func csv() -> String {
        let header = LayerReport.columns(for: options).map(\.rawValue)
        return Rendering.csv(header: header, rows: layers.map { row in row.cells.map { Self.csvCell($0.value) } })
    }

    /// One sentence: how many layers, and the summary's means.
    public var summaryLine: String {
        let s = summary, number = Rendering.number
        return "\(s.layers) layers analysed (\(s.failedFits) failed fits), \(s.skipped) tensors skipped; " +
            "mean alpha \(number(s.alpha, "%.4f")), alpha_weighted \(number(s.alphaWeighted, "%.4f")), " +
            "log_norm \(number(s.logNorm, "%.4f")), stable_rank \(number(s.stableRank, "%.2f"))\n"
    }

    /// Full precision for programs; empty for a null; a slice as "i,j".
    static func csvCell(_ cell: LayerReport.Cell) -> String {
        switch cell {
        case .integer(let value): value.map(String.init) ?? ""
        case .number(let value): value.map { "\($0)" } ?? ""
        case .text(let value): value ?? ""
        case .integers(let value): value.map { $0.map(String.init).joined(separator: ",") } ?? ""
        }
    }

    /// A file name for a layer: its id, then its name with anything but letters, digits, '.', '-' and '_' as '_'.
    public static func fileStem(_ row: LayerReport) -> String {
        let name = String(row.name.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
        return "\(row.layerID)_\(name)" + (row.slice.map { "_" + $0.map(String.init).joined(separator: "_") } ?? "")
    }

    /// Every layer's eigenvalues (ascending, kept with ``HTSROptions/keepEigenvalues``) as DIR/LAYERID_NAME.npy.
    public func writeSpectra(to path: String) throws(MessageError) {
        let folder = try OutputFile.directory(path, option: "--save-esd")
        for row in layers {
            let tensor = StoredTensor(name: row.name, tensor: Tensor(row.eigenvalues ?? []))
            try OutputFile.write(to: folder.appendingPathComponent(Self.fileStem(row) + ".npy").path, option: "--save-esd") {
                try NumPyFormat.write(tensor, to: $0)
            }
        }
    }

    /// An SVG per layer in DIR (its ESD on log-log axes, the fitted law, xmin marked) and DIR/alpha.svg.
    public func writePlots(to path: String) throws(MessageError) {
        let folder = try OutputFile.directory(path, option: "--plot")
        func write(_ svg: String, _ name: String) throws(MessageError) {
            try OutputFile.write(svg, to: folder.appendingPathComponent(name).path, option: "--plot")
        }
        for row in layers { try write(esdPlot(row), "esd_" + Self.fileStem(row) + ".svg") }
        let fitted = layers.filter { $0.alpha != nil }
        try write(LinePlot.alphaPerLayer(layerIDs: fitted.map(\.layerID), alphas: fitted.compactMap(\.alpha),
                                         title: "alpha per layer of \(URL(fileURLWithPath: file).lastPathComponent)").svg(), "alpha.svg")
    }
}

extension HTSRSummary: Report {
    var pairs: [(String, String)] {
        let number = Rendering.number
        return [
            ("layers", String(layers)), ("failed_fits", String(failedFits)),
            ("skipped", String(skipped)), ("log_norm", number(logNorm, "%.6f")),
            ("alpha", number(alpha, "%.6f")), ("alpha_weighted", number(alphaWeighted, "%.6f")),
            ("log_alpha_norm", number(logAlphaNorm, "%.6f")),
            ("log_spectral_norm", number(logSpectralNorm, "%.6f")),
            ("stable_rank", number(stableRank, "%.6f")),
        ] + (mpSoftrank.map { [("mp_softrank", String(format: "%.6f", $0))] } ?? [])
    }

    /// The summary as a metric/value table.
    var metricTable: TableContent { TableContent(header: ["metric", "value"], rows: pairs.map { [$0.0, $0.1] }, rightAligned: [1]) }

    public func table() -> String { metricTable.text() }
    public func csv() -> String { Rendering.csv(header: pairs.map(\.0), rows: [pairs.map(\.1)]) }
}
