import Foundation
import LinearAlgebra
import ModelFormats
import ModelImport
import NeuralNetworks
import Reporting
import Spectra

/// What a spectrum analysis reports while it works.
public enum SpectrumProgress: Sendable {
    /// A row starts: its checkpoint (nil for the model's own weights), parameter group, solver and dimension.
    case row(checkpoint: String?, parameters: String, method: SpectrumMethod, dimension: Int)
    /// Trace probes finished so far.
    case trace(done: Int, total: Int)
    /// Density probes finished so far.
    case density(method: DensityMethod, done: Int, total: Int)
    /// Products an eigensolver has taken at one end of the spectrum, of at most `limit`, with the relative residuals
    /// of the pairs it is still refining (Lanczos; empty before the basis holds them and for the power method) and
    /// the tolerance they must reach.
    case eigensolver(method: SpectrumMethod, end: SpectrumEnd, done: Int, limit: Int, residuals: [Double], tolerance: Double)
    /// Lanczos restarted with a full basis: restarts and products so far, and the residuals at the restart.
    case restart(end: SpectrumEnd, restarts: Int, products: Int, residuals: [Double], tolerance: Double)
    /// Lanczos locked its pairs and searches their complement for missed copies of a repeated eigenvalue.
    case complementSearch(end: SpectrumEnd, products: Int, locked: Int)
}

extension SpectrumProgress: CustomStringConvertible {
    public var description: String {
        switch self {
        case .row(let checkpoint, let parameters, let method, let dimension):
            "\(checkpoint.map { "[\($0)] " } ?? "")\(parameters): \(method.rawValue) on \(dimension) parameters"
        case .trace(let done, let total): "trace: \(done)/\(total) probes"
        case .density(let method, let done, let total): "density (\(method.rawValue)): \(done)/\(total) probes"
        case .eigensolver(let method, let end, let done, let limit, let residuals, let tolerance):
            "\(method.rawValue) (\(end.rawValue)): \(done)/\(limit) products at most" +
                (residuals.isEmpty ? "" : ", " + Self.residuals(residuals, tolerance: tolerance))
        case .restart(let end, let restarts, let products, let residuals, let tolerance):
            "lanczos (\(end.rawValue)): restart \(restarts) after \(products) products, " + Self.residuals(residuals, tolerance: tolerance)
        case .complementSearch(let end, let products, let locked):
            "lanczos (\(end.rawValue)): \(locked) pairs converged after \(products) products; " +
                "searching their complement for missed copies of repeated eigenvalues"
        }
    }

    /// "residuals 3.1e-03 4.2e-06 (tolerance 1.0e-05)": relative to ||H||, from the wanted end.
    static func residuals(_ residuals: [Double], tolerance: Double) -> String {
        "residuals " + residuals.map { String(format: "%.1e", $0) }.joined(separator: " ") + String(format: " (tolerance %.1e)", tolerance)
    }
}

extension SpectrumProgress: ProgressEvent {
    public var count: ProgressCount? {
        switch self {
        case .row, .restart, .complementSearch: nil
        case .trace(let done, let total): ProgressCount(stage: "trace", done: done, total: total, unit: "probes")
        case .density(let method, let done, let total): ProgressCount(stage: "density (\(method.rawValue))", done: done, total: total, unit: "probes")
        case .eigensolver(let method, let end, let done, let limit, let residuals, let tolerance):
            ProgressCount(stage: "\(method.rawValue) (\(end.rawValue))", done: done, total: limit, unit: "products", isLimit: true,
                          detail: residuals.isEmpty ? nil : Self.residuals(residuals, tolerance: tolerance))
        }
    }

    public var isWithinStage: Bool {
        switch self {
        case .restart, .complementSearch: true
        case .row, .trace, .density, .eigensolver: false
        }
    }
}

/// An operator that reports its products as they happen, with the latest residuals an eigensolver observed. The
/// eigensolvers cannot stop midway, so an error the report throws is kept and rethrown by ``rethrow()`` once the
/// solver returns.
private final class ReportingOperator: LinearOperator, @unchecked Sendable {
    let base: any LinearOperator
    let report: (SpectrumProgress) throws -> Void
    let productEvent: (_ products: Int, _ residuals: [Double]) -> SpectrumProgress
    /// The relative residuals of the pairs being refined, as the eigensolver last reported them.
    var residuals: [Double] = []
    private(set) var products = 0
    private var error: (any Error)?

    init(_ base: any LinearOperator, report: @escaping (SpectrumProgress) throws -> Void,
         productEvent: @escaping (Int, [Double]) -> SpectrumProgress) {
        self.base = base
        self.report = report
        self.productEvent = productEvent
    }

    var dimension: Int { base.dimension }

    func apply(_ vector: Tensor<Double>) -> Tensor<Double> {
        defer { counted(1) }
        return base.apply(vector)
    }

    func apply(block vectors: [Tensor<Double>]) -> [Tensor<Double>] {
        defer { counted(vectors.count) }
        return base.apply(block: vectors)
    }

    private func counted(_ count: Int) {
        products += count
        send(productEvent(products, residuals))
    }

    /// Reports `event` unless an earlier report failed.
    func send(_ event: SpectrumProgress) {
        guard error == nil else { return }
        do { try report(event) } catch { self.error = error }
    }

    func rethrow() throws { if let error { throw error } }
}

/// Everything a spectrum analysis produced besides its report: the first row's eigenvectors and every first-checkpoint
/// row's diagonal, per parameter tensor.
public struct SpectrumOutputs: Sendable {
    /// `top_0`, `top_1`, ..., `bottom_0`, ...: the first row's eigenvectors (when ``SpectrumAnalysis/keepEigenvectors``).
    public var eigenvectors: [StoredTensor] = []
    /// Each parameter tensor's diagonal estimate under its own name and its standard errors under `NAME.stderr`.
    public var diagonal: [StoredTensor] = []
    /// The first row's density estimate, for the plot.
    public var density: DensityEstimate?
}

/// The eigenvalue spectrum of a model's curvature as a library call: what `curvature spectrum` computes.
///
/// For each checkpoint (or the model's own weights) and parameter group (all selected parameters, or one per tensor),
/// the Hessian, GGN or empirical Fisher of the mean loss over the whole data set (`CurvatureOperator`) is handed to
/// the eigensolver (`LanczosSolver`: thick-restart Lanczos with full reorthogonalisation, converged when every
/// Ritz residual `||H v - theta v|| <= tolerance ||H||`; `PowerIteration` as PyHessian's `eigenvalues()`; or
/// `DenseSpectrum`), then optionally to the trace (Hutchinson `tr(H) ~ (1/m) sum z^T H z`, Hutch++, XTrace) and
/// diagonal estimators and the SLQ or KPM density with its curvature criteria (Ghorbani et al. 2019; Yao et al. 2020).
///
/// ```swift
/// var settings = SpectrumSettings()
/// settings.topK = 3
/// settings.trace = ProbeBudget(method: .hutchinson, matvecs: 50)
/// let analysis = SpectrumAnalysis(objective: ObjectiveSettings(model: "model.onnx", data: "digits"), settings: settings)
/// let (report, _) = try analysis.run(Double.self, resume: "spectrum-resume.json")
/// ```
public struct SpectrumAnalysis: Sendable {
    public var objective: ObjectiveSettings
    public var settings: SpectrumSettings
    /// Weight files, one set of rows each; empty analyses the objective's own weights.
    public var checkpoints: [String]
    /// Whether to return the first row's eigenvectors.
    public var keepEigenvectors = false

    public init(objective: ObjectiveSettings, settings: SpectrumSettings, checkpoints: [String] = []) {
        self.objective = objective
        self.settings = settings
        self.checkpoints = checkpoints
    }

    /// Loads an objective for a checkpoint (nil: the objective's own weights). The default reads everything in this
    /// process; a data-parallel caller loads its part of the data and shares the sums (`DataShare`).
    public typealias Loader<Scalar: TensorScalar> = (ObjectiveSettings) throws -> (objective: Objective<Scalar>, model: LoadedModel<Scalar>)

    /// Runs every row. `progress` hears each row start and each finished block of probes; an error it throws stops the
    /// run there (with `resume`, every finished block is saved first). With `resume`, finished trace and density probes are saved there after each block (when
    /// `writesResumeState`, rank 0 of a data-parallel run) and a rerun with the same settings continues from them.
    public func run<Scalar: TensorScalar>(
        _: Scalar.Type, resume: String? = nil, writesResumeState: Bool = true,
        load: Loader<Scalar> = { try $0.load(Scalar.self) }, progress: (SpectrumProgress) throws -> Void = { _ in }
    ) throws -> (report: SpectrumReport, outputs: SpectrumOutputs) {
        try settings.validated()
        // A checkpoint binds the inputs' contents: the model, weight and data files as they are now.
        var resumeState = try resume.map { path in
            let checkpointFiles = Dictionary(checkpoints.enumerated().map { ("checkpoint \($0.offset + 1) (\($0.element))", $0.element) }) { a, _ in a }
            return try SpectrumResumeState.open(path, objective: try self.objective.digestingInputs(checkpointFiles), settings: self.settings)
        }
        var rows: [SpectrumRow] = []
        var outputs = SpectrumOutputs()
        var first: (Objective<Scalar>, LoadedModel<Scalar>)?
        for weights in checkpoints.isEmpty ? [nil] : checkpoints.map(Optional.some) {
            var rowObjective = self.objective
            if let weights { rowObjective.weights = weights }
            let (objective, loaded) = try load(rowObjective)
            if first == nil { first = (objective, loaded) }
            if let reason = objective.unavailability(of: settings.matrix) { throw SpectrumError.setting(reason) }
            for (label, names) in try groups(objective.parameters) {
                var subset = objective
                subset.parameterNames = names
                try progress(.row(checkpoint: weights, parameters: label, method: self.settings.method, dimension: subset.dimension))
                let key = "\(weights ?? "")|\(label)"
                var saved = resumeState?.rows[key] ?? .init()
                let row = try self.row(subset, checkpoint: weights, label: label, saved: &saved, outputs: &outputs, isFirst: rows.isEmpty,
                                       firstCheckpoint: weights == checkpoints.first, progress: progress) { state throws(SpectrumError) in
                    guard let resume, writesResumeState, resumeState != nil else { return }
                    resumeState!.rows[key] = state
                    try resumeState!.write(to: resume)
                }
                rows.append(row)
            }
        }
        let (objective, loaded) = first!
        let report = SpectrumReport(model: self.objective.model, data: self.objective.data, nSamples: objective.sampleCount, method: settings.method,
                                    matrix: settings.matrix, lossFunction: objective.loss, seed: settings.seed, bnMode: objective.batchNormMode, precision: self.objective.precision,
                                    tolerance: settings.effectiveTolerance(precision: Precision(of: Scalar.self)), batchNormFolded: loaded.batchNormFolded,
                                    untiedTensors: loaded.model.untiedTensors, rows: rows)
        return (report, outputs)
    }

    /// The parameter groups: (label, names), one for all selected parameters, one per tensor or one per module.
    func groups<Scalar>(_ parameters: ParameterSet<Scalar>) throws(SpectrumError) -> [(String, [String])] {
        var selected = parameters.names
        if let pattern = settings.parameters {
            do { selected = try parameters.names(matching: pattern) } catch {
                throw .parameters("--parameters '\(pattern)' is not a regular expression")
            }
            guard !selected.isEmpty else {
                throw .parameters("--parameters '\(pattern)' matches none of: \(parameters.names.joined(separator: ", "))")
            }
        }
        return settings.grouping.rows(selected, label: settings.parameters ?? "all")
    }

    /// Runs `solve` on `op` with each product reported as an ``SpectrumProgress/eigensolver(method:end:done:limit:residuals:tolerance:)``
    /// event, and Lanczos's restarts and complement searches as messages.
    private func reporting(
        _ op: any LinearOperator, _ method: SpectrumMethod, _ end: SpectrumEnd, limit: Int, tolerance: Double,
        _ progress: (SpectrumProgress) throws -> Void,
        solve: (any LinearOperator, _ observe: (LanczosProgress) -> Void) -> EigenResult
    ) throws -> EigenResult {
        try withoutActuallyEscaping(progress) { progress in
            let reporting = ReportingOperator(op, report: progress) {
                .eigensolver(method: method, end: end, done: $0, limit: limit, residuals: $1, tolerance: tolerance)
            }
            let result = solve(reporting) { event in
                switch event {
                case .step(_, let residuals):
                    reporting.residuals = residuals
                case .restart(let restarts, let products, let residuals):
                    reporting.residuals = residuals
                    reporting.send(.restart(end: end, restarts: restarts, products: products, residuals: residuals, tolerance: tolerance))
                case .complementSearch(let products, let locked):
                    reporting.residuals = []
                    reporting.send(.complementSearch(end: end, products: products, locked: locked))
                }
            }
            try reporting.rethrow()
            return result
        }
    }

    /// Refuses, before any product runs, a row whose vectors cannot fit in memory: the Lanczos basis (at most
    /// max(40, k + 2) vectors plus the k locked ones, in Double), the dense matrix, and the SLQ Krylov bases of one
    /// probe block (every step is kept for full reorthogonalisation).
    func checkMemory(dimension n: Int, label: String, precision: Precision) throws {
        var needs: [(counts: [Int], bytesEach: Int, what: String)] = []
        let double = MemoryLayout<Double>.size
        switch settings.method {
        case .lanczos:
            let k = max(settings.topK, settings.bottomK), vectors = max(40, k + 2) + k
            // The basis is kept in the working precision (LanczosSolver.floatBasis).
            needs.append(([vectors, n], precision == .float ? MemoryLayout<Float>.size : double,
                          "the Lanczos basis of \(label) (\(vectors) vectors of \(n) parameters)"))
        case .power:
            needs.append(([settings.topK + 2, n], double, "power iteration on \(label) (\(settings.topK + 2) vectors of \(n) parameters)"))
        case .dense:
            needs.append(([n, n], double, "the dense matrix of \(label) (\(n) x \(n))"))
        }
        if let density = settings.density, density.method == .slq {
            let vectors = min(density.steps, n) * settings.probeBlock
            needs.append(([vectors, n], double, "the SLQ Krylov bases of \(label) (\(vectors) vectors of \(n) parameters)"))
        }
        for (counts, bytesEach, what) in needs {
            do { try MemoryBudget.machine.check(counts, bytesEach: bytesEach, for: what) } catch {
                throw SpectrumError.setting(error.description)
            }
        }
    }

    func row<Scalar: TensorScalar>(
        _ objective: Objective<Scalar>, checkpoint: String?, label: String, saved: inout SpectrumResumeState.Row,
        outputs: inout SpectrumOutputs, isFirst: Bool, firstCheckpoint: Bool, progress: (SpectrumProgress) throws -> Void,
        save: (SpectrumResumeState.Row) throws(SpectrumError) -> Void
    ) throws -> SpectrumRow {
        let op = objective.curvature(settings.matrix, seed: settings.seed, samples: settings.monteCarloSamples)
        guard settings.topK + settings.bottomK <= op.dimension else {
            throw SpectrumError.setting("--top-k \(settings.topK) and --bottom-k \(settings.bottomK) ask for more eigenvalues than the " +
                                        "\(op.dimension) parameters of \(label) have")
        }
        let precision = Precision(of: Scalar.self)
        try checkMemory(dimension: op.dimension, label: label, precision: precision)
        let loss = Double(objective.evaluate().loss)
        let (tolerance, seed) = (settings.effectiveTolerance(precision: precision), settings.seed)
        var top: EigenResult?, bottom: EigenResult?
        switch settings.method {
        case .lanczos:
            let budget = settings.maxMatvecs ?? SpectrumSettings.defaultLanczosBudget
            if settings.topK > 0 {
                top = try reporting(op, .lanczos, .largest, limit: budget, tolerance: tolerance, progress) {
                    LanczosSolver(count: settings.topK, end: .largest, tolerance: tolerance, floatBasis: precision == .float, maxMatvecs: budget,
                                  seed: seed).solve($0, observe: $1)
                }
            }
            if settings.bottomK > 0 {
                bottom = try reporting(op, .lanczos, .smallest, limit: budget, tolerance: tolerance, progress) {
                    LanczosSolver(count: settings.bottomK, end: .smallest, tolerance: tolerance, floatBasis: precision == .float, maxMatvecs: budget,
                                  seed: seed &+ 1)
                        .solve($0, observe: $1)
                }
            }
        case .power:
            let iterations = settings.maxMatvecs ?? SpectrumSettings.defaultPowerIterations
            top = try reporting(op, .power, .largest, limit: iterations, tolerance: tolerance, progress) { op, _ in
                PowerIteration(count: settings.topK, maxIterations: iterations, tolerance: tolerance, seed: seed).solve(op)
            }
        case .dense:
            (top, bottom) = try DenseSpectrum.extremes(op, top: settings.topK, bottom: settings.bottomK)
        }
        if isFirst, keepEigenvectors {
            for (prefix, result) in [("top", top), ("bottom", bottom)] {
                for (index, vector) in (result?.eigenvectors ?? []).enumerated() {
                    outputs.eigenvectors.append(StoredTensor(name: "\(prefix)_\(index)", tensor: vector))
                }
            }
        }
        var traceEstimate: TraceEstimate?
        if let trace = settings.trace {
            let estimator = TraceEstimator(method: trace.method, matvecs: trace.matvecs, seed: seed, blockSize: settings.probeBlock)
            traceEstimate = try estimate("trace") {
                try estimator.estimate(op, completed: saved.trace) { samples in
                    saved.trace = samples
                    try save(saved)
                    try progress(.trace(done: samples.count, total: trace.matvecs))
                }
            }
        }
        if let diagonal = settings.diagonal, firstCheckpoint {
            let estimate = try estimate("diagonal") {
                try DiagonalEstimator(method: diagonal.method, matvecs: diagonal.matvecs, seed: seed, blockSize: settings.probeBlock).estimate(op)
            }
            outputs.diagonal += Self.perTensor(estimate, objective: objective)
        }
        var densityEstimate: DensityEstimate?
        var criteria: CurvatureCriteria?
        if let density = settings.density {
            let estimator = DensityEstimator(method: density.method, probes: density.probes, steps: density.steps, seed: seed,
                                             blockSize: settings.probeBlock, points: density.gridPoints, logSpectrum: density.logSpectrum)
            let estimate = try estimate("density") {
                try estimator.estimate(op, progress: saved.density) { state in
                    saved.density = state
                    try save(saved)
                    try progress(.density(method: density.method, done: max(state.rules.count, state.moments.count), total: density.probes))
                }
            }
            densityEstimate = estimate
            if isFirst { outputs.density = estimate }
            if density.method == .slq {
                let known = [top, bottom].compactMap { $0 }.flatMap { result in
                    zip(result.eigenvalues, result.residuals).map { (value: $0.0, residual: $0.1) }
                }
                criteria = CurvatureCriteria.compute(rules: estimate.rules, dimension: objective.dimension, eigenvalues: known)
            }
        }
        return SpectrumRow(checkpoint: checkpoint, parameters: label, nParameters: objective.dimension, loss: loss,
                           topEigenvalues: top?.eigenvalues ?? [], bottomEigenvalues: bottom?.eigenvalues ?? [],
                           residuals: .init(top: top?.residuals ?? [], bottom: bottom?.residuals ?? []),
                           matvecs: (top?.matvecs ?? 0) + (bottom?.matvecs ?? 0), restarts: (top?.restarts ?? 0) + (bottom?.restarts ?? 0),
                           converged: (top?.converged ?? true) && (bottom?.converged ?? true),
                           trace: traceEstimate, density: densityEstimate.map(DensityResult.init), criteria: criteria)
    }

    /// Estimator errors (a budget too small, a rank-deficient sketch) as one-line errors naming the estimate.
    func estimate<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as TraceError { throw SpectrumError.estimate("\(what): \(error.description)") }
    }

    /// The diagonal split into the selected parameter tensors, each under its own name, its standard errors under
    /// NAME.stderr.
    static func perTensor<Scalar: TensorScalar>(_ estimate: DiagonalEstimate, objective: Objective<Scalar>) -> [StoredTensor] {
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
        return tensors
    }
}
