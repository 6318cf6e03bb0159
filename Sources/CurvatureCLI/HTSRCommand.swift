import ArgumentParser
import Curvature
import Foundation

struct HTSRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Heavy-tailed spectral analysis of every weight matrix in a file: power-law alpha per layer.",
        discussion: """
            Computes each layer's eigenvalue spectrum (singular values squared) and fits a power law to its tail \
            as WeightWatcher does, with the same column names. Needs no data. Table output shows the main columns; \
            --format csv or json gives all of them. Defaults match weightwatcher 0.7.7's analyze().
            """)

    @Argument(help: "A weight file (safetensors, .bin/.pt/.pth, .onnx, .npz/.npy) or a directory of them.")
    var file: String

    @Flag(inversion: .prefixedNo, help: "Pool a conv layer's kernel positions into one ESD (--no-pool: one row per position).")
    var pool = true

    @Option(help: "Skip layers with fewer eigenvalues.")
    var minEvals = HTSROptions().minEvals

    @Option(help: "Skip layers with more eigenvalues (0: no limit).")
    var maxEvals = HTSROptions().maxEvals

    @Option(name: .customLong("max-n"), help: "Skip layers whose larger dimension N exceeds this.")
    var maxN = HTSROptions().maxN

    @Option(help: "Analyse only layers whose name matches this regular expression.")
    var layers: String?

    @Option(help: "Skip layers whose name matches this regular expression.")
    var exclude: String?

    @Option(parsing: .unconditional, help: "WeightWatcher's xmax: none, force (the KS distance against the law truncated at the largest eigenvalue), or -K (leave out the top K eigenvalues).")
    var xmax: UpperLimitArgument = .init(value: .none)

    @Option(help: "The law fitted to each tail: PL (power law), TPL (truncated power law, adds Lambda) or E_TPL (TPL with xmin near the ESD's peak).")
    var fit: PowerLawFit.Distribution = .powerLaw

    @Option(help: "Guard against outlying eigenvalues deciding the fit: clip-xmax (refit without the top 1-9; adds num_fingers, raw_alpha) or xmin-peak (xmin within [0.95, 1.5] x the ESD's peak).")
    var fixFingers: PowerLawFit.FingerFix?

    @Option(help: "How a fit on fewer than 20 eigenvalues picks xmin: ks (the smallest KS distance, as WeightWatcher 0.7.7 reports) or penalised-ks (the smallest D - 0.868/sqrt(tail), the objective WeightWatcher documents).")
    var smallSampleXmin: PowerLawFit.SmallSampleRule = .ksDistance

    @Option(help: "Axis order of conv kernels: channels-first (out, in, k...: PyTorch, ONNX) or channels-last (k..., in, out: Keras, TensorFlow). Default: the file format's, and for .npy/.npz a guess from the extents; each row's conv_layout_from says which.")
    var convLayout: KernelLayout?

    @Flag(help: "Fit a Marchenko-Pastur bulk per layer: num_spikes, sigma_mp, mp_q, W_scale, bulk_min, bulk_max, mp_softrank (docs/htsr.md).")
    var mpFit = false

    @Option(help: "Analyse each layer's difference W - W_base with the same-named tensor of this weight file (fine-tuning deltas).")
    var baseModel: String?

    @Option(help: "Shuffle each layer's entries with this seed and compare spectra: rand_distance, max_rand_eval, ww_softrank, ww_maxdist.")
    var randomize: UInt64?

    @Flag(help: "Add SETOL's ERG condition per layer: detX_num, detX_val, detX_delta (docs/htsr.md).")
    var detx = false

    @Option(help: "Write every layer's eigenvalues (ascending) to DIR/LAYERID_NAME.npy.")
    var saveEsd: String?

    @Option(help: "Write an SVG per layer to DIR (its ESD on log-log axes, the fitted power law, xmin marked) and DIR/alpha.svg (alpha per layer, thresholds 2 and 6).")
    var plot: String?

    @Flag(help: "Print only the summary (means over the analysed layers).")
    var summary = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard minEvals >= 0 else { throw ValidationError("--min-evals must be at least 0, got \(minEvals)") }
        guard maxEvals >= 0 else { throw ValidationError("--max-evals must be at least 0, got \(maxEvals)") }
        guard maxN >= 1 else { throw ValidationError("--max-n must be at least 1, got \(maxN)") }
        do { try options.validated() } catch { throw ValidationError(error.description) }
    }

    var options: HTSROptions {
        var options = HTSROptions()
        options.pool = pool
        options.minEvals = minEvals
        options.maxEvals = maxEvals
        options.maxN = maxN
        options.layers = layers
        options.exclude = exclude
        options.keepEigenvalues = saveEsd != nil || plot != nil
        options.detX = detx
        options.upperLimit = xmax.value
        options.fit = fit
        options.fixFingers = fixFingers
        options.mpFit = mpFit
        options.randomizeSeed = randomize
        options.smallSampleXmin = smallSampleXmin
        options.convLayout = convLayout
        return options
    }

    func run() async throws {
        let group = ProcessGroup.world
        let (archive, base) = try group.agreeing {
            (try WeightFile.open(URL(fileURLWithPath: file)), try baseModel.map { try WeightFile.open(URL(fileURLWithPath: $0)) })
        }
        let progress = Progress.reporter(enabled: !quiet)
        let report = try await analyzeHTSR(archive, options: options, base: base, share: group.htsrShare, progress: progress)
        Progress.finish(enabled: !quiet)
        guard group.isRoot else { return }
        if let saveEsd { try Self.saveSpectra(report, to: saveEsd) }
        if let plot { try Self.plotSpectra(report, to: plot) }
        print(try Self.render(report, as: output.format, summaryOnly: summary), terminator: "")
    }

    /// A file name for a layer: its id, then its name with anything but letters, digits, '.', '-' and '_' as '_'.
    static func fileStem(_ row: LayerReport) -> String {
        let name = String(row.name.map { $0.isLetter || $0.isNumber || "._-".contains($0) ? $0 : "_" })
        return "\(row.layerID)_\(name)" + (row.slice.map { "_" + $0.map(String.init).joined(separator: "_") } ?? "")
    }

    static func directory(_ path: String, option: String) throws -> URL {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw CommandError("\(option) \(path): cannot create the directory: \(error.localizedDescription)")
        }
        return URL(fileURLWithPath: path)
    }

    static func saveSpectra(_ report: HTSRReport, to path: String) throws {
        let folder = try directory(path, option: "--save-esd")
        for row in report.layers {
            let url = folder.appendingPathComponent(fileStem(row) + ".npy")
            do { try NumPyFormat.write(StoredTensor(name: row.name, tensor: Tensor(row.eigenvalues ?? [])), to: url) } catch {
                throw CommandError("--save-esd: cannot write \(url.path): \(error)")
            }
        }
    }

    static func plotSpectra(_ report: HTSRReport, to path: String) throws {
        let folder = try directory(path, option: "--plot")
        func write(_ svg: String, _ name: String) throws {
            let url = folder.appendingPathComponent(name)
            do { try svg.write(to: url, atomically: true, encoding: .utf8) } catch {
                throw CommandError("--plot: cannot write \(url.path): \(error.localizedDescription)")
            }
        }
        for row in report.layers {
            let title = "ESD of layer \(row.layerID) (\(row.name))" + (row.alpha.map { String(format: ", alpha %.3f", $0) } ?? ", no fit")
            try write(LinePlot.empiricalSpectralDensity(eigenvalues: row.eigenvalues ?? [], alpha: row.alpha, xmin: row.xmin,
                                                                truncation: row.truncationLambda, title: title).svg(),
                      "esd_" + fileStem(row) + ".svg")
        }
        let fitted = report.layers.filter { $0.alpha != nil }
        try write(LinePlot.alphaPerLayer(layerIDs: fitted.map(\.layerID), alphas: fitted.compactMap(\.alpha),
                                         title: "alpha per layer of \(URL(fileURLWithPath: report.file).lastPathComponent)").svg(), "alpha.svg")
    }

    static func render(_ report: HTSRReport, as format: OutputFormat, summaryOnly: Bool) throws -> String {
        if summaryOnly { return try renderSummary(report.summary, as: format) }
        switch format {
        case .json:
            return try Rendering.json(report) + "\n"
        case .csv:
            let header = LayerReport.columns(for: report.options).map(\.rawValue)
            return Rendering.csv(header: header, rows: report.layers.map { row in row.cells.map { csvCell($0.value) } })
        case .table:
            // The optional analyses' main columns, when asked for.
            let options = report.options
            var extras: [(String, (LayerReport) -> String)] = []
            if options.fit != .powerLaw { extras.append(("Lambda", { number($0.truncationLambda, "%.4g") })) }
            if options.fixFingers == .clipXmax { extras.append(("num_fingers", { $0.numFingers.map(String.init) ?? "-" })) }
            if options.mpFit {
                extras.append(("num_spikes", { ($0.marchenkoPastur??.numSpikes).map(String.init) ?? "-" }))
                extras.append(("mp_softrank", { number($0.marchenkoPastur??.softRank, "%.3f") }))
            }
            let header = ["layer_id", "name", "N", "M", "rf", "num_evals", "alpha", "xmin", "D", "lambda_max",
                          "stable_rank", "num_pl_spikes"] + extras.map(\.0) + ["warning"]
            let rows = report.layers.map { row -> [String] in
                let main: [String] = [String(row.layerID), row.name + (row.slice.map { "[\($0.map(String.init).joined(separator: ","))]" } ?? ""),
                 String(row.n), String(row.m), String(row.rf), String(row.numEvals), number(row.alpha, "%.4f"),
                 number(row.xmin, "%.4g"), number(row.d, "%.4f"), number(row.lambdaMax, "%.4g"),
                 number(row.stableRank, "%.2f"), row.numPLSpikes.map(String.init) ?? "-"]
                return main + extras.map { $0.1(row) } + [row.warning]
            }
            let table = Rendering.table(header: header, rows: rows, rightAligned: Set(0..<(header.count - 1)).subtracting([1]))
            let delta = report.baseModel.map { ", each layer minus its tensor in \($0)" } ?? ""
            return "\(report.file) (\(report.format)\(delta))\n\n" + table + "\n" + summaryLine(report)
        }
    }

    static func summaryLine(_ report: HTSRReport) -> String {
        let s = report.summary
        return "\(s.layers) layers analysed (\(s.failedFits) failed fits), \(s.skipped) tensors skipped; " +
            "mean alpha \(number(s.alpha, "%.4f")), alpha_weighted \(number(s.alphaWeighted, "%.4f")), " +
            "log_norm \(number(s.logNorm, "%.4f")), stable_rank \(number(s.stableRank, "%.2f"))\n"
    }

    static func renderSummary(_ summary: HTSRSummary, as format: OutputFormat) throws -> String {
        let pairs: [(String, String)] = [
            ("layers", String(summary.layers)), ("failed_fits", String(summary.failedFits)),
            ("skipped", String(summary.skipped)), ("log_norm", number(summary.logNorm, "%.6f")),
            ("alpha", number(summary.alpha, "%.6f")), ("alpha_weighted", number(summary.alphaWeighted, "%.6f")),
            ("log_alpha_norm", number(summary.logAlphaNorm, "%.6f")),
            ("log_spectral_norm", number(summary.logSpectralNorm, "%.6f")),
            ("stable_rank", number(summary.stableRank, "%.6f")),
        ] + (summary.mpSoftrank.map { [("mp_softrank", String(format: "%.6f", $0))] } ?? [])
        switch format {
        case .json: return try Rendering.json(summary) + "\n"
        case .csv: return Rendering.csv(header: pairs.map(\.0), rows: [pairs.map(\.1)])
        case .table: return Rendering.table(header: ["metric", "value"], rows: pairs.map { [$0.0, $0.1] }, rightAligned: [1])
        }
    }

    static func number(_ value: Double?, _ format: String) -> String {
        value.map { String(format: format, $0) } ?? "-"
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
}

/// Progress lines on stderr, only when stderr is a terminal and not silenced, and only from rank 0 of an MPI run.
enum Progress {
    /// One line, when enabled and stderr is a terminal.
    static func line(_ message: String, enabled: Bool) {
        guard enabled, ProcessGroup.world.isRoot, isatty(STDERR_FILENO) != 0 else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func reporter(enabled: Bool) -> (@Sendable (HTSRProgress) -> Void)? {
        guard enabled, ProcessGroup.world.isRoot, isatty(STDERR_FILENO) != 0 else { return nil }
        return { progress in
            let line = "\r[\(progress.completed)/\(progress.total)] \(progress.layer)"
            FileHandle.standardError.write(Data((line.padding(toLength: max(line.count, 72), withPad: " ", startingAt: 0)).utf8))
        }
    }

    static func finish(enabled: Bool) {
        guard enabled, ProcessGroup.world.isRoot, isatty(STDERR_FILENO) != 0 else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 72) + "\r").utf8))
    }
}

extension PowerLawFit.Distribution: ExpressibleByArgument {
    /// WeightWatcher's spellings in any case: pl, TPL, e_tpl, e-tpl.
    public init?(argument: String) { self.init(rawValue: argument.uppercased().replacingOccurrences(of: "-", with: "_")) }
}
extension PowerLawFit.FingerFix: ExpressibleByArgument {}
extension PowerLawFit.SmallSampleRule: ExpressibleByArgument {}
extension KernelLayout: ExpressibleByArgument {}

/// `--xmax none|force|-K`.
struct UpperLimitArgument: ExpressibleByArgument {
    var value: PowerLawFit.UpperLimit

    init(value: PowerLawFit.UpperLimit) { self.value = value }

    init?(argument: String) {
        switch argument {
        case "none": value = .none
        case "force": value = .force
        default:
            guard argument.hasPrefix("-"), let k = Int(argument.dropFirst()), k >= 1 else { return nil }
            value = .dropTop(k)
        }
    }

    var defaultValueDescription: String { "none" }
}
