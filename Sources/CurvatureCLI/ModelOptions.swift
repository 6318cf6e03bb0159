import ArgumentParser
import Curvature
import Foundation

extension BatchNormMode: ExpressibleByArgument {}

extension Precision: ExpressibleByArgument {}

/// The CLI spells losses with hyphens (cross-entropy, causal-lm, from-model), JSON with underscores.
extension Loss: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.replacingOccurrences(of: "-", with: "_")) }
    public var argumentName: String { rawValue.replacingOccurrences(of: "_", with: "-") }
    public var defaultValueDescription: String { argumentName }
    public static var allValueStrings: [String] { allCases.map(\.argumentName) }
}

enum Layout: String, ExpressibleByArgument, CaseIterable {
    case nchw, nhwc
}

/// The model and data plumbing every analysis command shares.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The model: an ONNX file (only ONNX carries the graph).")
    var model: String

    @Option(help: "Data: an .npz with inputs and integer labels (a model with several inputs takes the arrays of their names), an .npy of inputs beside an .npy of labels (--y-key), a .csv with a label column, 'digits', or 'synthetic[:samples=N,features=D,classes=C,seed=S]'.")
    var data: String

    @Option(parsing: .upToNextOption,
            help: "Replace the model's parameters and buffers by name from a weight file (safetensors, .pt, .npz); several files (or a glob) give one row per checkpoint where the command supports it.")
    var weights: [String] = []

    @Option(name: .customLong("x-key"), help: "The inputs' array name in an .npz.")
    var xKey = "x"

    @Option(name: .customLong("y-key"), help: "The labels' array name in an .npz.")
    var yKey = "y"

    @Option(help: "The label column of a CSV (default: 'label', else the last column).")
    var labelColumn: String?

    @Option(help: "Each sample's shape, e.g. 1,8,8.")
    var inputShape: String?

    @Option(help: "Layout of stored images: \(Layout.allCases.map(\.rawValue).joined(separator: ", ")) (converted to NCHW).")
    var layout: Layout = .nchw

    @Option(help: "Per-channel means to subtract, e.g. 0.5 or 0.485,0.456,0.406.")
    var mean: String?

    @Option(help: "Per-channel standard deviations to divide by.")
    var std: String?

    @Option(help: "Samples per batch (memory only: full-data results do not depend on it in eval mode).")
    var batchSize = 256

    @Option(help: "Use only the first N samples.")
    var limit: Int?

    @Option(help: "Analyse one fixed batch (0-based, batches of --batch-size in file order) instead of the whole data set.")
    var batchIndex: Int?

    @Option(help: "BatchNorm statistics: eval (running statistics) or train (each batch's own).")
    var bnMode: BatchNormMode = .eval

    @Option(help: "Arithmetic precision: \(Precision.allCases.map(\.rawValue).joined(separator: ", ")).")
    var precision: Precision = .double

    @Option(help: "The loss: cross-entropy (one label per sample, or per token with -100 ignored), causal-lm (next-token, from 'labels' or 'input_ids'), mse (targets of the output's shape), from-model (the graph's scalar output is the loss).")
    var loss: Loss = .crossEntropy

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if let batchIndex, batchIndex < 0 { throw ValidationError("--batch-index must be at least 0, got \(batchIndex)") }
        _ = try numbers(inputShape, option: "--input-shape")
        _ = try numbers(mean, option: "--mean")
        _ = try numbers(std, option: "--std")
    }

    func numbers(_ text: String?, option: String) throws -> [Double]? {
        guard let text else { return nil }
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("\(option) takes comma-separated numbers, got '\(text)'")
        }
        return values.map { $0! }
    }

    var dataOptions: DataOptions {
        var options = DataOptions()
        options.inputKey = xKey
        options.labelKey = yKey
        options.labelColumn = labelColumn
        options.inputShape = (try? numbers(inputShape, option: ""))??.map { Int($0) }
        options.channelsLast = layout == .nhwc
        options.mean = try? numbers(mean, option: "") ?? nil
        options.standardDeviation = try? numbers(std, option: "") ?? nil
        options.limit = limit
        return options
    }

    /// The weight files, globs expanded, in order.
    var weightFiles: [String] { expandingGlobs(weights) }

    /// The objective these options describe, with `checkpoint` (or the one --weights file) as its weights.
    func settings(checkpoint: String? = nil) throws -> ObjectiveSettings {
        let files = weightFiles
        guard checkpoint != nil || files.count <= 1 else {
            throw MessageError("this command takes one --weights file, got \(files.count)")
        }
        var settings = ObjectiveSettings(model: model, weights: checkpoint ?? files.first, data: data)
        settings.dataOptions = dataOptions
        settings.batchSize = batchSize
        settings.batchIndex = batchIndex
        settings.bnMode = bnMode
        settings.precision = precision
        settings.loss = loss
        return settings
    }

    /// Loads model, weights (one file at most, or `checkpoint`) and data, checks they fit, and builds the objective.
    /// With `sharded` under MPI, each rank loads its contiguous part of the data and the objective adds the ranks'
    /// partial sums (``DataShare``); a failure on any rank ends every rank (``AgreedFailure``).
    func objective<Scalar: TensorScalar>(_: Scalar.Type, checkpoint: String? = nil, sharded: Bool = false) throws -> (Objective<Scalar>, LoadedModel<Scalar>) {
        try objective(Scalar.self, settings: try settings(checkpoint: checkpoint), sharded: sharded)
    }

    /// The objective `settings` describe, shared over the ranks of an MPI run when `sharded`.
    func objective<Scalar: TensorScalar>(_: Scalar.Type, settings: ObjectiveSettings, sharded: Bool) throws -> (Objective<Scalar>, LoadedModel<Scalar>) {
        let group = ProcessGroup.world
        let parts = sharded ? group.size : 1
        var (objective, model) = try group.agreeing { try settings.load(Scalar.self, part: parts > 1 ? group.dataPart : nil) }
        if parts > 1 { objective.share = DataShare(sums: group, localSamples: objective.data.count, localTerms: objective.termCount) }
        return (objective, model)
    }
}
