import Foundation
import Testing
@testable import ModelFormats

@Suite struct DirectoryTests {
    func write(_ names: [String], in directory: URL, tensor: String = "w") throws {
        for name in names {
            let url = directory.appendingPathComponent(name)
            let stored = StoredTensor(name: tensor + "." + name.replacingOccurrences(of: ".", with: "_"), tensor: .init([Float(1)]))
            switch url.pathExtension {
            case "safetensors": try SafetensorsFile.write([stored], to: url)
            case "npz": try NumPyArchive.write([stored], to: url)
            default: try Data("x".utf8).write(to: url)
            }
        }
    }

    @Test func prefersModelSafetensorsOverPytorchBinAsWeightWatcherDoes() throws {
        let directory = temporaryDirectory()
        try FileManager.default.copyItem(at: fixture("torch/pytorch_model.bin"), to: directory.appendingPathComponent("pytorch_model.bin"))
        try write(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"], in: directory)
        let archive = try WeightFile.open(directory)
        #expect(archive.descriptors.map(\.name) == ["w.model-00001-of-00002_safetensors", "w.model-00002-of-00002_safetensors"])
        #expect(archive.formatName == "2 safetensors files")
    }

    @Test func fallsBackToPytorchModelBin() throws {
        let directory = temporaryDirectory()
        try FileManager.default.copyItem(at: fixture("torch/pytorch_model.bin"), to: directory.appendingPathComponent("pytorch_model.bin"))
        try Data("{}".utf8).write(to: directory.appendingPathComponent("config.json"))
        let archive = try WeightFile.open(directory)
        #expect(archive.formatName == "torch.save")
        try expectMatchesExpected(archive)
    }

    @Test func anyOtherSupportedFilesAndDuplicateNamesAcrossThem() throws {
        let directory = temporaryDirectory()
        try write(["a.npz", "b.npz"], in: directory)
        #expect(try WeightFile.open(directory).descriptors.count == 2)
        let clash = temporaryDirectory()
        let tensor = StoredTensor(name: "same", tensor: .init([Float(1)]))
        try SafetensorsFile.write([tensor], to: clash.appendingPathComponent("x.safetensors"))
        try SafetensorsFile.write([tensor], to: clash.appendingPathComponent("y.safetensors"))
        let error = expectFormatError(.duplicateName) { _ = try WeightFile.open(clash) }
        #expect(error?.reason.contains("x.safetensors") == true && error?.reason.contains("y.safetensors") == true)
    }

    @Test func emptyDirectoryIsAClearError() {
        expectFormatError(.missingTensor) { _ = try WeightFile.open(temporaryDirectory()) }
    }
}
