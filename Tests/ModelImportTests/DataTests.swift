import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Testing
@testable import ModelImport

func temporaryFile(_ name: String) -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curvature-data-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name)
}

/// Expects an error whose description contains every fragment.
func expectError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch {
        let text = String(describing: error)
        for fragment in fragments { #expect(text.contains(fragment), "\(text)", sourceLocation: sourceLocation) }
    }
}

@Suite struct DataTests {
    @Test func digitsAndSyntheticData() throws {
        let digits: Dataset<Double> = try DataLoader.load("digits")
        #expect(digits.count == 1797 && digits.inputs.shape == [1797, 64])
        var options = DataOptions()
        options.inputShape = [1, 8, 8]
        options.mean = [0.5]
        options.standardDeviation = [0.25]
        options.limit = 10
        let images: Dataset<Float> = try DataLoader.load("digits", options: options)
        #expect(images.inputs.shape == [10, 1, 8, 8])
        #expect(Swift.abs(images.inputs[0, 0, 0, 2] - Float((digits.inputs[0, 2] - 0.5) / 0.25)) < 1e-6)
        let a: Dataset<Double> = try DataLoader.load("synthetic:samples=30,features=5,classes=3,seed=7")
        let b: Dataset<Double> = try DataLoader.load("synthetic:samples=30,features=5,classes=3,seed=7")
        let c: Dataset<Double> = try DataLoader.load("synthetic:samples=30,features=5,classes=3,seed=8")
        #expect(a == b && a != c && a.inputs.shape == [30, 5] && a.targets == .labels((0..<30).map { $0 % 3 }))
    }

    @Test func npzKeysCsvColumnsAndLayout() throws {
        let url = temporaryFile("data.npz")
        let nhwc = Tensor<Double>(shape: [2, 2, 3, 4], scalars: (0..<48).map(Double.init))
        try NumPyArchive.write([StoredTensor(name: "images", tensor: nhwc), StoredTensor(name: "classes", tensor: Tensor<Double>([1, 0]))], to: url)
        var options = DataOptions()
        options.inputKey = "images"
        options.labelKey = "classes"
        options.channelsLast = true
        let data: Dataset<Double> = try DataLoader.load(url.path, options: options)
        #expect(data.inputs.shape == [2, 4, 2, 3] && data.inputs[1, 3, 1, 2] == nhwc[1, 1, 2, 3])
        #expect(data.targets == .labels([1, 0]))
        expectError(["no array named 'x'", "images, classes", "--x-key"]) { let _: Dataset<Double> = try DataLoader.load(url.path) }

        let csv = temporaryFile("data.csv")
        try "a,label,b\n1,2,3\n4,0,6\n".write(to: csv, atomically: true, encoding: .utf8)
        let table: Dataset<Double> = try DataLoader.load(csv.path)
        #expect(table.inputs == Tensor(rows: [[1, 3], [4, 6]]) && table.targets == .labels([2, 0]))
        try "a,b\n1,x\n".write(to: csv, atomically: true, encoding: .utf8)
        expectError(["row 2", "'x' is not a number"]) { let _: Dataset<Double> = try DataLoader.load(csv.path) }
    }

    @Test func npyInputsBesideNpyLabels() throws {
        let inputs = temporaryFile("inputs.npy")
        try NumPyFormat.write(StoredTensor(name: "x", tensor: Tensor<Double>(rows: [[1, 2], [3, 4], [5, 6]])), to: inputs)
        expectError(["y.npy, which does not exist", "--y-key"]) { let _: Dataset<Double> = try DataLoader.load(inputs.path) }
        try NumPyFormat.write(StoredTensor(name: "y", tensor: Tensor<Double>([2, 0, 1])), to: inputs.deletingLastPathComponent().appendingPathComponent("y.npy"))
        let data: Dataset<Double> = try DataLoader.load(inputs.path)
        #expect(data.inputs.shape == [3, 2] && data.targets == .labels([2, 0, 1]))
    }

    @Test func badLabelsAndNaNInputs() throws {
        let url = temporaryFile("bad.npz")
        try NumPyArchive.write([StoredTensor(name: "x", tensor: Tensor<Double>([1, .nan, 3]).reshaped([3, 1])),
                                StoredTensor(name: "y", tensor: Tensor<Double>([0, 1, 2]))], to: url)
        expectError(["bad.npz", "NaN"]) { let _: Dataset<Double> = try DataLoader.load(url.path) }
        try NumPyArchive.write([StoredTensor(name: "x", tensor: Tensor<Double>([1, 2]).reshaped([2, 1])),
                                StoredTensor(name: "y", tensor: Tensor<Double>([0, 1.5]))], to: url)
        expectError(["label 1 is 1.5", "non-negative integers"]) { let _: Dataset<Double> = try DataLoader.load(url.path) }
        var options = DataOptions()
        options.inputShape = [3, 3]
        expectError(["--input-shape 3,3 has 9 elements", "64"]) { let _: Dataset<Double> = try DataLoader.load("digits", options: options) }
    }

    @Test func modelAndDataMustFit() throws {
        let cnn: LoadedModel<Double> = try ModelLoader.load(fixture("cnn.onnx").path)
        let flat: Dataset<Double> = try DataLoader.load("digits")
        expectError(["each sample has shape [64]", "takes [1, 8, 8]", "--input-shape"]) {
            try ModelLoader.checkCompatibility(cnn, flat, source: "digits")
        }
        let images = Dataset(inputs: flat.inputs.rows(0..<3).reshaped([3, 1, 8, 8]), targets: .labels([0, 12, 1]))
        expectError(["label 12 (sample 1) is out of range", "10 outputs"]) { try ModelLoader.checkCompatibility(cnn, images, source: "d") }
        let transformer: LoadedModel<Double> = try ModelLoader.load(fixture("transformer.onnx").path)
        let tokens = Dataset(inputs: Tensor<Double>(shape: [1, 6], scalars: [1, 2, 3, 4, 5, 0.5]), targets: .labels([0]))
        expectError(["takes non-negative integers (token ids", "0.5"]) { try ModelLoader.checkCompatibility(transformer, tokens, source: "t") }
        expectError(["MODEL must be an ONNX file"]) { let _: LoadedModel<Double> = try ModelLoader.load(fixture("cnn.pt").path) }
    }

    @Test func weightsReplaceParametersByNameAndMismatchesAreListed() throws {
        // The state_dict of the same architecture gives back the same values.
        let own: LoadedModel<Double> = try ModelLoader.load(fixture("resnet.onnx").path)
        let replaced: LoadedModel<Double> = try ModelLoader.load(fixture("resnet.onnx").path, weights: fixture("resnet.pt").path)
        #expect(replaced.weightsFile != nil)
        for (name, tensor) in zip(own.parameters.names, own.parameters.tensors) {
            #expect((replaced.parameters[name]! - tensor).maxAbsolute() < 1e-7, "\(name)")
        }
        // A checkpoint of another architecture: every missing name and wrong shape is listed.
        let changed = temporaryFile("changed.safetensors")
        try SafetensorsFile.write([StoredTensor(name: "fc.weight", tensor: Tensor<Double>(zeros: [3, 3])),
                                   StoredTensor(name: "fc.bias", tensor: Tensor<Double>(zeros: [10]))], to: changed)
        expectError(["'fc.weight' has shape [3, 3] in the file, [10, 8] in the model", "'stem.weight' [4, 1, 3, 3] is not in the file"]) {
            let _: LoadedModel<Double> = try ModelLoader.load(fixture("resnet.onnx").path, weights: changed.path)
        }
    }

    /// A state dict with BatchNorm running statistics for a graph with convolutions and no BatchNormalization: the
    /// BatchNorm was folded before export, and the loaded model says so.
    @Test func weightsWithRunningStatisticsRevealFoldedBatchNorm() throws {
        let own: LoadedModel<Double> = try ModelLoader.load(fixture("layouts.onnx").path)
        #expect(!own.batchNormFolded)
        let tensors = zip(own.parameters.names, own.parameters.tensors).map { StoredTensor(name: $0.0, tensor: $0.1) }
        let plain = temporaryFile("plain.safetensors"), withStatistics = temporaryFile("statistics.safetensors")
        try SafetensorsFile.write(tensors, to: plain)
        try SafetensorsFile.write(tensors + [StoredTensor(name: "bn1.running_mean", tensor: Tensor<Double>(zeros: [4]))], to: withStatistics)
        #expect(!(try ModelLoader.load(fixture("layouts.onnx").path, weights: plain.path) as LoadedModel<Double>).batchNormFolded)
        #expect((try ModelLoader.load(fixture("layouts.onnx").path, weights: withStatistics.path) as LoadedModel<Double>).batchNormFolded)
        // A graph that keeps its BatchNorm is not folded, whatever the file holds.
        #expect(!(try ModelLoader.load(fixture("resnet.onnx").path, weights: fixture("resnet.pt").path) as LoadedModel<Double>).batchNormFolded)
    }

    /// NaN or infinite weights make every loss NaN: refused by tensor, as is a non-finite --mean or a zero --std.
    @Test func nonFiniteWeightsAndNormalisationAreRefusedByName() throws {
        let own: LoadedModel<Double> = try ModelLoader.load(fixture("resnet.onnx").path)
        var tensors = zip(own.parameters.names, own.parameters.tensors).map { StoredTensor(name: $0.0, tensor: $0.1) }
            + zip(own.buffers.names, own.buffers.tensors).map { StoredTensor(name: $0.0, tensor: $0.1) }
        var scalars = own.parameters.tensors[1].scalars
        scalars[0] = .infinity
        tensors[1] = StoredTensor(name: own.parameters.names[1], tensor: Tensor(shape: own.parameters.tensors[1].shape, scalars: scalars))
        let url = temporaryFile("poisoned.safetensors")
        try SafetensorsFile.write(tensors, to: url)
        expectError(["poisoned.safetensors: tensor '\(own.parameters.names[1])' holds inf at element 0: the weights must be finite"]) {
            let _: LoadedModel<Double> = try ModelLoader.load(fixture("resnet.onnx").path, weights: url.path)
        }
        var options = DataOptions()
        options.mean = [.nan]
        expectError(["--mean must be finite"]) { let _: Dataset<Double> = try DataLoader.load("digits", options: options) }
        options.mean = [0]
        options.standardDeviation = [0]
        expectError(["--std finite and positive"]) { let _: Dataset<Double> = try DataLoader.load("digits", options: options) }
    }

    @Test func unsupportedOperatorsAndOpsetsAreRefusedByName() throws {
        var model = try ONNXModel(contentsOf: fixture("mlp.onnx")).model
        model.graph.node[0].opType = "Einsum"
        let url = temporaryFile("einsum.onnx")
        try model.serializedData().write(to: url)
        expectError(["unsupported ONNX operator 'Einsum'", "node '\(model.graph.node[0].name)'", "opset 17", "supported: Add"]) {
            _ = try ONNXGraphModel(ONNXModel(contentsOf: url))
        }
        model = try ONNXModel(contentsOf: fixture("mlp.onnx")).model
        model.opsetImport[0].version = 9
        try model.serializedData().write(to: url)
        expectError(["opset 9 is not supported"]) { _ = try ONNXGraphModel(ONNXModel(contentsOf: url)) }
    }
}
