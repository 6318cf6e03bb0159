import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Testing
@testable import ModelImport

func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
}

/// The model and PyTorch's reference numbers for one exported fixture.
struct Reference {
    let model: ONNXGraphModel
    let archive: NumPyArchive

    init(_ name: String) throws {
        model = try ONNXGraphModel(ONNXModel(contentsOf: fixture("\(name).onnx")))
        archive = try NumPyArchive(contentsOf: fixture("\(name)_reference.npz"))
    }

    func tensor(_ key: String) throws -> StoredTensor { try archive.tensor(named: key) }
    var labels: [Int] { get throws { try tensor("y").integers().map { Int($0) } } }
    var parameterOrder: [String] {
        get throws { String(decoding: try tensor("parameter_order").integers().map { UInt8($0) }, as: UTF8.self).split(separator: "\n").map(String.init) }
    }

    func data<Scalar: TensorScalar>(_: Scalar.Type) throws -> Dataset<Scalar> {
        Dataset(inputs: try tensor("x").tensor(Scalar.self), targets: .labels(try labels))
    }
}

func relativeError(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double { (a - b).maxAbsolute() / max(b.maxAbsolute(), 1e-300) }

@Suite struct ONNXImportTests {
    @Test(arguments: ["mlp", "cnn", "resnet", "transformer", "tied_resnet", "tied_head"])
    func logitsMatchPyTorchInFloat(name: String) throws {
        let reference = try Reference(name)
        let data = try reference.data(Float.self)
        let logits = reference.model(data.inputs, parameters: reference.model.makeParameters(seed: 0),
                                     buffers: reference.model.makeBuffers())
        let expected = try reference.tensor("logits").tensor(Float.self)
        #expect(logits.shape == expected.shape)
        #expect((logits - expected).maxAbsolute() < 1e-5, "\(name): max logit difference \((logits - expected).maxAbsolute())")
    }

    @Test(arguments: ["mlp", "cnn", "resnet", "transformer", "tied_resnet", "tied_head"])
    func lossGradientAndHVPMatchPyTorchDoubleBackward(name: String) throws {
        let reference = try Reference(name)
        let model = reference.model
        let objective = Objective(model: model, parameters: model.makeParameters(seed: 0, as: Double.self), loss: .crossEntropy,
                                  data: try reference.data(Double.self), batchSize: 5, parameterNames: try reference.parameterOrder)
        let (loss, gradient) = objective.lossAndGradient(at: objective.point)
        let expectedLoss = try reference.tensor("loss").doubles()[0]
        #expect(abs(loss - expectedLoss) < 1e-8 * abs(expectedLoss), "\(name): loss \(loss) vs \(expectedLoss)")
        let expectedGradient = try reference.tensor("gradient").tensor(Double.self)
        #expect(relativeError(gradient, expectedGradient) < 1e-8, "\(name) gradient off by \(relativeError(gradient, expectedGradient))")
        let hv = objective.hessianVectorProduct(at: objective.point, try reference.tensor("v").tensor(Double.self))
        #expect(relativeError(hv, try reference.tensor("hvp").tensor(Double.self)) < 1e-8, "\(name) HVP")
    }

    /// A ResNet exported at initialisation: the file stores each BatchNorm's ones and zeros once, recreating the
    /// running statistics and the other layers' scales by Identity nodes. Untied, the parameters are PyTorch's and
    /// the Hessian block of a bias that the file ties to its running mean is PyTorch's (tied, it would be ~0).
    @Test func tiedInitializersAreUntiedIntoPyTorchsParameters() throws {
        let reference = try Reference("tied_resnet")
        let model = reference.model
        let count = model.parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) }
        #expect(count == Int(try reference.tensor("n_parameters").integers()[0]))
        #expect(Set(model.parameterShapes.map(\.name)) == Set(try reference.parameterOrder))
        #expect(model.untiedTensors.contains(.init(name: "bn.running_mean", storedAs: "bn.bias")))
        #expect(model.bufferShapes.map(\.name).contains("layer1.bn1.running_var"))

        let names = try reference.parameterOrder
        let objective = Objective(model: model, parameters: model.makeParameters(seed: 0, as: Double.self), loss: .crossEntropy,
                                  data: try reference.data(Double.self), batchSize: 5, parameterNames: names)
        let offset = names.prefix { $0 != "bn.bias" }.reduce(0) { total, name in
            total + model.parameterShapes.first { $0.name == name }!.shape.reduce(1, *)
        }
        let expected = try reference.tensor("bn_bias_block").tensor(Double.self)
        let width = expected.shape[0]
        for row in 0..<width {
            var unit = Tensor<Double>(zeros: [objective.dimension])
            unit[offset + row] = 1
            let column = objective.hessianVectorProduct(at: objective.point, unit)
            let block = Tensor(shape: [width], scalars: Array(column.scalars[offset..<(offset + width)]))
            let expectedRow = Tensor(shape: [width], scalars: Array(expected.scalars[(row * width)..<((row + 1) * width)]))
            #expect(relativeError(block, expectedRow) < 1e-8, "row \(row): \(block.scalars) vs \(expectedRow.scalars)")
        }
        #expect(expected.maxAbsolute() > 1e-3, "the reference block is not the tied model's ~0")
    }

    /// One parameter used twice (an embedding reused as the output head) stays one parameter, as PyTorch counts it.
    @Test func aGenuinelySharedParameterStaysShared() throws {
        let reference = try Reference("tied_head")
        #expect(reference.model.untiedTensors.isEmpty)
        #expect(reference.model.parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) }
                == Int(try reference.tensor("n_parameters").integers()[0]))
    }

    @Test func rolesOfInitializers() throws {
        let cnn = try Reference("cnn").model
        #expect(cnn.parameterShapes.map(\.name) == ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight",
                                                      "conv2.bias", "bn2.weight", "bn2.bias", "fc.weight", "fc.bias"])
        #expect(cnn.bufferShapes.map(\.name) == ["bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"])
        #expect(!cnn.batchNormFolded)
        let folded = try ONNXGraphModel(ONNXModel(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../ModelFormatsTests/Fixtures/onnx/cnn.onnx").standardized))
        #expect(folded.batchNormFolded)
        #expect(try Reference("transformer").model.inputType == "int64")
    }

    @Test func outputAxesComeFromTheConsumingNode() throws {
        let model = try ONNXGraphModel(ONNXModel(contentsOf: fixture("layouts.onnx")))
        #expect(model.outputAxes == ["conv.weight": 0, "onnx::MatMul_7": 1, "torch.weight": 0, "keras.kernel": 1])
    }
}
