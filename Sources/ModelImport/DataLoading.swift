import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Reporting

/// Why a data set cannot be used.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public var source: String
    public var reason: String
    public var description: String { "\(source): \(reason)" }
    public init(_ source: String, _ reason: String) {
        self.source = source
        self.reason = reason
    }
}

/// How to read inputs and labels.
public struct DataOptions: Sendable, Codable, Equatable {
    /// Array names in an .npz file.
    public var inputKey = "x"
    public var labelKey = "y"
    /// The label column of a CSV file (default: "label" if present, else the last column).
    public var labelColumn: String?
    /// Each sample's shape, e.g. [1, 8, 8]; default: as stored.
    public var inputShape: [Int]?
    /// Whether stored images are channels-last (converted to NCHW).
    public var channelsLast = false
    /// Per-channel normalisation `(x - mean) / std` on axis 1, after reshaping.
    public var mean: [Double]?
    public var standardDeviation: [Double]?
    /// Use only the first `limit` samples.
    public var limit: Int?
    /// Keep only part `index` of `count` contiguous, nearly equal parts of the samples (after `limit`): one process's
    /// share of a data-parallel run.
    public var part: DataPart?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case inputKey = "x_key", labelKey = "y_key", labelColumn = "label_column", inputShape = "input_shape"
        case channelsLast = "channels_last", mean, standardDeviation = "std", limit
    }
}

/// Loads the data sets the analysis commands take.
public enum DataLoader {
    /// `spec` is a file (.npz with inputs and integer labels, .npy of inputs beside an .npy of labels named by the label
    /// key, .csv with a label column), "digits" (the shipped UCI
    /// digits, 1797 8x8 images), or "synthetic[:samples=N,features=D,classes=C,seed=S]" (a seeded Gaussian mixture).
    ///
    /// The targets are read as `loss` scores them: class indices (one per sample, or per token for an array of
    /// rank 2 or more) for cross-entropy, values for MSE, token labels for the causal loss (the `labels` array, or the
    /// `input_ids` when there is none), none for the model's own loss. A model with several inputs (`inputNames`, in
    /// the graph's order) takes each from the .npz array of its name; the first falls back to the input key.
    public static func load<Scalar: TensorScalar>(_ spec: String, options: DataOptions = DataOptions(), loss: Loss = .crossEntropy,
                                                  inputNames: [String] = [], as _: Scalar.Type = Scalar.self) throws -> Dataset<Scalar> {
        let raw = try raw(spec, options: options, inputNames: inputNames)
        var data = Dataset(inputs: raw.inputs, targets: try targets(raw, loss: loss, source: spec), namedInputs: raw.namedInputs)
        if let limit = options.limit {
            guard limit >= 1 else { throw DataError(spec, "--limit must be at least 1") }
            data = data.batch(0..<min(limit, data.count))
        }
        if let part = options.part {
            let rows = part.rows(of: data.count)
            guard !rows.isEmpty else {
                throw DataError(spec, "\(data.count) samples cannot be shared by \(part.count) processes: process \(part.index) would hold none")
            }
            data = data.batch(rows)
        }
        for (name, tensor) in [(raw.inputName, data.inputs)] + data.namedInputs.sorted(by: { $0.key < $1.key }).map({ ($0.key, $0.value) }) {
            if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw DataError(spec, "input '\(name)' value \(index) (sample \(index / max(1, tensor.count / max(1, data.count)))) is NaN or infinite")
            }
            // Token ids travel as Scalar; Float holds every integer up to 2^24 exactly, and no further.
            if Scalar.self == Float.self, tensor.scalars.allSatisfy({ $0 == $0.rounded() }),
               let index = tensor.scalars.firstIndex(where: { abs($0) > 16_777_216 }) {
                throw DataError(spec, "input '\(name)' value \(index) is \(Int(tensor.scalars[index])), an integer Float cannot hold exactly (use --precision double)")
            }
        }
        var inputs = data.inputs
        if let shape = options.inputShape {
            let width = inputs.count / max(1, data.count)
            guard shape.reduce(1, *) == width, shape.allSatisfy({ $0 > 0 }) else {
                throw DataError(spec, "--input-shape \(shape.map(String.init).joined(separator: ",")) has \(shape.reduce(1, *)) " +
                                "elements but each sample has \(width)")
            }
            inputs = inputs.reshaped([data.count] + shape)
        }
        if options.channelsLast {
            guard inputs.rank == 4 else { throw DataError(spec, "--layout nhwc needs 4-D inputs, got shape \(inputs.shape)") }
            inputs = permuteNHWC(inputs)
        }
        if options.mean != nil || options.standardDeviation != nil {
            guard inputs.rank >= 2 else { throw DataError(spec, "normalisation needs a channel axis, inputs have shape \(inputs.shape)") }
            let channels = inputs.shape[1]
            let mean = options.mean ?? [0], std = options.standardDeviation ?? [1]
            guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw DataError(spec, "--mean must be finite and --std finite and positive, got mean \(mean), std \(std)")
            }
            guard [1, channels].contains(mean.count), [1, channels].contains(std.count) else {
                throw DataError(spec, "--mean/--std need 1 or \(channels) values (one per channel)")
            }
            let inner = inputs.shape.dropFirst(2).reduce(1, *)
            inputs = Tensor(shape: inputs.shape, scalars: inputs.scalars.enumerated().map { index, value in
                let c = (index / inner) % channels
                return (value - mean[mean.count == 1 ? 0 : c]) / std[std.count == 1 ? 0 : c]
            })
        }
        return Dataset(inputs: inputs.converted(to: Scalar.self), targets: data.targets.converted(to: Scalar.self),
                       namedInputs: data.namedInputs.mapValues { $0.converted(to: Scalar.self) })
    }

    /// A data file's arrays before the loss reads its targets.
    struct RawData {
        var inputName: String
        var inputs: Tensor<Double>
        var namedInputs: [String: Tensor<Double>] = [:]
        /// The target array and its name; nil when the file has none.
        var targets: (name: String, tensor: Tensor<Double>)?
    }

    /// The targets `loss` scores, read from the file's target array (or, for the causal loss, the token ids).
    static func targets(_ raw: RawData, loss: Loss, source: String) throws -> Targets<Double> {
        let count = raw.inputs.shape.first ?? 0
        if loss == .fromModel { return .none(count: count) }
        let tokenIDs = raw.namedInputs["input_ids"].map { ("input_ids", $0) } ?? (raw.inputName == "input_ids" ? ("input_ids", raw.inputs) : nil)
        guard let (name, tensor) = raw.targets ?? (loss == .causalLanguageModel ? tokenIDs : nil) else {
            throw DataError(source, loss == .causalLanguageModel
                ? "--loss causal-lm needs a 'labels' array or the model's 'input_ids' to take next-token labels from"
                : "no target array (name it with --y-key)")
        }
        guard tensor.shape.first == count else {
            throw DataError(source, "'\(raw.inputName)' has \(count) samples but '\(name)' has \(tensor.shape.first ?? 0)")
        }
        switch loss {
        case .meanSquaredError:
            if let bad = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw DataError(source, "target value \(bad) of '\(name)' is \(tensor.scalars[bad]): MSE targets must be finite")
            }
            return .values(tensor)
        case .crossEntropy where tensor.rank <= 1:
            return .labels(try checkedLabels(tensor.scalars, source: source))
        case .causalLanguageModel where tensor.rank != 2:
            throw DataError(source, "--loss causal-lm takes token labels of shape (samples, tokens), '\(name)' has shape \(tensor.shape)")
        default:
            return .tokens(try checkedLabels(tensor.scalars, source: source, tokensOf: name), length: tensor.count / max(1, count))
        }
    }

    static func raw(_ spec: String, options: DataOptions, inputNames: [String]) throws -> RawData {
        let isSynthetic = spec == "synthetic" || spec.hasPrefix("synthetic:")
        if spec == "digits" || isSynthetic, options.inputKey != DataOptions().inputKey || options.labelKey != DataOptions().labelKey {
            throw DataError(spec, "--x-key and --y-key name the arrays of an .npz or .npy data file; built-in data has none to choose")
        }
        if spec == "digits" {
            guard let url = Bundle.module.url(forResource: "digits", withExtension: "npz") else {
                throw DataError(spec, "the shipped digits data is missing from this build")
            }
            return try npz(url, display: "digits", options: DataOptions(), inputNames: [])
        }
        if isSynthetic { return try synthetic(spec, limit: options.limit) }
        let url = URL(fileURLWithPath: spec)
        switch url.pathExtension.lowercased() {
        case "npz": return try npz(url, display: spec, options: options, inputNames: inputNames)
        case "npy": return try npy(url, display: spec, options: options)
        case "csv": return try csv(url, display: spec, options: options)
        default:
            throw DataError(spec, "unrecognised data (use an .npz with inputs and labels, an .npy of inputs beside an .npy of " +
                            "labels, a .csv with a label column, " +
                            "\"digits\" or \"synthetic:samples=N,features=D,classes=C,seed=S\")")
        }
    }

    /// The arrays named after the model's inputs (the first falls back to the input key) and the target array: the
    /// label key's, or `labels` when the label key is the default and absent.
    static func npz(_ url: URL, display: String, options: DataOptions, inputNames: [String]) throws -> RawData {
        let archive = try NumPyArchive(contentsOf: url)
        let names = archive.descriptors.map(\.name)
        let first = inputNames.first.flatMap { names.contains($0) ? $0 : nil } ?? options.inputKey
        let missing = ([first] + inputNames.dropFirst()).filter { !names.contains($0) }
        guard missing.isEmpty else {
            throw DataError(display, "no array named '\(Rendering.printable(missing[0]))' (the file has: \(names.map(Rendering.printable).joined(separator: ", "))); " +
                            (missing[0] == first ? "choose the inputs with --x-key" : "the model's inputs are read from arrays of their names"))
        }
        var data = RawData(inputName: first, inputs: try archive.tensor(named: first).tensor(Double.self))
        for name in inputNames.dropFirst() { data.namedInputs[name] = try archive.tensor(named: name).tensor(Double.self) }
        for (name, tensor) in data.namedInputs where tensor.shape.first != data.inputs.shape.first {
            throw DataError(display, "'\(first)' has \(data.inputs.shape.first ?? 0) samples but '\(Rendering.printable(name))' has \(tensor.shape.first ?? 0)")
        }
        let targetName = names.contains(options.labelKey) ? options.labelKey
            : options.labelKey == DataOptions().labelKey && names.contains("labels") ? "labels" : nil
        if let targetName { data.targets = (targetName, try archive.tensor(named: targetName).tensor(Double.self)) }
        return data
    }

    /// Inputs from an .npy file; labels from the .npy beside it named by the label key (default y.npy).
    static func npy(_ url: URL, display: String, options: DataOptions) throws -> RawData {
        let labelsURL = url.deletingLastPathComponent().appendingPathComponent(options.labelKey + ".npy")
        guard FileManager.default.fileExists(atPath: labelsURL.path) else {
            throw DataError(display, "its labels are read from \(labelsURL.relativePath), which does not exist (name it with --y-key)")
        }
        let inputs = try NumPyFormat.read(contentsOf: url)
        let labels = try NumPyFormat.read(contentsOf: labelsURL)
        guard inputs.shape.first == labels.shape.first else {
            throw DataError(display, "\(inputs.shape.first ?? 0) samples but \(labels.shape.first ?? 0) labels in \(labelsURL.relativePath)")
        }
        return RawData(inputName: url.lastPathComponent, inputs: inputs.tensor(Double.self), targets: (labelsURL.relativePath, labels.tensor(Double.self)))
    }

    static func csv(_ url: URL, display: String, options: DataOptions) throws -> RawData {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw DataError(display, "cannot read the file") }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces) } }
        guard let header = lines.first, lines.count >= 2 else { throw DataError(display, "needs a header row and at least one data row") }
        let labelIndex: Int
        if let name = options.labelColumn {
            guard let index = header.firstIndex(of: name) else {
                throw DataError(display, "no column named '\(name)' (columns: \(header.joined(separator: ", ")))")
            }
            labelIndex = index
        } else {
            labelIndex = header.firstIndex(of: "label") ?? header.count - 1
        }
        var inputs: [Double] = [], labelValues: [Double] = []
        for (row, fields) in lines.dropFirst().enumerated() {
            guard fields.count == header.count else {
                throw DataError(display, "row \(row + 2) has \(fields.count) fields, the header has \(header.count)")
            }
            for (column, field) in fields.enumerated() {
                guard let value = Double(field) else { throw DataError(display, "row \(row + 2), column '\(header[column])': '\(field)' is not a number") }
                if column == labelIndex { labelValues.append(value) } else { inputs.append(value) }
            }
        }
        return RawData(inputName: url.lastPathComponent, inputs: Tensor(shape: [labelValues.count, header.count - 1], scalars: inputs),
                       targets: (header[labelIndex], Tensor(labelValues)))
    }

    /// Class indices: non-negative integers. Token labels (`tokensOf`, the array's name) may also be the ignore index.
    static func checkedLabels(_ values: [Double], source: String, tokensOf array: String? = nil) throws -> [Int] {
        try values.enumerated().map { index, value in
            let ignored = array != nil && value == Double(Loss.ignoreIndex)
            guard value == value.rounded(), (value >= 0 && value < 1e9) || ignored else {
                if let array {
                    throw DataError(source, "token label \(index) of '\(array)' is \(value): labels must be class indices or \(Loss.ignoreIndex) (ignored)")
                }
                throw DataError(source, "label \(index) is \(value): labels must be non-negative integers (class indices)")
            }
            return Int(value)
        }
    }

    /// C Gaussian clusters in D dimensions with unit spread, means drawn N(0, 9 I), samples assigned round-robin; all
    /// from one seed.
    /// Only the first `limit` samples are drawn: each sample's draws follow the previous one's, so they are the same
    /// samples the whole set would start with, and `samples=10^11` with a limit costs what the limit costs.
    static func synthetic(_ spec: String, limit: Int? = nil) throws -> RawData {
        var settings = ["samples": 512, "features": 8, "classes": 4, "seed": 0]
        if let colon = spec.firstIndex(of: ":") {
            for pair in spec[spec.index(after: colon)...].split(separator: ",") {
                let parts = pair.split(separator: "=")
                guard parts.count == 2, settings[String(parts[0])] != nil, let value = Int(parts[1]), value >= 0 else {
                    throw DataError(spec, "expected synthetic:samples=N,features=D,classes=C,seed=S, got '\(pair)'")
                }
                settings[String(parts[0])] = value
            }
        }
        let (n, d, c) = (settings["samples"]!, settings["features"]!, settings["classes"]!)
        guard n >= 1, d >= 1, c >= 1 else { throw DataError(spec, "samples, features and classes must be at least 1") }
        let drawn = min(n, max(limit ?? n, 1))
        do {
            try MemoryBudget.machine.check([c, d], bytesEach: 8, for: "the class means (\(c) classes of \(d) features)")
            try MemoryBudget.machine.check([drawn, d], bytesEach: 8, for: "the data (\(drawn) samples of \(d) features)")
        } catch { throw DataError(spec, error.description) }
        var random = SeededRandom(seed: UInt64(settings["seed"]!))
        let centres = (0..<(c * d)).map { _ in 3 * random.gaussian() }
        let labels = (0..<drawn).map { $0 % c }
        let inputs = labels.flatMap { label in (0..<d).map { centres[label * d + $0] + random.gaussian() } }
        return RawData(inputName: "synthetic", inputs: Tensor(shape: [drawn, d], scalars: inputs), targets: ("labels", Tensor(labels.map(Double.init))))
    }

    static func permuteNHWC(_ x: Tensor<Double>) -> Tensor<Double> {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var result = [Double](repeating: 0, count: x.count)
        for s in 0..<n { for i in 0..<h { for j in 0..<w { for k in 0..<c {
            result[((s * c + k) * h + i) * w + j] = x.scalars[((s * h + i) * w + j) * c + k]
        } } } }
        return Tensor(shape: [n, c, h, w], scalars: result)
    }
}
