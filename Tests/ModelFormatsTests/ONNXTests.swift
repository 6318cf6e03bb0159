import Foundation
import Testing
@testable import ModelFormats

@Suite struct ONNXTests {
    @Test func exportedModelInitializersAndGraph() throws {
        let model = try ONNXModel(contentsOf: fixture("onnx/cnn.onnx"))
        try expectMatchesExpected(model, prefix: "onnx.")
        let graph = model.graphSummary
        #expect(graph.opsets == [.init(domain: "", version: 17)])
        #expect(graph.operators.map(\.op) == ["Conv", "Relu", "Flatten", "Gemm"])
        #expect(graph.inputs == [.init(name: "image", dtype: "float32", shape: ["batch", "1", "8", "8"])])
        #expect(graph.outputs == [.init(name: "logits", dtype: "float32", shape: ["batch", "10"])])
        #expect(graph.producer.hasPrefix("pytorch"))
        #expect(ArchiveSummary(model).graph == graph)
    }

    @Test func externalDataNextToTheModel() throws {
        let model = try ONNXModel(contentsOf: fixture("onnx/external/cnn_external.onnx"))
        #expect(model.descriptors.count == 4)
        try expectMatchesExpected(model, prefix: "onnx.")
    }

    @Test func typedFieldInitializers() throws {
        let model = try ONNXModel(contentsOf: fixture("onnx/typed_fields.onnx"))
        let checks: [(String, DType, Int)] = [("w_float", .float32, 6), ("w_double", .float64, 4), ("w_int64", .int64, 4),
                                              ("w_int8", .int8, 3), ("w_float16", .float16, 3), ("w_bool", .bool, 5)]
        for (name, dtype, count) in checks {
            let tensor = try model.tensor(named: name)
            #expect(tensor.dtype == dtype)
            #expect(tensor.doubles() == fixtureValues(dtype, count: count), "\(name)")
        }
        #expect(try model.tensor(named: "w_uint64").integers() == [7, 8])
    }

    @Test func truncatedProtobuf() throws {
        let valid = try Data(contentsOf: fixture("onnx/cnn.onnx"))
        let directory = temporaryDirectory()
        for cut in stride(from: 1, to: valid.count, by: 211) {
            let url = directory.appendingPathComponent("cut\(cut).onnx")
            try valid.prefix(cut).write(to: url)
            let error = formatError {
                let model = try ONNXModel(contentsOf: url)
                _ = try model.allTensors()
            }
            #expect(error?.file.hasSuffix("cut\(cut).onnx") ?? true, "cut \(cut)")
        }
    }

    func model(withExternal location: String, offset: Int = 0, length: Int = 16) throws -> URL {
        var tensor = Onnx_TensorProto()
        tensor.name = "w"
        tensor.dataType = 1
        tensor.dims = [4]
        tensor.dataLocation = .external
        tensor.externalData = [("location", location), ("offset", String(offset)), ("length", String(length))].map {
            var entry = Onnx_StringStringEntryProto()
            entry.key = $0.0
            entry.value = $0.1
            return entry
        }
        var model = Onnx_ModelProto()
        model.graph.initializer = [tensor]
        let directory = temporaryDirectory()
        try Data(count: 16).write(to: directory.appendingPathComponent("weights.bin"))
        let url = directory.appendingPathComponent("m.onnx")
        try model.serializedData().write(to: url)
        return url
    }

    @Test func externalDataMustStayInsideTheDirectoryAndTheFile() throws {
        #expect(try ONNXModel(contentsOf: model(withExternal: "weights.bin")).tensor(named: "w").data == Data(count: 16))
        for location in ["../weights.bin", "/etc/passwd", "a/../../weights.bin", ""] {
            let model = try ONNXModel(contentsOf: model(withExternal: location))
            let error = expectFormatError(.invalidOffsets) { _ = try model.tensor(named: "w") }
            #expect(error?.tensor == "w")
        }
        let pastEnd = try ONNXModel(contentsOf: model(withExternal: "weights.bin", offset: 8))
        expectFormatError(.invalidOffsets) { _ = try pastEnd.tensor(named: "w") }
        let missing = try ONNXModel(contentsOf: model(withExternal: "absent.bin"))
        expectFormatError(.unreadable, file: "absent.bin") { _ = try missing.tensor(named: "w") }
        // Symbolic links are followed before the check: a link to a file outside, or through a linked directory,
        // is refused; a link that stays inside is fine.
        let outside = temporaryDirectory().appendingPathComponent("secret.bin")
        try Data(repeating: 7, count: 16).write(to: outside)
        for (name, target, linksDirectory) in [("link.bin", outside.path, false), ("linked", outside.deletingLastPathComponent().path, true),
                                               ("inside.bin", "weights.bin", false)] {
            let url = try model(withExternal: linksDirectory ? "\(name)/secret.bin" : name)
            try FileManager.default.createSymbolicLink(atPath: url.deletingLastPathComponent().appendingPathComponent(name).path,
                                                       withDestinationPath: target)
            let linked = try ONNXModel(contentsOf: url)
            if name == "inside.bin" {
                #expect(try linked.tensor(named: "w").data == Data(count: 16))
            } else {
                let error = expectFormatError(.invalidOffsets) { _ = try linked.tensor(named: "w") }
                #expect(error?.reason.contains("through a symbolic link") == true, "\(name)")
            }
        }
    }

    @Test func unsupportedDataTypesAndDimensions() throws {
        var tensor = Onnx_TensorProto()
        tensor.name = "s"
        tensor.dataType = 8  // string
        var model = Onnx_ModelProto()
        model.graph.initializer = [tensor]
        let url = temporaryDirectory().appendingPathComponent("s.onnx")
        try model.serializedData().write(to: url)
        let error = expectFormatError(.unsupportedDType) { _ = try ONNXModel(contentsOf: url) }
        #expect(error?.reason.contains("string") == true)
        tensor.dataType = 1
        tensor.dims = [-3]
        model.graph.initializer = [tensor]
        try model.serializedData().write(to: url)
        expectFormatError(.invalidShape) { _ = try ONNXModel(contentsOf: url) }
    }
}
