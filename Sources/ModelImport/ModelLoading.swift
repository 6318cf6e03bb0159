import Autodiff
import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Reporting

/// An imported model with its parameter and buffer values.
public struct LoadedModel<Scalar: TensorScalar>: Sendable {
    public var model: ONNXGraphModel
    public var parameters: ParameterSet<Scalar>
    public var buffers: ParameterSet<Scalar>
    /// The file the weights came from, when `--weights` replaced the model's own.
    public var weightsFile: String?
    /// The model's BatchNorm was folded into its convolutions before export: the file's names say so
    /// (``ONNXGraphModel/batchNormFolded``), or the `--weights` file holds BatchNorm running statistics that a graph
    /// with convolutions and no BatchNormalization has no place for.
    public var batchNormFolded: Bool

    public init(model: ONNXGraphModel, parameters: ParameterSet<Scalar>, buffers: ParameterSet<Scalar>, weightsFile: String? = nil) {
        self.model = model
        self.parameters = parameters
        self.buffers = buffers
        self.weightsFile = weightsFile
        batchNormFolded = model.batchNormFolded
    }
}

public enum ModelLoader {
    /// Opens an ONNX model; with `weights`, its parameters and buffers are replaced by name from a weight file
    /// (safetensors, torch.save, npz: a checkpoint of the same architecture).
    public static func load<Scalar: TensorScalar>(_ path: String, weights: String? = nil, as _: Scalar.Type = Scalar.self) throws -> LoadedModel<Scalar> {
        let url = URL(fileURLWithPath: path)
        guard url.pathExtension.lowercased() == "onnx" else {
            throw ImportError(file: path, "MODEL must be an ONNX file (.onnx): only ONNX carries the graph. Weight-only files " +
                              "(safetensors, .pt, .npz) can replace an ONNX model's weights with --weights")
        }
        let model = try ONNXGraphModel(ONNXModel(contentsOf: url))
        var loaded = LoadedModel<Scalar>(model: model, parameters: model.makeParameters(seed: 0), buffers: model.makeBuffers(), weightsFile: nil)
        if let weights { loaded = try replacingWeights(loaded, from: weights) }
        try checkFinite(loaded.parameters, file: weights ?? path)
        try checkFinite(loaded.buffers, file: weights ?? path)
        return loaded
    }

    /// Weights holding NaN or infinities make every loss and curvature NaN: refused by name, with the first bad element.
    static func checkFinite<Scalar>(_ set: ParameterSet<Scalar>, file: String) throws {
        for (name, tensor) in zip(set.names, set.tensors) {
            if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw ImportError(file: file, "tensor '\(Rendering.printable(name))' holds \(tensor.scalars[index]) at element \(index): " +
                                  "the weights must be finite")
            }
        }
    }

    /// The graph's output on `batch`, stopping at the first node that produces a non-finite value.
    static func run<Scalar>(_ loaded: LoadedModel<Scalar>, _ batch: Dataset<Scalar>) throws -> Variable<Scalar> {
        let values = Dictionary(uniqueKeysWithValues: zip(loaded.parameters.names + loaded.buffers.names,
                                                          (loaded.parameters.tensors + loaded.buffers.tensors).map { Variable($0) }))
        return try loaded.model.run(Variable(batch.inputs), ParameterScope(values, inputs: batch.namedInputs), checkingFinite: true)
    }

    /// Why the loss over `data` is not finite: the first batch, in `batchSize` steps, where a node produces a
    /// non-finite value, named; or, when every node stays finite, the loss itself.
    public static func nonFiniteLoss<Scalar>(_ loaded: LoadedModel<Scalar>, _ data: Dataset<Scalar>, batchSize: Int, loss: Double) -> any Error {
        for start in stride(from: 0, to: data.count, by: max(1, batchSize)) {
            do { _ = try run(loaded, data.batch(start..<min(data.count, start + batchSize))) } catch { return error }
        }
        return ImportError(file: loaded.model.file, "the loss is \(loss) although every node's output is finite: the logits are too large for the loss")
    }

    /// Every parameter and buffer must be in the file with the same shape; the error lists all mismatches.
    public static func replacingWeights<Scalar>(_ loaded: LoadedModel<Scalar>, from path: String) throws -> LoadedModel<Scalar> {
        let archive = try WeightFile.open(URL(fileURLWithPath: path))
        let available = Dictionary(archive.descriptors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var problems: [String] = []
        func replace(_ set: ParameterSet<Scalar>) throws -> ParameterSet<Scalar> {
            var result = set
            for (name, tensor) in zip(set.names, set.tensors) {
                guard let descriptor = available[name] else {
                    problems.append("'\(name)' \(tensor.shape) is not in the file")
                    continue
                }
                guard descriptor.shape == tensor.shape else {
                    problems.append("'\(name)' has shape \(descriptor.shape) in the file, \(tensor.shape) in the model")
                    continue
                }
                result = result.setting(name, try archive.tensor(named: name).tensor(Scalar.self))
            }
            return result
        }
        var updated = loaded
        updated.parameters = try replace(loaded.parameters)
        updated.buffers = try replace(loaded.buffers)
        guard problems.isEmpty else {
            throw ImportError(file: path, "its weights do not fit \(loaded.model.file): " + problems.joined(separator: "; "))
        }
        updated.weightsFile = path
        let statistics = archive.descriptors.map(\.name).filter { $0.hasSuffix(".running_mean") || $0.hasSuffix(".running_var") }
        if loaded.model.hasConvolutionsWithoutBatchNorm, !statistics.isEmpty {
            updated.batchNormFolded = true
        }
        return updated
    }

    /// Runs the first batch (and a last, shorter one) through the graph so that a data set the model cannot take
    /// fails with a clear message before any analysis: an input shape that does not fit, a graph that fixes the batch
    /// size, a node that turns the data non-finite, targets that do not fit the model's outputs under `loss`.
    public static func checkCompatibility<Scalar>(_ loaded: LoadedModel<Scalar>, _ data: Dataset<Scalar>, source: String,
                                                  batchSize: Int = 1, loss: Loss = .crossEntropy) throws {
        guard data.count > 0 else { throw DataError(source, "the data set is empty") }
        guard batchSize >= 1 else { throw DataError(source, "the batch size must be at least 1, got \(batchSize)") }
        for (index, input) in loaded.model.graphInputs.enumerated() {
            guard let tensor = index == 0 ? data.inputs : data.namedInputs[input.name] else {
                throw DataError(source, "the model's input '\(Rendering.printable(input.name))' has no array in the data " +
                                "(the model takes \(loaded.model.graphInputs.map(\.name).joined(separator: ", ")); an .npz names its arrays after them)")
            }
            let declared = input.shape.dropFirst(), given = tensor.shape.dropFirst()
            if declared.count != given.count || zip(declared, given).contains(where: { $0 != nil && $0 != $1 }) {
                throw DataError(source, "each sample has shape \(Array(given)) but the model's input '\(Rendering.printable(input.name))' " +
                                "takes [\(declared.map { $0.map(String.init) ?? "?" }.joined(separator: ", "))] (use --input-shape, --layout)")
            }
            if input.isInteger, let bad = tensor.scalars.firstIndex(where: { $0 < 0 || $0 != $0.rounded() }) {
                throw DataError(source, "the model's input '\(Rendering.printable(input.name))' takes non-negative integers " +
                                "(token ids, masks) but value \(bad) is \(tensor.scalars[bad])")
            }
        }
        let first = data.batch(0..<min(batchSize, data.count))
        try checkTargets(try run(loaded, first), samples: first.count, data.targets, source: source, loss: loss)
        let last = data.count % batchSize
        if last != 0 && data.count > batchSize {
            try checkTargets(try run(loaded, data.batch((data.count - last)..<data.count)), samples: last, data.targets, source: source, loss: loss)
        }
    }

    /// The model's outputs on a batch of `samples` must be what `loss` scores, and every one of `targets` (the whole
    /// data set's) must be in the range of those outputs.
    static func checkTargets<Scalar>(_ output: Variable<Scalar>, samples n: Int, _ targets: Targets<Scalar>, source: String, loss: Loss) throws {
        switch (loss, targets) {
        case (.crossEntropy, .labels(let labels)):
            guard output.shape.first == n else {
                throw DataError(source, "the model's output has shape \(output.shape) for \(n) samples; cross-entropy with one label per sample needs (samples, classes)")
            }
            let classes = output.shape.dropFirst().reduce(1, *)
            if let bad = labels.firstIndex(where: { $0 >= classes }) {
                throw DataError(source, "label \(labels[bad]) (sample \(bad)) is out of range: the model has \(classes) outputs")
            }
        case (.crossEntropy, .tokens(let labels, let length)), (.causalLanguageModel, .tokens(let labels, let length)):
            guard output.shape.count == 3, output.shape[0] == n, output.shape[1] == length else {
                throw DataError(source, "the model's output has shape \(output.shape) but \(n) samples of \(length) token labels need " +
                                "logits of shape [\(n), \(length), vocabulary]")
            }
            if let bad = labels.firstIndex(where: { $0 >= output.shape[2] || ($0 < 0 && $0 != Loss.ignoreIndex) }) {
                throw DataError(source, "token label \(labels[bad]) (sample \(bad / max(1, length)), position \(bad % max(1, length))) is out of range: " +
                                "the model has \(output.shape[2]) classes and \(Loss.ignoreIndex) marks an ignored position")
            }
        case (.meanSquaredError, .values(let values)):
            guard output.value.count == values.count / max(1, targets.count) * n, output.shape.first == n else {
                throw DataError(source, "the model's output has shape \(output.shape) for \(n) samples but the targets have shape \(values.shape)")
            }
        case (.fromModel, _):
            guard output.value.count == 1 else {
                throw DataError(source, "--loss from-model takes the model's output as the loss, " +
                                "but it has shape \(output.shape), not one value")
            }
        default:
            throw DataError(source, "the targets do not fit the loss \(loss.rawValue)")
        }
    }
}
