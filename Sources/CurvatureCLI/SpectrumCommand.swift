import ArgumentParser
import Curvature
import Foundation

extension SpectrumMethod: ExpressibleByArgument {}
extension CurvatureMatrix: ExpressibleByArgument {}
extension DensityMethod: ExpressibleByArgument {}
extension TraceMethod: ExpressibleByArgument {}
extension DiagonalMethod: ExpressibleByArgument {}

struct SpectrumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectrum",
        abstract: "Extreme eigenvalues of the Hessian (or GGN, Fisher) of an ONNX model's loss on a data set.",
        discussion: """
            Lanczos with thick restarts and full reorthogonalisation (default) converges on the Ritz residual \
            ||H v - theta v|| <= tolerance * ||H||; power iteration reproduces PyHessian's eigenvalues(); dense forms \
            the whole matrix (small models only) as ground truth. The loss is the mean cross-entropy over the whole \
            data set, and the Hessian is exactly that loss's, whatever --batch-size (in --bn-mode eval).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "How many of the largest eigenvalues.")
    var topK = 5
    @Option(help: "How many of the smallest eigenvalues (Lanczos and dense).")
    var bottomK = 0
    @Option(help: "Eigensolver: \(SpectrumMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method: SpectrumMethod = .lanczos
    @Option(name: [.customLong("max-matvecs"), .customLong("max-iterations")],
            help: "Lanczos: at most this many operator applications per end (default \(SpectrumSettings.defaultLanczosBudget)); power: iterations per eigenvalue (PyHessian's maxIter, default \(SpectrumSettings.defaultPowerIterations)).")
    var maxMatvecs: Int?
    @Option(help: "Lanczos: residual tolerance relative to ||H||; power: relative change (PyHessian's tol).")
    var tolerance: Double?
    @Option(name: [.customLong("matrix"), .customLong("operator")],
            help: "The curvature matrix: \(CurvatureMatrix.allCases.map(\.rawValue).joined(separator: ", ")).")
    var matrix: CurvatureMatrix = .hessian
    @Option(help: "Target draws per sample of the Monte-Carlo Fisher (mc-fisher), seeded by --seed.")
    var mcSamples = 1
    @Option(help: "Only parameters whose names match this regular expression.")
    var parameters: String?
    @Flag(help: "One row per parameter tensor (of those selected).")
    var perLayer = false
    @Flag(help: "One row per module: the tensors whose names agree up to the last dot (a layer's weight and bias), as per-block Hessian spectra of transformers are reported.")
    var perModule = false
    @Option(help: "Seed of every random start vector.")
    var seed: UInt64 = 0
    @Option(help: "Write the eigenvectors (first row) to this .npz: arrays top_0.., bottom_0...")
    var saveEigenvectors: String?
    @Flag(help: "Estimate the trace.")
    var trace = false
    @Option(help: "Trace estimator: \(TraceMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var traceMethod: TraceMethod = .hutchinson
    @Option(help: "Operator applications for the trace and the diagonal (PyHessian's trace uses at most 100).")
    var matvecs = 100
    @Option(help: "Estimate the diagonal and write it to this .npz, one array per parameter tensor (and NAME.stderr).")
    var diagonal: String?
    @Option(help: "Diagonal estimator: \(DiagonalMethod.allCases.map(\.rawValue).joined(separator: ", ")).")
    var diagonalMethod: DiagonalMethod = .hutchinson
    @Option(help: "Estimate the spectral density: \(DensityMethod.allCases.map(\.rawValue).joined(separator: ", ")); with slq, also the criteria.")
    var density: DensityMethod?
    @Option(help: "Random probes of the density (PyHessian's n_v).")
    var probes = 1
    @Option(help: "Lanczos steps per probe (slq, PyHessian's iter) or Chebyshev moments (kpm).")
    var steps = 100
    @Option(help: "Probes (and trace vectors) computed together, sharing each forward pass.")
    var probeBlock = 8
    @Option(help: "Points of the density's grid.")
    var gridPoints = 10000
    @Flag(help: "The density of log10(|eigenvalue| + 1e-6 |eigenvalue|_max) instead of the eigenvalue.")
    var logSpectrum = false
    @Option(help: "Plot the density to this SVG file, outliers marked.")
    var plot: String?
    @Flag(help: "Plot the density on a logarithmic axis.")
    var logY = false
    @Option(help: "Checkpoint file: finished probes are saved there after every block, and a run with the same settings continues from it.")
    var resume: String?
    @Flag(help: "No progress on stderr.")
    var quiet = false
    @OptionGroup var output: OutputOptions
    @OptionGroup var page: ReportPageOptions

    var settings: SpectrumSettings {
        var settings = SpectrumSettings()
        settings.topK = topK
        settings.bottomK = bottomK
        settings.method = method
        settings.maxMatvecs = maxMatvecs
        settings.tolerance = tolerance
        settings.matrix = matrix
        settings.monteCarloSamples = mcSamples
        settings.parameters = parameters
        settings.grouping = perModule ? .module : perLayer ? .tensor : .all
        settings.seed = seed
        settings.trace = trace ? ProbeBudget(method: traceMethod, matvecs: matvecs) : nil
        settings.diagonal = diagonal != nil ? ProbeBudget(method: diagonalMethod, matvecs: matvecs) : nil
        settings.density = density.map { DensitySettings(method: $0, probes: probes, steps: steps, gridPoints: gridPoints, logSpectrum: logSpectrum) }
        settings.probeBlock = probeBlock
        return settings
    }

    func validate() throws {
        guard !(perLayer && perModule) else { throw ValidationError("--per-layer and --per-module are alternatives: one row per tensor, or per module") }
        do { try settings.validated() } catch { throw ValidationError(error.description) }
        guard matvecs >= 1 else { throw ValidationError("--matvecs must be at least 1") }
        guard probes >= 1 else { throw ValidationError("--probes must be at least 1") }
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
        guard gridPoints >= 2 else { throw ValidationError("--grid-points must be at least 2") }
        if density == nil {
            for (flag, given) in [("--plot", plot != nil), ("--log-spectrum", logSpectrum), ("--log-y", logY)] where given {
                throw ValidationError("\(flag) needs --density slq or --density kpm")
            }
        }
        if resume != nil && !(trace && traceMethod == .hutchinson) && density == nil {
            throw ValidationError("--resume checkpoints Hutchinson trace probes and density probes; neither was asked for")
        }
    }

    func run() throws {
        let report = switch modelOptions.precision {
        case .double: try compute(Double.self)
        case .float: try compute(Float.self)
        }
        try writeToStandardOutput(try report.rendered(as: output.format))
    }

    func compute<Scalar: TensorScalar>(_: Scalar.Type) throws -> SpectrumReport {
        let weightFiles = modelOptions.weightFiles
        var analysis = SpectrumAnalysis(objective: try modelOptions.settings(checkpoint: weightFiles.first),
                                        settings: settings, checkpoints: weightFiles.count > 1 ? weightFiles : [])
        analysis.keepEigenvectors = saveEigenvectors != nil
        let progress = ProgressDisplay(quiet: quiet), group = ProcessGroup.world
        defer { progress.finish() }
        let (report, outputs) = try analysis.run(Scalar.self, resume: resume, writesResumeState: group.isRoot, load: { settings in
            try modelOptions.objective(Scalar.self, settings: settings, sharded: true)
        }, progress: { event in progress.show(event) })
        // Under MPI every rank computes the same results; rank 0 writes them.
        guard group.isRoot else { return report }
        for (option, path, tensors) in [("--save-eigenvectors", saveEigenvectors, outputs.eigenvectors), ("--diagonal", diagonal, outputs.diagonal)] {
            guard let path else { continue }
            try OutputFile.write(to: path, option: option) { try NumPyArchive.write(tensors, to: $0) }
        }
        let plotted = outputs.densityPlot(of: report, logY: logY)
        if let plot, let plotted { try OutputFile.write(plotted, to: plot, option: "--plot") }
        try page.write(report.page(plot: plotted))
        return report
    }
}
