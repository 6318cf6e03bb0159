import Autodiff
import Foundation
import LinearAlgebra
import ModelFormats
import NeuralNetworks
import Testing
@testable import ModelImport

/// Graphs built by scripts/fixtures/make_operator_fixtures.py for the operators the exported models do not use
/// (Sigmoid, Pow, Sqrt, Reciprocal, Slice, ReduceSum, Unsqueeze, Squeeze, Expand, Where, Shape, ConstantOfShape,
/// Neg, LogSoftmax, Gather on shapes, Cast, AveragePool with and without padding counted, Exp, Log, Gelu in both
/// forms, GatherElements on floats and on integer positions), against numpy's answers (and onnx's reference
/// evaluator for GatherElements).
@Suite struct OperatorTests {
    let expected = try! NumPyArchive(contentsOf: fixture("operators_expected.npz"))

    func run(_ file: String, parameters override: [String: Variable<Double>] = [:]) throws -> Variable<Double> {
        let model = try ONNXGraphModel(ONNXModel(contentsOf: fixture(file)))
        let x = try expected.tensor(named: "x").tensor(Double.self)
        var values: [String: Variable<Double>] = [:]
        let parameters: ParameterSet<Double> = model.makeParameters(seed: 0)
        for (name, tensor) in zip(parameters.names, parameters.tensors) { values[name] = override[name] ?? Variable(tensor) }
        return try model.run(Variable(x), ParameterScope(values))
    }

    @Test(arguments: [("operators_opset17.onnx", "opset17"), ("operators_opset20.onnx", "opset20"),
                      ("operators_gather_elements.onnx", "gather_elements"), ("operators_export.onnx", "export")])
    func outputsMatchNumPy(file: String, key: String) throws {
        let y = try run(file).value
        let truth = try expected.tensor(named: key).tensor(Double.self)
        #expect(y.shape == truth.shape)
        // onnx's reference evaluator computes the export operators' sines and cosines in float32.
        let tolerance = key == "export" ? 1e-6 : 1e-12
        #expect((y - truth).maxAbsolute() < tolerance, "\(file): \((y - truth).maxAbsolute())")
    }

    @Test func theGraphIsDifferentiableInItsParameters() throws {
        let model = try ONNXGraphModel(ONNXModel(contentsOf: fixture("operators_opset17.onnx")))
        #expect(model.parameterShapes.map(\.name) == ["scale", "bias"])
        let scale = try #require(model.makeParameters(seed: 0, as: Double.self)["scale"])
        var random = SeededRandom(seed: 1)
        let weights = Tensor<Double>.gaussian(shape: [2, 79], using: &random)
        func loss(_ s: Tensor<Double>) throws -> Double { try run("operators_opset17.onnx", parameters: ["scale": Variable(s)]).value.dot(weights) }
        let leaf = Variable.differentiable(scale)
        let output = try run("operators_opset17.onnx", parameters: ["scale": leaf])
        let gradient = gradients(of: output.dot(Variable(weights)), withRespectTo: [leaf])[0].value
        for i in 0..<4 {
            var plus = scale, minus = scale
            plus[i] += 1e-6
            minus[i] -= 1e-6
            #expect(abs(gradient[i] - (try loss(plus) - loss(minus)) / 2e-6) < 1e-7)
        }
    }
}
