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
    @Option(name: .customLong("operator"), help: "The matrix: \(CurvatureMatrix.allCases.map(\.rawValue).joined(separator: ", ")).")
    var matrix: CurvatureMatrix = .hessian
    @Option(help: "Only parameters whose names match this regular expression.")
    var parameters: String?
    @Flag(help: "One row per parameter tensor (of those selected).")
    var perLayer = false
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

    var settings: SpectrumSettings {
        var settings = SpectrumSettings()
        settings.topK = topK
        settings.bottomK = bottomK
        settings.method = method
        settings.maxMatvecs = maxMatvecs
        settings.tolerance = tolerance
        settings.matrix = matrix
        settings.parameters = parameters
        settings.perLayer = perLayer
        settings.seed = seed
        settings.trace = trace ? ProbeBudget(method: traceMethod, matvecs: matvecs) : nil
        settings.diagonal = diagonal != nil ? ProbeBudget(method: diagonalMethod, matvecs: matvecs) : nil
        settings.density = density.map { DensitySettings(method: $0, probes: probes, steps: steps, gridPoints: gridPoints, logSpectrum: logSpectrum) }
        settings.probeBlock = probeBlock
        return settings
    }

    func validate() throws {
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
        print(try Self.render(report, as: output.format), terminator: "")
    }

    func compute<Scalar: TensorScalar>(_: Scalar.Type) throws -> SpectrumReport {
        var analysis = SpectrumAnalysis(objective: try modelOptions.settings(checkpoint: modelOptions.weightFiles.first),
                                        settings: settings, checkpoints: modelOptions.weightFiles.count > 1 ? modelOptions.weightFiles : [])
        analysis.keepEigenvectors = saveEigenvectors != nil
        let quiet = self.quiet, group = ProcessGroup.world
        let (report, outputs) = try analysis.run(Scalar.self, resume: resume, writesResumeState: group.isRoot, load: { settings in
            try modelOptions.objective(Scalar.self, settings: settings, sharded: true)
        }, progress: { event in
            let message = switch event {
            case .row(let checkpoint, let parameters, let method, let dimension):
                "\(checkpoint.map { "[\($0)] " } ?? "")\(parameters): \(method.rawValue) on \(dimension) parameters"
            case .trace(let done, let total): "trace: \(done)/\(total) probes"
            case .density(let method, let done, let total): "density (\(method.rawValue)): \(done)/\(total) probes"
            }
            Progress.line(message, enabled: !quiet)
        })
        // Under MPI every rank computes the same results; rank 0 writes them.
        guard group.isRoot else { return report }
        for (option, path, tensors) in [("--save-eigenvectors", saveEigenvectors, outputs.eigenvectors), ("--diagonal", diagonal, outputs.diagonal)] {
            guard let path else { continue }
            do { try NumPyArchive.write(tensors, to: URL(fileURLWithPath: path)) } catch {
                throw CommandError("cannot write \(option) \(path): \(error)")
            }
        }
        if let plot, let estimate = outputs.densities.first, let row = report.rows.first {
            let outliers = row.criteria?.outlierEigenvalues(in: estimate.rules) ?? []
            let name = URL(fileURLWithPath: modelOptions.model).lastPathComponent
            let svg = LinePlot.spectralDensity(estimate.density, method: estimate.method.rawValue, outliers: outliers, logY: logY,
                                               title: "\(matrix.rawValue) spectral density of \(name) (\(row.parameters))").svg()
            do { try svg.write(toFile: plot, atomically: true, encoding: .utf8) } catch {
                throw CommandError("cannot write --plot \(plot): \(error.localizedDescription)")
            }
        }
        return report
    }

    /// The trace, density and criteria of a row as sentences under the table.
    static func estimatesSummary(_ row: SpectrumRow) -> String {
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
        return lines.map { $0 + "\n" }.joined()
    }

    static func render(_ report: SpectrumReport, as format: OutputFormat) throws -> String {
        let values = { (list: [Double]) in list.map { String(format: "%.6g", $0) }.joined(separator: " ") }
        switch format {
        case .json: return try Rendering.json(report) + "\n"
        case .csv:
            let header = ["checkpoint", "parameters", "n_parameters", "loss", "top_eigenvalues", "bottom_eigenvalues", "matvecs", "converged",
                          "trace", "trace_stderr", "re", "kh05", "negative_mass", "condition", "outliers", "bulk_edge"]
            let optional = { (value: Double?) in value.map { "\($0)" } ?? "" }
            return Rendering.csv(header: header, rows: report.rows.map { row in
                [row.checkpoint ?? "", row.parameters, String(row.nParameters), "\(row.loss)",
                 row.topEigenvalues.map { "\($0)" }.joined(separator: ";"), row.bottomEigenvalues.map { "\($0)" }.joined(separator: ";"),
                 String(row.matvecs), String(row.converged), optional(row.trace?.estimate), optional(row.trace?.stderr),
                 optional(row.criteria?.re), optional(row.criteria?.kh05), optional(row.criteria?.negativeMass),
                 optional(row.criteria?.condition), row.criteria.map { String($0.outliers) } ?? "", optional(row.criteria?.bulkEdge)]
            })
        case .table:
            let showCheckpoint = report.rows.contains { $0.checkpoint != nil }
            let header = (showCheckpoint ? ["checkpoint"] : []) + ["parameters", "n_parameters", "loss", "top eigenvalues", "bottom eigenvalues", "matvecs", "converged"]
            let rows = report.rows.map { row in
                (showCheckpoint ? [row.checkpoint ?? ""] : []) + [row.parameters, String(row.nParameters), String(format: "%.6f", row.loss),
                 values(row.topEigenvalues), values(row.bottomEigenvalues), String(row.matvecs), row.converged ? "yes" : "NO"]
            }
            let worst = report.rows.flatMap { $0.residuals.top + $0.residuals.bottom }.max() ?? 0
            let hasEigenpairs = report.rows.contains { !$0.topEigenvalues.isEmpty || !$0.bottomEigenvalues.isEmpty }
            return "\(report.model) on \(report.data) (\(report.nSamples) samples): \(report.operator.rawValue), \(report.method.rawValue), " +
                "bn_mode \(report.bnMode.rawValue), \(report.precision.rawValue), seed \(report.seed)\n\n" +
                Rendering.table(header: header, rows: rows, rightAligned: Set([showCheckpoint ? 2 : 1])) +
                "\n" + (hasEigenpairs ? "largest residual ||H v - lambda v||: \(String(format: "%.2e", worst)) (tolerance \(String(format: "%.0e", report.tolerance)) x ||H||)\n" : "") +
                report.rows.map(estimatesSummary).joined() +
                EvalCommand.notes(batchNormFolded: report.batchNormFolded, untied: report.untiedTensors)
        }
    }
}
