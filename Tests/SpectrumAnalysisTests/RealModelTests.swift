import Foundation
import ModelImport
import NeuralNetworks
import SpectrumAnalysis
import Testing

private let real = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("ModelImportTests/Fixtures/real")

/// PyTorch's answers for the small exports of scripts/fixtures/make_real_model_fixtures.py.
struct Reference: Decodable {
    var lossFunction: String
    var loss: Double
    var topEigenvalue: Double
    var nParameters: Int
}

/// A ViT, BERT, GPT-2 and Llama as Hugging Face and torchvision build them (small configs, random init), exported
/// by both of PyTorch's exporters with their several named inputs: the loss (Float) is PyTorch's to 1e-5 and the
/// top Hessian eigenvalue (Double Lanczos) PyTorch's float64 Lanczos's to 1e-4, over the same parameters.
@Suite struct RealModelTests {
    static let references: [String: Reference] = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode([String: Reference].self, from: Data(contentsOf: real.appendingPathComponent("references.json")))
    }()

    @Test(arguments: ["vit", "bert", "gpt2", "llama"], ["torchscript", "dynamo"])
    func lossAndTopEigenvalueArePyTorchs(family: String, exporter: String) throws {
        let reference = try #require(Self.references[family])
        var objective = ObjectiveSettings(model: real.appendingPathComponent("\(family)-\(exporter).onnx").path,
                                          data: real.appendingPathComponent("\(family).npz").path)
        objective.loss = try #require(Loss(rawValue: reference.lossFunction.replacingOccurrences(of: "-", with: "_")))
        objective.batchSize = 8
        let (float, _) = try objective.load(Float.self)
        let loss = Double(float.evaluate().loss)
        #expect(abs(loss - reference.loss) <= 1e-5 * abs(reference.loss), "\(family) \(exporter): loss \(loss) vs \(reference.loss)")
        var settings = SpectrumSettings()
        settings.topK = 1
        let row = try #require(try SpectrumAnalysis(objective: objective, settings: settings).run(Double.self).report.rows.first)
        #expect(row.nParameters == reference.nParameters)
        let top = try #require(row.topEigenvalues.first)
        #expect(abs(top - reference.topEigenvalue) <= 1e-4 * abs(reference.topEigenvalue), "\(family) \(exporter): top \(top) vs \(reference.topEigenvalue)")
    }
}
