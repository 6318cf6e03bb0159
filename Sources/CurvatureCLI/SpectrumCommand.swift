import ArgumentParser
import Curvature
import Foundation

enum SpectrumMethod: String, ExpressibleByArgument, CaseIterable, Codable {
    case lanczos, power, dense
}

extension CurvatureMatrix: ExpressibleByArgument {}

/// One analysed (checkpoint, parameter group).
struct SpectrumRow: Codable, Equatable {
    var checkpoint: String?
    var parameters: String
    var nParameters: Int
    var loss: Double
    var topEigenvalues: [Double]
    var bottomEigenvalues: [Double]
    var residuals: Residuals
    /// Operator applications (Hessian-vector products for the Hessian).
    var iterations: Int
    var restarts: Int
    var converged: Bool
    var trace: TraceEstimate?
    var density: DensityOutput?
    var criteria: CurvatureCriteria?

    struct Residuals: Codable, Equatable {
        var top: [Double]
        var bottom: [Double]
    }
}

/// The density as JSON carries it: the grid and values, and SLQ's nodes and weights per probe (KPM: its bounds and
/// damped-before moments instead).
struct DensityOutput: Codable, Equatable {
    var method: DensityMethod
    var probes: Int
    var steps: Int
    var logSpectrum: Bool
    var matvecs: Int
    var grid: [Double]
    var values: [Double]
    var nodes: [[Double]]
    var weights: [[Double]]
    var bounds: SpectralBounds?
    var moments: [Double]?

    init(_ estimate: DensityEstimate) {
        method = estimate.method
        probes = estimate.probes
        steps = estimate.steps
        logSpectrum = estimate.density.logSpectrum
        matvecs = estimate.matvecs
        grid = estimate.density.grid
        values = estimate.density.values
        nodes = estimate.rules.map(\.nodes)
        weights = estimate.rules.map(\.weights)
        bounds = estimate.bounds
        moments = estimate.moments
    }
}

extension DensityMethod: ExpressibleByArgument {}
extension TraceMethod: ExpressibleByArgument {}
extension DiagonalMethod: ExpressibleByArgument {}

/// What `curvature spectrum` reports: the run's settings and one row per checkpoint and parameter group. With one
/// row, its fields are also given at the top level.
struct SpectrumReport: Encodable {
    var model: String
    var data: String
    var nSamples: Int
    var method: SpectrumMethod
    var `operator`: CurvatureMatrix
    var seed: UInt64
    var bnMode: BatchNormMode
    var precision: Precision
    var tolerance: Double
    var batchNormFolded: Bool
    var untiedTensors: [ONNXGraphModel.UntiedTensor]
    var rows: [SpectrumRow]

    enum CodingKeys: String, CodingKey {
        case model, data, nSamples, method, `operator`, seed, bnMode, precision, tolerance, batchNormFolded, untiedTensors, rows
        case nParameters, loss, topEigenvalues, bottomEigenvalues, residuals, iterations, restarts, converged, trace, density, criteria
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(data, forKey: .data)
        try c.encode(nSamples, forKey: .nSamples)
        try c.encode(method, forKey: .method)
        try c.encode(`operator`, forKey: .operator)
        try c.encode(seed, forKey: .seed)
        try c.encode(bnMode, forKey: .bnMode)
        try c.encode(precision, forKey: .precision)
        try c.encode(tolerance, forKey: .tolerance)
        try c.encode(batchNormFolded, forKey: .batchNormFolded)
        try c.encode(untiedTensors, forKey: .untiedTensors)
        try c.encode(rows, forKey: .rows)
        if rows.count == 1, let row = rows.first {
            try c.encode(row.nParameters, forKey: .nParameters)
            try c.encode(row.loss, forKey: .loss)
            try c.encode(row.topEigenvalues, forKey: .topEigenvalues)
            try c.encode(row.bottomEigenvalues, forKey: .bottomEigenvalues)
            try c.encode(row.residuals, forKey: .residuals)
            try c.encode(row.iterations, forKey: .iterations)
            try c.encode(row.restarts, forKey: .restarts)
            try c.encode(row.converged, forKey: .converged)
            try c.encodeIfPresent(row.trace, forKey: .trace)
            try c.encodeIfPresent(row.density, forKey: .density)
            try c.encodeIfPresent(row.criteria, forKey: .criteria)
        }
    }
}

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
    @Option(help: "Lanczos: at most this many operator applications; power: iterations per eigenvalue (PyHessian's maxIter).")
    var maxIterations: Int?
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

    func validate() throws {
        guard topK >= 0, bottomK >= 0 else { throw ValidationError("--top-k and --bottom-k cannot be negative") }
        guard topK + bottomK > 0 || trace || density != nil || diagonal != nil else {
            throw ValidationError("nothing to compute: ask for --top-k, --bottom-k, --trace, --diagonal or --density")
        }
        guard matvecs >= 1 else { throw ValidationError("--matvecs must be at least 1") }
        guard probes >= 1 else { throw ValidationError("--probes must be at least 1") }
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
        guard probeBlock >= 1 else { throw ValidationError("--probe-block must be at least 1") }
        guard gridPoints >= 2 else { throw ValidationError("--grid-points must be at least 2") }
        if density == nil {
            for (flag, given) in [("--plot", plot != nil), ("--log-spectrum", logSpectrum), ("--log-y", logY)] where given {
                throw ValidationError("\(flag) needs --density slq or --density kpm")
            }
        }
        if resume != nil && !(trace && traceMethod == .hutchinson) && density == nil {
            throw ValidationError("--resume checkpoints Hutchinson trace probes and density probes; neither was asked for")
        }
        if method == .power && bottomK > 0 {
            throw ValidationError("--method power finds the largest-magnitude eigenvalues only; use lanczos or dense for --bottom-k")
        }
        if let maxIterations, maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1") }
        if let tolerance, !(tolerance > 0) { throw ValidationError("--tolerance must be positive") }
    }

    var effectiveTolerance: Double { tolerance ?? (method == .power ? 1e-3 : 1e-8) }

    func run() throws {
        let report = switch modelOptions.precision {
        case .double: try compute(Double.self)
        case .float: try compute(Float.self)
        }
        print(try Self.render(report, as: output.format), terminator: "")
    }

    func progress(_ message: String) { Progress.line(message, enabled: !quiet) }

    func compute<Scalar: TensorScalar>(_: Scalar.Type) throws -> SpectrumReport {
        let checkpoints: [String?] = modelOptions.weightFiles.isEmpty ? [nil] : modelOptions.weightFiles
        var rows: [SpectrumRow] = []
        var first: (Objective<Scalar>, LoadedModel<Scalar>)?
        var resumeState = try resume.map { try SpectrumResumeFile.open($0, settings: resumeSettings) }
        for checkpoint in checkpoints {
            let (objective, loaded) = try modelOptions.objective(Scalar.self, checkpoint: checkpoint, sharded: true)
            if first == nil { first = (objective, loaded) }
            let selected = try parameters.map { pattern -> [String] in
                let names = try objective.parameters.names(matching: pattern)
                guard !names.isEmpty else {
                    throw CommandError("--parameters '\(pattern)' matches none of: \(objective.parameters.names.joined(separator: ", "))")
                }
                return names
            } ?? objective.parameters.names
            let groups: [(String, [String])] = perLayer ? selected.map { ($0, [$0]) } : [(parameters ?? "all", selected)]
            for (label, names) in groups {
                var subset = objective
                subset.parameterNames = names
                progress("\(checkpoint.map { "[\($0)] " } ?? "")\(label): \(method.rawValue) on \(subset.dimension) parameters")
                rows.append(try row(subset, checkpoint: checkpoint, label: label, save: rows.isEmpty ? saveEigenvectors : nil, resumeState: &resumeState))
            }
        }
        let (objective, loaded) = first!
        return SpectrumReport(model: modelOptions.model, data: modelOptions.data, nSamples: objective.sampleCount, method: method,
                              operator: matrix, seed: seed, bnMode: objective.batchNormMode, precision: modelOptions.precision,
                              tolerance: effectiveTolerance, batchNormFolded: loaded.model.batchNormFolded,
                              untiedTensors: loaded.model.untiedTensors, rows: rows)
    }

    func row<Scalar: TensorScalar>(
        _ objective: Objective<Scalar>, checkpoint: String?, label: String, save: String?, resumeState: inout SpectrumResumeFile?
    ) throws -> SpectrumRow {
        let op = CurvatureOperator(objective, matrix: matrix)
        let loss = Double(objective.evaluate().loss)
        var top: EigenResult?, bottom: EigenResult?
        switch method {
        case .lanczos:
            let budget = maxIterations ?? 5000
            if topK > 0 { top = LanczosSolver(count: topK, end: .largest, tolerance: effectiveTolerance, maxMatvecs: budget, seed: seed).solve(op) }
            if bottomK > 0 {
                bottom = LanczosSolver(count: bottomK, end: .smallest, tolerance: effectiveTolerance, maxMatvecs: budget, seed: seed &+ 1).solve(op)
            }
        case .power:
            top = PowerIteration(count: topK, maxIterations: maxIterations ?? 100, tolerance: effectiveTolerance, seed: seed).solve(op)
        case .dense:
            (top, bottom) = try DenseSpectrum.extremes(op, top: topK, bottom: bottomK)
        }
        // Under MPI every rank computes the same results; rank 0 writes them.
        let writes = ProcessGroup.world.isRoot
        if let save, writes {
            var tensors: [StoredTensor] = []
            for (prefix, result) in [("top", top), ("bottom", bottom)] {
                for (index, vector) in (result?.eigenvectors ?? []).enumerated() { tensors.append(StoredTensor(name: "\(prefix)_\(index)", tensor: vector)) }
            }
            try NumPyArchive.write(tensors, to: URL(fileURLWithPath: save))
        }
        let key = "\(checkpoint ?? "")|\(label)"
        var saved = resumeState?.rows[key] ?? .init()
        func checkpointNow() throws {
            guard let resume, resumeState != nil, writes else { return }
            resumeState!.rows[key] = saved
            try resumeState!.write(to: resume)
        }
        var traceEstimate: TraceEstimate?
        if trace {
            let estimator = TraceEstimator(method: traceMethod, matvecs: matvecs, seed: seed, blockSize: probeBlock)
            traceEstimate = try runEstimate("trace") {
                try estimator.estimate(op, completed: saved.trace) { samples in
                    saved.trace = samples
                    progress("trace: \(samples.count)/\(matvecs) probes")
                    try checkpointNow()
                }
            }
        }
        if let diagonal {
            let estimate = try runEstimate("diagonal") {
                try DiagonalEstimator(method: diagonalMethod, matvecs: matvecs, seed: seed, blockSize: probeBlock).estimate(op)
            }
            if writes { try writeDiagonal(estimate, objective: objective, to: diagonal) }
        }
        var densityEstimate: DensityEstimate?
        var criteria: CurvatureCriteria?
        if let density {
            let estimator = DensityEstimator(method: density, probes: probes, steps: steps, seed: seed, blockSize: probeBlock,
                                             points: gridPoints, logSpectrum: logSpectrum)
            let estimate = try runEstimate("density") {
                try estimator.estimate(op, progress: saved.density) { state in
                    saved.density = state
                    progress("density (\(density.rawValue)): \(max(state.rules.count, state.moments.count))/\(probes) probes")
                    try checkpointNow()
                }
            }
            densityEstimate = estimate
            if density == .slq {
                let known = [top, bottom].compactMap { $0 }.flatMap { result in
                    zip(result.eigenvalues, result.residuals).map { (value: $0.0, residual: $0.1) }
                }
                criteria = CurvatureCriteria.compute(rules: estimate.rules, dimension: objective.dimension, eigenvalues: known)
            }
            if let plot, writes {
                let outliers = criteria?.outlierEigenvalues(in: estimate.rules) ?? []
                let name = URL(fileURLWithPath: modelOptions.model).lastPathComponent
                let svg = LinePlot.spectralDensity(estimate.density, method: density.rawValue, outliers: outliers, logY: logY,
                                                   title: "\(matrix.rawValue) spectral density of \(name) (\(label))").svg()
                do { try svg.write(toFile: plot, atomically: true, encoding: .utf8) } catch {
                    throw CommandError("cannot write --plot \(plot): \(error.localizedDescription)")
                }
            }
        }
        return SpectrumRow(checkpoint: checkpoint, parameters: label, nParameters: objective.dimension, loss: loss,
                           topEigenvalues: top?.eigenvalues ?? [], bottomEigenvalues: bottom?.eigenvalues ?? [],
                           residuals: .init(top: top?.residuals ?? [], bottom: bottom?.residuals ?? []),
                           iterations: (top?.matvecs ?? 0) + (bottom?.matvecs ?? 0), restarts: (top?.restarts ?? 0) + (bottom?.restarts ?? 0),
                           converged: (top?.converged ?? true) && (bottom?.converged ?? true),
                           trace: traceEstimate, density: densityEstimate.map(DensityOutput.init), criteria: criteria)
    }

    /// Everything that determines the probes' results; a checkpoint resumes only under identical settings.
    var resumeSettings: [String: String] {
        ["model_options": "\(modelOptions)", "operator": matrix.rawValue, "parameters": parameters ?? "", "per_layer": "\(perLayer)",
         "seed": "\(seed)", "trace": trace ? "\(traceMethod.rawValue) \(matvecs)" : "", "probe_block": "\(probeBlock)",
         "density": density.map { "\($0.rawValue) probes=\(probes) steps=\(steps)" } ?? ""]
    }

    /// Estimator errors (a budget too small, a rank-deficient sketch) as one-line command errors.
    func runEstimate<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as TraceError { throw CommandError("\(what): \(error.description)") }
    }

    /// The diagonal split into the selected parameter tensors, each under its own name, its standard errors under
    /// NAME.stderr.
    func writeDiagonal<Scalar: TensorScalar>(_ estimate: DiagonalEstimate, objective: Objective<Scalar>, to path: String) throws {
        var tensors: [StoredTensor] = []
        var offset = 0
        for name in objective.parameterNames {
            let shape = objective.parameters[name]!.shape
            let count = Tensor<Double>.elementCount(shape)
            for (suffix, values) in [("", estimate.diagonal), (".stderr", estimate.stderr)] {
                tensors.append(StoredTensor(name: name + suffix, tensor: Tensor(shape: shape, scalars: Array(values.scalars[offset..<offset + count]))))
            }
            offset += count
        }
        do { try NumPyArchive.write(tensors, to: URL(fileURLWithPath: path)) } catch {
            throw CommandError("cannot write --diagonal \(path): \(error)")
        }
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
            let header = ["checkpoint", "parameters", "n_parameters", "loss", "top_eigenvalues", "bottom_eigenvalues", "iterations", "converged",
                          "trace", "trace_stderr", "re", "kh05", "negative_mass", "condition", "outliers", "bulk_edge"]
            let optional = { (value: Double?) in value.map { "\($0)" } ?? "" }
            return Rendering.csv(header: header, rows: report.rows.map { row in
                [row.checkpoint ?? "", row.parameters, String(row.nParameters), "\(row.loss)",
                 row.topEigenvalues.map { "\($0)" }.joined(separator: ";"), row.bottomEigenvalues.map { "\($0)" }.joined(separator: ";"),
                 String(row.iterations), String(row.converged), optional(row.trace?.estimate), optional(row.trace?.stderr),
                 optional(row.criteria?.re), optional(row.criteria?.kh05), optional(row.criteria?.negativeMass),
                 optional(row.criteria?.condition), row.criteria.map { String($0.outliers) } ?? "", optional(row.criteria?.bulkEdge)]
            })
        case .table:
            let showCheckpoint = report.rows.contains { $0.checkpoint != nil }
            let header = (showCheckpoint ? ["checkpoint"] : []) + ["parameters", "n_parameters", "loss", "top eigenvalues", "bottom eigenvalues", "HVPs", "converged"]
            let rows = report.rows.map { row in
                (showCheckpoint ? [row.checkpoint ?? ""] : []) + [row.parameters, String(row.nParameters), String(format: "%.6f", row.loss),
                 values(row.topEigenvalues), values(row.bottomEigenvalues), String(row.iterations), row.converged ? "yes" : "NO"]
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
