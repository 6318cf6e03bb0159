import Foundation
import ModelFormats
import Testing
@testable import ModelImport

@Suite struct InputDigestTests {
    @Test func theDigestIsFNV1aOfTheBytesAndTheLength() throws {
        let file = temporaryFile("a.bin")
        try Data("a".utf8).write(to: file)
        // The published FNV-1a 64-bit test vector for "a".
        #expect(try FileDigest.of(file.path) == "fnv1a64:af63dc4c8601ec8c:1")
        try Data().write(to: file)
        #expect(try FileDigest.of(file.path) == "fnv1a64:cbf29ce484222325:0")
    }

    @Test func aChangedInputFileIsNamedAndBuiltInDataHasNone() throws {
        let model = temporaryFile("model.onnx"), data = temporaryFile("data.npz")
        try Data([1, 2, 3]).write(to: model)
        try Data([4, 5, 6]).write(to: data)
        let saved = try ObjectiveSettings(model: model.path, data: data.path).digestingInputs()
        #expect(saved.inputDigests?.keys.sorted() == ["data", "model"])
        #expect(try ObjectiveSettings(model: model.path, data: data.path).digestingInputs().changedInputs(since: saved).isEmpty)
        try Data([4, 5, 7]).write(to: data)  // same length, one byte changed in place
        let now = try ObjectiveSettings(model: model.path, data: data.path).digestingInputs()
        #expect(now.changedInputs(since: saved) == ["the data file \(data.path)"])
        let builtIn = try ObjectiveSettings(model: model.path, data: "digits").digestingInputs()
        #expect(builtIn.inputDigests?.keys.sorted() == ["model"])
    }
}
