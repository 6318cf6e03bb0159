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

    struct Residuals: Codable, Equatable {
        var top: [Double]
        var bottom: [Double]
    }
}

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
    var rows: [SpectrumRow]

    enum CodingKeys: String, CodingKey {
        case model, data, nSamples, method, `operator`, seed, bnMode, precision, tolerance, batchNormFolded, rows
        case nParameters, loss, topEigenvalues, bottomEigenvalues, residuals, iterations, restarts, converged
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
    @Flag(help: "No progress on stderr.")
    var quiet = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard topK >= 0, bottomK >= 0, topK + bottomK > 0 else { throw ValidationError("ask for --top-k or --bottom-k eigenvalues") }
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

    func progress(_ message: String) {
        guard !quiet, isatty(STDERR_FILENO) != 0 else { return }
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    func compute<Scalar: TensorScalar>(_: Scalar.Type) throws -> SpectrumReport {
        let checkpoints: [String?] = modelOptions.weightFiles.isEmpty ? [nil] : modelOptions.weightFiles
        var rows: [SpectrumRow] = []
        var first: (Objective<Scalar>, LoadedModel<Scalar>)?
        for checkpoint in checkpoints {
            let (objective, loaded) = try modelOptions.objective(Scalar.self, checkpoint: checkpoint)
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
                rows.append(try row(subset, checkpoint: checkpoint, label: label, save: rows.isEmpty ? saveEigenvectors : nil))
            }
        }
        let (objective, loaded) = first!
        return SpectrumReport(model: modelOptions.model, data: modelOptions.data, nSamples: objective.sampleCount, method: method,
                              operator: matrix, seed: seed, bnMode: objective.batchNormMode, precision: modelOptions.precision,
                              tolerance: effectiveTolerance, batchNormFolded: loaded.model.batchNormFolded, rows: rows)
    }

    func row<Scalar: TensorScalar>(_ objective: Objective<Scalar>, checkpoint: String?, label: String, save: String?) throws -> SpectrumRow {
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
        if let save {
            var tensors: [StoredTensor] = []
            for (prefix, result) in [("top", top), ("bottom", bottom)] {
                for (index, vector) in (result?.eigenvectors ?? []).enumerated() { tensors.append(StoredTensor(name: "\(prefix)_\(index)", tensor: vector)) }
            }
            try NumPyArchive.write(tensors, to: URL(fileURLWithPath: save))
        }
        return SpectrumRow(checkpoint: checkpoint, parameters: label, nParameters: objective.dimension, loss: loss,
                           topEigenvalues: top?.eigenvalues ?? [], bottomEigenvalues: bottom?.eigenvalues ?? [],
                           residuals: .init(top: top?.residuals ?? [], bottom: bottom?.residuals ?? []),
                           iterations: (top?.matvecs ?? 0) + (bottom?.matvecs ?? 0), restarts: (top?.restarts ?? 0) + (bottom?.restarts ?? 0),
                           converged: (top?.converged ?? true) && (bottom?.converged ?? true))
    }

    static func render(_ report: SpectrumReport, as format: OutputFormat) throws -> String {
        let values = { (list: [Double]) in list.map { String(format: "%.6g", $0) }.joined(separator: " ") }
        switch format {
        case .json: return try Rendering.json(report) + "\n"
        case .csv:
            let header = ["checkpoint", "parameters", "n_parameters", "loss", "top_eigenvalues", "bottom_eigenvalues", "iterations", "converged"]
            return Rendering.csv(header: header, rows: report.rows.map { row in
                [row.checkpoint ?? "", row.parameters, String(row.nParameters), "\(row.loss)",
                 row.topEigenvalues.map { "\($0)" }.joined(separator: ";"), row.bottomEigenvalues.map { "\($0)" }.joined(separator: ";"),
                 String(row.iterations), String(row.converged)]
            })
        case .table:
            let showCheckpoint = report.rows.contains { $0.checkpoint != nil }
            let header = (showCheckpoint ? ["checkpoint"] : []) + ["parameters", "n_parameters", "loss", "top eigenvalues", "bottom eigenvalues", "HVPs", "converged"]
            let rows = report.rows.map { row in
                (showCheckpoint ? [row.checkpoint ?? ""] : []) + [row.parameters, String(row.nParameters), String(format: "%.6f", row.loss),
                 values(row.topEigenvalues), values(row.bottomEigenvalues), String(row.iterations), row.converged ? "yes" : "NO"]
            }
            let worst = report.rows.flatMap { $0.residuals.top + $0.residuals.bottom }.max() ?? 0
            return "\(report.model) on \(report.data) (\(report.nSamples) samples): \(report.operator.rawValue), \(report.method.rawValue), " +
                "bn_mode \(report.bnMode.rawValue), \(report.precision.rawValue), seed \(report.seed)\n\n" +
                Rendering.table(header: header, rows: rows, rightAligned: Set([showCheckpoint ? 2 : 1])) +
                "\nlargest residual ||H v - lambda v||: \(String(format: "%.2e", worst)) (tolerance \(String(format: "%.0e", report.tolerance)) x ||H||)\n" +
                (report.batchNormFolded ? "note: BatchNorm was folded into the convolutions before export; analysed as given\n" : "")
        }
    }
}
