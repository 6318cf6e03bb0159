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

    @Option(parsing: .unconditional, help: "WeightWatcher's xmax: none, force (the KS distance against the law truncated at the largest eigenvalue), or -K (leave out the top K eigenvalues); default none.",
            transform: UpperLimitArgument.init(parsing:))
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

    @Flag(help: "Shuffle each layer's entries and compare spectra: rand_distance, max_rand_eval, ww_softrank, ww_maxdist.")
    var randomize = false

    @Option(help: "Seed of the shuffles of --randomize.")
    var seed: UInt64 = 0

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
    @OptionGroup var page: ReportPageOptions

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
        options.keepEigenvalues = saveEsd != nil || plot != nil || page.report != nil
        options.detX = detx
        options.upperLimit = xmax.value
        options.fit = fit
        options.fixFingers = fixFingers
        options.mpFit = mpFit
        options.randomize = randomize
        options.seed = seed
        options.smallSampleXmin = smallSampleXmin
        options.convLayout = convLayout
        return options
    }

    func run() async throws {
        let group = ProcessGroup.world
        let (archive, base) = try group.agreeing {
            (try WeightFile.open(URL(fileURLWithPath: file)), try baseModel.map { try WeightFile.open(URL(fileURLWithPath: $0)) })
        }
        let progress = ProgressDisplay(quiet: quiet)
        let show: @Sendable (HTSRProgress) -> Void = { progress.show($0) }
        let report = try await analyzeHTSR(archive, options: options, base: base, share: group.htsrShare, progress: progress.isShown ? show : nil)
        progress.finish()
        guard group.isRoot else { return }
        if let saveEsd { try report.writeSpectra(to: saveEsd) }
        if let plot { try report.writePlots(to: plot) }
        try page.write(report.page())
        try writeToStandardOutput(try summary ? report.summary.rendered(as: output.format) : report.rendered(as: output.format))
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
struct UpperLimitArgument {
    var value: PowerLawFit.UpperLimit

    init(value: PowerLawFit.UpperLimit) { self.value = value }

    init(parsing argument: String) throws(MessageError) {
        switch argument {
        case "none": value = .none
        case "force": value = .force
        default:
            guard argument.hasPrefix("-"), let k = Int(argument.dropFirst()), k >= 1 else {
                throw MessageError("expected none, force or -K with K >= 1 (leave out the top K eigenvalues)")
            }
            value = .dropTop(k)
        }
    }
}
