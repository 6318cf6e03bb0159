import Foundation
import LinearAlgebra
import Testing
@testable import Autodiff
@testable import NeuralNetworks

/// A model whose output is its own loss: cross-entropy of a linear map against the labels it takes as the named
/// input "labels", as a graph exported with its loss computes it.
struct LinearWithItsLoss: Layer {
    let linear = Linear(4, 3)
    var parameterShapes: [(name: String, shape: [Int])] { linear.parameterShapes }
    func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        let labels = parameters.inputs["labels"]!.scalars.map { Int($0) }
        return Loss.crossEntropy(linear(input, parameters), .labels(labels))
    }
    func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        linear.initialParameters(using: &random)
    }
}

@Suite struct LossTests {
    static let ignored = Loss.ignoreIndex
    /// 3 samples of 4 tokens, 5 classes; every sample ignores a different number of positions.
    let labels = [1, 4, ignored, 0, 2, 2, 3, ignored, ignored, ignored, 1, 0]
    let logits = gaussian([3, 4, 5], seed: 3)

    func manualMean(_ labels: [Int]) -> Double {
        var total = 0.0, count = 0
        for (position, label) in labels.enumerated() where label != Self.ignored {
            let row = (0..<5).map { logits.scalars[position * 5 + $0] }
            let top = row.max()!
            total += top + Foundation.log(row.map { Foundation.exp($0 - top) }.reduce(0, +)) - row[label]
            count += 1
        }
        return total / Double(count)
    }

    @Test func tokenCrossEntropyIsTheMeanOverTheTokensKept() {
        let value = Loss.crossEntropy(Variable(logits), .tokens(labels, length: 4)).value.scalars[0]
        #expect(abs(value - manualMean(labels)) < 1e-12)
        #expect(Loss.crossEntropy.termCount(Targets<Double>.tokens(labels, length: 4)) == 8)
    }

    @Test func causalLossScoresEachPositionAgainstTheNextLabel() {
        let shifted = [4, Self.ignored, 0, Self.ignored, 2, 3, Self.ignored, Self.ignored, Self.ignored, 1, 0, Self.ignored]
        let value = Loss.causalLanguageModel(Variable(logits), .tokens(labels, length: 4)).value.scalars[0]
        #expect(abs(value - manualMean(shifted)) < 1e-12)
        #expect(Loss.causalLanguageModel.termCount(Targets<Double>.tokens(labels, length: 4)) == 6)
        let predictions = Loss.causalLanguageModel.correctPredictions(logits, .tokens(labels, length: 4))
        #expect(predictions?.counted == 6)
    }

    /// Batches weigh by their tokens, so the full-data loss, gradient and Hessian are the mean over every token kept
    /// whatever the batching, although the samples keep different numbers of tokens.
    @Test(arguments: [Loss.crossEntropy, .causalLanguageModel])
    func fullDataQuantitiesDoNotDependOnTheBatching(loss: Loss) {
        let model = Linear(6, 5)
        let data = Dataset(inputs: gaussian([3, 4, 6], seed: 4), targets: .tokens(labels, length: 4))
        let parameters: ParameterSet<Double> = model.makeParameters(seed: 5)
        let whole = Objective(model: model, parameters: parameters, loss: loss, data: data, batchSize: 3)
        let v = gaussian([whole.dimension], seed: 6)
        let reference = loss(model(Variable(data.inputs), ParameterScope(Dictionary(uniqueKeysWithValues: zip(parameters.names, parameters.tensors.map { Variable($0) })))),
                             data.targets).value.scalars[0]
        #expect(abs(whole.lossValue(at: whole.point) - reference) < 1e-12)
        for batchSize in [1, 2] {
            let split = Objective(model: model, parameters: parameters, loss: loss, data: data, batchSize: batchSize)
            #expect(abs(split.lossValue(at: split.point) - reference) < 1e-12)
            #expect((split.lossAndGradient(at: split.point).gradient - whole.lossAndGradient(at: whole.point).gradient).maxAbsolute() < 1e-12)
            #expect((split.hessianVectorProduct(at: split.point, v) - whole.hessianVectorProduct(at: whole.point, v)).maxAbsolute() < 1e-12)
            #expect((split.ggnVectorProduct(at: split.point, v) - whole.ggnVectorProduct(at: whole.point, v)).maxAbsolute() < 1e-12)
        }
        #expect(whole.unavailability(of: .fisher) != nil)
        #expect(whole.unavailability(of: .ggn) == nil)
    }

    /// The model's own loss, fed its labels as a named input, gives the cross-entropy objective's loss, gradient and
    /// Hessian, over batches of unequal size.
    @Test func theModelsOwnLossIsTheObjective() {
        let data = classification(samples: 7, features: 4, classes: 3, seed: 7)
        guard case .labels(let labels) = data.targets else { return }
        let own = Dataset(inputs: data.inputs, targets: .none(count: 7), namedInputs: ["labels": Tensor(labels.map(Double.init))])
        let wrapped = LinearWithItsLoss()
        let parameters: ParameterSet<Double> = wrapped.makeParameters(seed: 8)
        let fromModel = Objective(model: wrapped, parameters: parameters, loss: .fromModel, data: own, batchSize: 3)
        let direct = Objective(model: wrapped.linear, parameters: parameters, loss: .crossEntropy, data: data, batchSize: 7)
        let v = gaussian([direct.dimension], seed: 9)
        #expect(abs(fromModel.lossValue(at: fromModel.point) - direct.lossValue(at: direct.point)) < 1e-12)
        #expect((fromModel.lossAndGradient(at: fromModel.point).gradient - direct.lossAndGradient(at: direct.point).gradient).maxAbsolute() < 1e-12)
        #expect((fromModel.hessianVectorProduct(at: fromModel.point, v) - direct.hessianVectorProduct(at: direct.point, v)).maxAbsolute() < 1e-12)
        #expect(fromModel.unavailability(of: .ggn) != nil)
        #expect(fromModel.unavailability(of: .hessian) == nil)
    }
}
