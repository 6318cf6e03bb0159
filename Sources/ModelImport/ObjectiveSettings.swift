import Foundation
import ModelFormats
import LinearAlgebra
import NeuralNetworks

/// The floating-point precision of an analysis.
public enum Precision: String, Sendable, Codable, CaseIterable {
    case float, double

    /// The precision an analysis computing in `Scalar` runs at.
    public init<Scalar: TensorScalar>(of _: Scalar.Type) { self = Scalar.self == Float.self ? .float : .double }
}

/// Everything that fixes an empirical risk: the model file, the weights that replace its own, the data and how it is
/// read, batched and normalised (BatchNorm mode), and the precision. Codable, so a checkpoint or a record can say
/// which objective produced it and a resume can refuse a different one.
public struct ObjectiveSettings: Sendable, Codable, Equatable {
    /// The ONNX model.
    public var model: String
    /// A weight file (safetensors, .pt, .npz) whose tensors replace the model's by name; nil keeps the model's own.
    public var weights: String?
    /// The data: a file, "digits" or "synthetic[:...]" (``DataLoader/load(_:options:loss:inputNames:as:)``).
    public var data: String
    public var dataOptions = DataOptions()
    /// Samples per batch: memory only in eval mode; in train mode BatchNorm normalises each batch by its own statistics.
    public var batchSize = 256
    /// One fixed batch (0-based) instead of the whole data set.
    public var batchIndex: Int?
    public var bnMode: BatchNormMode = .eval
    public var precision: Precision = .double
    /// The loss whose curvature is analysed (PyTorch's definitions: `Loss`, in NeuralNetworks).
    public var loss: Loss = .crossEntropy
    /// Content fingerprints (`FileDigest`, in ModelFormats) of the input files, by role ("model", "weights", "data", and any a caller
    /// adds), once ``digestingInputs(_:)`` has taken them: a checkpoint written under these settings then resumes
    /// only over the same contents, not merely the same paths. Nil when not taken.
    public var inputDigests: [String: String]?

    public init(model: String, weights: String? = nil, data: String) {
        self.model = model
        self.weights = weights
        self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case model, weights, data, dataOptions = "data_options", batchSize = "batch_size", batchIndex = "batch_index"
        case bnMode = "bn_mode", precision, loss, inputDigests = "input_digests"
    }

    /// Decodes settings; a record written before the loss was recorded is of the cross-entropy it then always was.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        weights = try c.decodeIfPresent(String.self, forKey: .weights)
        data = try c.decode(String.self, forKey: .data)
        dataOptions = try c.decode(DataOptions.self, forKey: .dataOptions)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        batchIndex = try c.decodeIfPresent(Int.self, forKey: .batchIndex)
        bnMode = try c.decode(BatchNormMode.self, forKey: .bnMode)
        precision = try c.decode(Precision.self, forKey: .precision)
        loss = try c.decodeIfPresent(Loss.self, forKey: .loss) ?? .crossEntropy
        inputDigests = try c.decodeIfPresent([String: String].self, forKey: .inputDigests)
    }

    /// These settings with ``inputDigests`` taken of the model, the weights, the data when it is a file, and `extra`
    /// (role: path, e.g. "--to b.pt": "b.pt" for a landscape's checkpoint). Checkpointed runs take them when they start.
    public func digestingInputs(_ extra: [String: String] = [:]) throws -> ObjectiveSettings {
        var files = extra
        files["model"] = model
        files["weights"] = weights
        if FileManager.default.fileExists(atPath: data) { files["data"] = data }
        var result = self
        result.inputDigests = try files.mapValues { path throws(FormatError) in try FileDigest.of(path) }
        return result
    }

    /// The input files (as "the model file model.onnx") whose contents differ from those `saved` recorded, or that
    /// one of the two recorded and the other did not.
    public func changedInputs(since saved: ObjectiveSettings) -> [String] {
        let (mine, theirs) = (inputDigests ?? [:], saved.inputDigests ?? [:])
        return Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted().map { role in
            let path = switch role {
            case "model": model
            case "weights": weights ?? "(none)"
            case "data": data
            default: ""
            }
            return path.isEmpty ? "the \(role) file" : "the \(role) file \(path)"
        }
    }

    /// The model with `checkpoint` (or ``weights``) loaded, the data (only `part` of it when given: one process's
    /// share of a data-parallel run), checked against each other, and the objective over them: the mean of ``loss``.
    public func load<Scalar: TensorScalar>(
        _: Scalar.Type = Scalar.self, checkpoint: String? = nil, part: DataPart? = nil
    ) throws -> (objective: Objective<Scalar>, model: LoadedModel<Scalar>) {
        guard batchSize >= 1 else { throw DataError(data, "the batch size must be at least 1, got \(batchSize)") }
        if part != nil, batchIndex != nil {
            throw DataError(data, "--batch-index analyses one batch of one process; under mpirun each process holds a share of the data (drop --batch-index, or run one process)")
        }
        let loaded: LoadedModel<Scalar> = try ModelLoader.load(model, weights: checkpoint ?? weights)
        var options = dataOptions
        options.part = part
        let dataset: Dataset<Scalar> = try DataLoader.load(data, options: options, loss: loss, inputNames: loaded.model.graphInputs.map(\.name))
        try ModelLoader.checkCompatibility(loaded, dataset, source: data, batchSize: batchSize, loss: loss)
        let batches = (dataset.count + batchSize - 1) / batchSize
        if let batchIndex, !(0..<batches).contains(batchIndex) {
            throw DataError(data, "--batch-index \(batchIndex) is past the last batch (\(dataset.count) samples make \(batches) batches of \(batchSize))")
        }
        let objective = Objective(model: loaded.model, parameters: loaded.parameters, buffers: loaded.buffers, loss: loss,
                                  data: dataset, batchSize: batchSize, scope: batchIndex.map { .batch($0) } ?? .fullData, batchNormMode: bnMode)
        return (objective, loaded)
    }

    /// A second data set (a test set) read as ``data`` is, checked against `loaded`.
    public func dataset<Scalar: TensorScalar>(_ spec: String, for loaded: LoadedModel<Scalar>) throws -> Dataset<Scalar> {
        let dataset: Dataset<Scalar> = try DataLoader.load(spec, options: dataOptions, loss: loss, inputNames: loaded.model.graphInputs.map(\.name))
        try ModelLoader.checkCompatibility(loaded, dataset, source: spec, batchSize: batchSize, loss: loss)
        return dataset
    }
}

/// Weight-file arguments with globs: each pattern that holds * or ? and names no existing file is replaced by its
/// matches, sorted; the rest are kept in order.
public func expandingGlobs(_ patterns: [String]) -> [String] {
    patterns.flatMap { pattern -> [String] in
        guard pattern.contains("*") || pattern.contains("?"), !FileManager.default.fileExists(atPath: pattern) else { return [pattern] }
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(pattern, 0, nil, &matches) == 0 else { return [pattern] }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}
