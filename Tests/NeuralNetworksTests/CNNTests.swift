import Foundation
import LinearAlgebra
import ModelFormats
import Testing
@testable import Autodiff
@testable import NeuralNetworks

/// A small CNN with BatchNorm on 5x5 single-channel images; smooth activations so finite differences are exact.
let tinyCNN = Sequential(
    Conv2d(1, 2, kernelSize: 3, padding: 1), BatchNorm(2), Activation.tanh, Pool2d(.average, kernelSize: 2),
    Flatten(), Linear(8, 3))

func tinyImages(samples: Int, seed: UInt64) -> Dataset<Double> {
    var random = SeededRandom(seed: seed)
    return Dataset(inputs: gaussian([samples, 1, 5, 5], seed: seed), targets: .labels((0..<samples).map { _ in Int(random.next() % 3) }))
}

/// Parameters with BatchNorm statistics that are not the identity, so eval mode is a real test.
func tinyCNNState() -> (ParameterSet<Double>, ParameterSet<Double>) {
    var parameters: ParameterSet<Double> = tinyCNN.makeParameters(seed: 30)
    parameters = parameters.setting("1.weight", Tensor([1.3, 0.7])).setting("1.bias", Tensor([0.1, -0.2]))
    let buffers = tinyCNN.makeBuffers(as: Double.self).setting("1.running_mean", Tensor([0.2, -0.1]))
        .setting("1.running_var", Tensor([1.5, 0.6]))
    return (parameters, buffers)
}

@Suite struct LayerTests {
    @Test func parametersAndBuffersAreNamedAndKeptApart() {
        #expect(tinyCNN.parameterShapes.map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias"])
        #expect(tinyCNN.bufferShapes.map(\.name) == ["1.running_mean", "1.running_var", "1.num_batches_tracked"])
        let (parameters, buffers) = tinyCNNState()
        let objective = Objective(model: tinyCNN, parameters: parameters, buffers: buffers, loss: .crossEntropy, data: tinyImages(samples: 4, seed: 1))
        #expect(objective.dimension == 18 + 2 + 4 + 24 + 3)
        #expect(objective.batchNormMode == .eval)
    }

    @Test func batchNormInEvalAndTrainModes() {
        let x = gaussian([4, 2, 3, 3], seed: 2)
        let layer = BatchNorm(2)
        let parameters = ParameterSet<Double>([("weight", Tensor([2, 0.5])), ("bias", Tensor([1, -1]))])
        let buffers = ParameterSet<Double>([("running_mean", Tensor([0.5, -0.5])), ("running_var", Tensor([4, 0.25])),
                                            ("num_batches_tracked", Tensor(zeros: []))])
        let eval = layer(x, parameters: parameters, buffers: buffers)
        #expect(Swift.abs(eval[1, 0, 2, 1] - ((x[1, 0, 2, 1] - 0.5) / (4 + 1e-5).squareRoot() * 2 + 1)) < 1e-14)
        // Train mode: batch statistics per channel (biased variance), and the running statistics move by momentum.
        let context = ForwardContext<Double>(training: true)
        let values = Dictionary(uniqueKeysWithValues: zip(parameters.names + buffers.names, (parameters.tensors + buffers.tensors).map { Variable($0) }))
        let train = layer(Variable(x), ParameterScope(values, context: context)).value
        let channel = (0..<4).flatMap { s in (0..<9).map { x.scalars[s * 18 + 9 + $0] } }
        let mean = channel.reduce(0, +) / 36
        let variance = channel.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 36
        #expect(Swift.abs(train[2, 1, 0, 0] - ((x[2, 1, 0, 0] - mean) / (variance + 1e-5).squareRoot() * 0.5 - 1)) < 1e-13)
        let updates = context.bufferUpdates
        #expect(Swift.abs(updates["running_mean"]![1] - (0.9 * -0.5 + 0.1 * mean)) < 1e-14)
        #expect(Swift.abs(updates["running_var"]![1] - (0.9 * 0.25 + 0.1 * variance * 36 / 35)) < 1e-14)
        #expect(updates["num_batches_tracked"]!.scalars == [1])
    }

    @Test func layerNormAndEmbeddingAndResidual() {
        let x = gaussian([3, 4], seed: 3)
        let norm = LayerNorm([4])
        let y = norm(x, parameters: norm.makeParameters(seed: 0))
        for row in 0..<3 {
            let values = (0..<4).map { x[row, $0] }
            let mean = values.reduce(0, +) / 4, variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4
            #expect(Swift.abs(y[row, 2] - (values[2] - mean) / (variance + 1e-5).squareRoot()) < 1e-14)
        }
        let embedding = Embedding(6, 2)
        let table: ParameterSet<Double> = embedding.makeParameters(seed: 4)
        #expect(embedding(Tensor([5, 0, 5]), parameters: table).scalars == [table["weight"]![5, 0], table["weight"]![5, 1],
                                                                        table["weight"]![0, 0], table["weight"]![0, 1],
                                                                        table["weight"]![5, 0], table["weight"]![5, 1]])
        let block = Residual(Sequential(Linear(4, 4), Activation.tanh), shortcut: Linear(4, 4, bias: false))
        #expect(block.parameterShapes.map(\.name) == ["main.0.weight", "main.0.bias", "shortcut.weight"])
        let p: ParameterSet<Double> = block.makeParameters(seed: 5)
        let expected = Sequential(Linear(4, 4), Activation.tanh)(x, parameters: ParameterSet([("0.weight", p["main.0.weight"]!), ("0.bias", p["main.0.bias"]!)]))
            + matmul(x, p["shortcut.weight"]!, transposeB: true)
        #expect((block(x, parameters: p) - expected).maxAbsolute() < 1e-14)
    }

    @Test func dropoutIsTheIdentityInAnalysisAndSeededInTraining() {
        let x = Tensor<Double>(repeating: 1, shape: [1000])
        #expect(Dropout(0.3)(x, parameters: ParameterSet([])) == x)
        let run = { (seed: UInt64) in Dropout(0.3)(Variable(x), ParameterScope([:], context: ForwardContext(training: true, seed: seed))).value }
        let a = run(1)
        #expect(a == run(1) && a != run(2))
        #expect(a.scalars.allSatisfy { $0 == 0 || Swift.abs($0 - 1 / 0.7) < 1e-12 })
        #expect(Swift.abs(Double(a.scalars.filter { $0 == 0 }.count) / 1000 - 0.3) < 0.05)
    }
}

@Suite struct CNNCurvatureTests {
    func objective(batchSize: Int, mode: BatchNormMode = .eval, samples: Int = 6) -> Objective<Double> {
        let (parameters, buffers) = tinyCNNState()
        return Objective(model: tinyCNN, parameters: parameters, buffers: buffers, loss: .crossEntropy,
                         data: tinyImages(samples: samples, seed: 6), batchSize: batchSize, batchNormMode: mode)
    }

    @Test func denseHessianWithBatchNormIsSymmetricAndMatchesFiniteDifferences() {
        let f = objective(batchSize: 4)
        let h = dense(f.dimension) { f.hessianVectorProduct(at: f.point, $0) }
        let epsilon = 1e-5
        var numeric: [[Double]] = []
        for j in 0..<f.dimension {
            var plus = f.point, minus = f.point
            plus[j] += epsilon
            minus[j] -= epsilon
            numeric.append(((f.lossAndGradient(at: plus).gradient - f.lossAndGradient(at: minus).gradient) * (1 / (2 * epsilon))).scalars)
        }
        let columns = (0..<f.dimension).map { i in (0..<f.dimension).map { numeric[$0][i] } }
        let norm = h.flatMap { $0 }.map(Swift.abs).max()!
        #expect(maxDifference(h, columns) < 1e-7 * norm)
        let transposed = (0..<f.dimension).map { i in (0..<f.dimension).map { h[$0][i] } }
        #expect(maxDifference(h, transposed) < 1e-12 * norm)
    }

    @Test func evalModeDoesNotDependOnBatchSizeTrainModeDoes() {
        let v = gaussian([objective(batchSize: 6).dimension], seed: 7)
        let reference = objective(batchSize: 6).hessianVectorProduct(at: objective(batchSize: 6).point, v)
        for size in [1, 2, 3, 4] {
            let f = objective(batchSize: size)
            #expect((f.hessianVectorProduct(at: f.point, v) - reference).maxAbsolute() < 1e-12 * reference.maxAbsolute())
        }
        // Train mode normalises with each batch's own statistics, so the loss itself, and with it the Hessian,
        // changes with the batching: this states that dependence rather than hiding it.
        let whole = objective(batchSize: 6, mode: .train), halves = objective(batchSize: 3, mode: .train)
        let difference = (whole.hessianVectorProduct(at: whole.point, v) - halves.hessianVectorProduct(at: halves.point, v)).maxAbsolute()
        #expect(difference > 1e-3 * reference.maxAbsolute())
        #expect(whole.lossValue(at: whole.point) != halves.lossValue(at: halves.point))
    }

    @Test func layerNormModelDerivativesMatchFiniteDifferences() {
        let model = Sequential(Linear(4, 6), LayerNorm([6]), Activation.gelu, Linear(6, 3))
        let data = Dataset(inputs: gaussian([7, 4], seed: 12), targets: .values(gaussian([7, 3], seed: 13)))
        let f = Objective(model: model, parameters: model.makeParameters(seed: 14), loss: .meanSquaredError, data: data, batchSize: 3)
        let v = gaussian([f.dimension], seed: 15)
        let epsilon = 1e-5
        let numeric = (f.lossAndGradient(at: f.point + epsilon * v).gradient - f.lossAndGradient(at: f.point - epsilon * v).gradient) * (1 / (2 * epsilon))
        let hv = f.hessianVectorProduct(at: f.point, v)
        #expect((hv - numeric).maxAbsolute() < 1e-6 * (1 + hv.maxAbsolute()))
    }

    @Test func bothHessianProductModesAgree() {
        // BatchNorm in both modes, and a max-pooled ReLU network, whose tangents route through the pooling argmax.
        let pooled = Sequential(Conv2d(1, 3, kernelSize: 3, padding: 1), Activation.relu, Pool2d(.max, kernelSize: 2),
                                Flatten(), Linear(12, 3))
        let objectives = [objective(batchSize: 4), objective(batchSize: 4, mode: .train),
                          Objective(model: pooled, parameters: pooled.makeParameters(seed: 31), loss: .crossEntropy,
                                    data: tinyImages(samples: 6, seed: 6), batchSize: 4)]
        for var f in objectives {
            let v = gaussian([f.dimension], seed: 9)
            #expect(f.hessianProductMode == .forwardOverReverse)
            let forward = f.hessianVectorProduct(at: f.point, v)
            let vectors = [v, gaussian([f.dimension], seed: 10), gaussian([f.dimension], seed: 11)]
            let forwardBlock = f.hessianBlockProduct(at: f.point, vectors)
            f.hessianProductMode = .reverseOverReverse
            let reverse = f.hessianVectorProduct(at: f.point, v)
            #expect(reverse.maxAbsolute() > 0)
            #expect((forward - reverse).maxAbsolute() < 1e-12 * reverse.maxAbsolute())
            // Blocks in both modes (the linearization's replay and the shared first backward) equal single products.
            for (u, (replayed, reversed)) in zip(vectors, zip(forwardBlock, f.hessianBlockProduct(at: f.point, vectors))) {
                let single = f.hessianVectorProduct(at: f.point, u)
                #expect((replayed - single).maxAbsolute() < 1e-12 * single.maxAbsolute())
                #expect((reversed - single).maxAbsolute() < 1e-12 * single.maxAbsolute())
            }
        }
    }

    @Test func curvatureOperatorsReplayOneRecordingForEveryProduct() {
        for mode in [BatchNormMode.eval, .train] {
            let f = objective(batchSize: 6, mode: mode)
            let op = HessianOperator(f)
            #expect(op.recording.replays)
            let vectors = (0..<3).map { gaussian([f.dimension], seed: 40 + UInt64($0)) }
            let fresh = vectors.map { f.hessianVectorProduct(at: f.point, $0) }
            // The first product records; singles, a block and a repeat afterwards all replay the same recording.
            let replayed = vectors.map { op.products([$0])[0] } + op.products(vectors) + [op.products([vectors[0]])[0]]
            for (product, expected) in zip(replayed, fresh + fresh + [fresh[0]]) {
                #expect(expected.maxAbsolute() > 0)
                #expect((product - expected).maxAbsolute() < 1e-12 * expected.maxAbsolute(), "\(mode)")
            }
        }
        // The GGN and both Fishers record the forward pass (and the Fisher's output gradients or draws) the same way.
        let f = objective(batchSize: 6)
        let vectors = (0..<3).map { gaussian([f.dimension], seed: 50 + UInt64($0)) }
        let fresh: [CurvatureMatrix: (Tensor<Double>) -> Tensor<Double>] = [
            .hessian: { f.hessianVectorProduct(at: f.point, $0) }, .ggn: { f.ggnVectorProduct(at: f.point, $0) },
            .fisher: { f.empiricalFisherVectorProduct(at: f.point, $0) },
            .monteCarloFisher: { f.monteCarloFisherVectorProduct(at: f.point, $0, seed: 8, samples: 2) }]
        #expect(GGNOperator(f).recording.replays && EmpiricalFisherOperator(f).recording.replays)
        #expect(MonteCarloFisherOperator(f, seed: 8, samples: 2).recording.replays)
        for matrix in CurvatureMatrix.allCases {
            let op = f.curvature(matrix, seed: 8, samples: 2)
            let expected = vectors.map { fresh[matrix]!($0) }
            let replayed = vectors.map { op.apply($0) } + op.apply(block: vectors)
            for (product, expected) in zip(replayed, expected + expected) {
                #expect(expected.maxAbsolute() > 0)
                #expect((product - expected).maxAbsolute() < 1e-12 * expected.maxAbsolute(), "\(matrix)")
            }
        }
        // Several batches would keep every batch's activations, and reverse-over-reverse has nothing to replay.
        #expect(!HessianOperator(objective(batchSize: 4)).recording.replays)
        #expect(!GGNOperator(objective(batchSize: 4)).recording.replays)
        var reverse = objective(batchSize: 6)
        reverse.hessianProductMode = .reverseOverReverse
        #expect(!HessianOperator(reverse).recording.replays)
    }

    @Test func trainModeDerivativesMatchFiniteDifferences() {
        let f = objective(batchSize: 3, mode: .train)
        let v = gaussian([f.dimension], seed: 8)
        let epsilon = 1e-5
        let numeric = (f.lossAndGradient(at: f.point + epsilon * v).gradient - f.lossAndGradient(at: f.point - epsilon * v).gradient) * (1 / (2 * epsilon))
        let hv = f.hessianVectorProduct(at: f.point, v)
        #expect((hv - numeric).maxAbsolute() < 1e-6 * (1 + hv.maxAbsolute()))
    }
}

@Suite struct TrainerTests {
    @Test func sgdAndAdamStepsFollowTorchOptim() {
        var sgd = OptimizerState(count: 2)
        let p = Tensor<Double>([1, -2]), g = Tensor<Double>([0.5, 0.25])
        let first = sgd.step(p, g, .sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01))
        #expect(Swift.abs(first[0] - (1 - 0.1 * (0.5 + 0.01))) < 1e-15)
        let second = sgd.step(first, g, .sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01))
        #expect(Swift.abs(second[1] - (first[1] - 0.1 * (0.9 * (0.25 - 0.02) + (0.25 + 0.01 * first[1])))) < 1e-15)
        var adam = OptimizerState(count: 2)
        let step = adam.step(p, g, .adam(learningRate: 0.01))
        // The first bias-corrected Adam step moves each coordinate by lr * sign(g) (up to epsilon).
        #expect(Swift.abs(step[0] - (1 - 0.01)) < 1e-9 && Swift.abs(step[1] - (-2 - 0.01)) < 1e-9)
    }

    @Test func trainingIsSeededAndCallsTheHookEveryEpoch() {
        let data = tinyImages(samples: 24, seed: 9)
        let trainer = Trainer<Double>(model: tinyCNN, loss: .crossEntropy, optimizer: .sgd(learningRate: 0.1, momentum: 0.9),
                                      batchSize: 8, epochs: 3, seed: 11)
        var epochs: [Int] = []
        let first = trainer.train(parameters: tinyCNN.makeParameters(seed: 1), data: data) { report, _, buffers in
            epochs.append(report.epoch)
            #expect(buffers["1.num_batches_tracked"]!.scalars == [Double(report.epoch * 3)])
        }
        #expect(epochs == [1, 2, 3])
        let again = trainer.train(parameters: tinyCNN.makeParameters(seed: 1), data: data)
        #expect(first.parameters == again.parameters && first.buffers == again.buffers)
        var other = trainer
        other.seed = 12
        #expect(other.train(parameters: tinyCNN.makeParameters(seed: 1), data: data).parameters != first.parameters)
        #expect(first.history.last!.loss < first.history.first!.loss)
    }

    @Test func aSmallCNNLearnsTheDigits() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples/data/digits.npz").standardized
        let archive = try NumPyArchive(contentsOf: url)
        let images = try archive.tensor(named: "x").tensor(Float.self).reshaped([1797, 1, 8, 8])
        let labels = try archive.tensor(named: "y").integers().map { Int($0) }
        let data = Dataset(inputs: images, targets: .labels(labels))
        let model = Sequential(Conv2d(1, 8, kernelSize: 3, padding: 1), BatchNorm(8), Activation.relu, Pool2d(.max, kernelSize: 2),
                               Flatten(), Linear(128, 10))
        let trainer = Trainer<Float>(model: model, loss: .crossEntropy, optimizer: .adam(learningRate: 0.01), batchSize: 64,
                                     epochs: 4, seed: 1)
        let start = Date()
        let result = trainer.train(parameters: model.makeParameters(seed: 2), data: data)
        let trainingAccuracy = accuracy(of: model, parameters: result.parameters, buffers: result.buffers, on: data)
        #expect(trainingAccuracy > 0.95, "accuracy \(trainingAccuracy) after \(Date().timeIntervalSince(start)) s")
    }
}
