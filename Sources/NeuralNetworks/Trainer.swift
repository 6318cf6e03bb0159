import Autodiff
import Foundation
import LinearAlgebra

/// How parameters follow their gradients, as torch.optim defines the update.
public enum Optimizer: Sendable, Equatable {
    /// torch.optim.SGD: `g += wd p; b = momentum b + g; p -= lr b` (plain gradient step when momentum is 0).
    case sgd(learningRate: Double, momentum: Double = 0, weightDecay: Double = 0)
    /// torch.optim.Adam: bias-corrected first and second moments, `p -= lr m^ / (sqrt(v^) + eps)`;
    /// weight decay adds `wd p` to the gradient (L2, not AdamW).
    case adam(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0)
}

/// One finished epoch.
public struct EpochReport: Sendable, Equatable, Codable {
    public var epoch: Int
    /// The mean training loss over the epoch's steps (weighted by batch size).
    public var loss: Double
    /// The fraction of training samples classified correctly during the epoch's steps (cross-entropy only).
    public var accuracy: Double?
    public var seconds: Double
}

/// Minibatch training of a model, seeded: the shuffling of epoch e is stream e of `seed`, and so is its dropout.
public struct Trainer<Scalar: TensorScalar>: Sendable {
    public var model: any Layer
    public var loss: Loss
    public var optimizer: Optimizer
    public var batchSize: Int
    public var epochs: Int
    public var seed: UInt64

    public init(model: any Layer, loss: Loss, optimizer: Optimizer, batchSize: Int = 64, epochs: Int = 10, seed: UInt64 = 0) {
        precondition(batchSize >= 1 && epochs >= 0, "batch size and epochs must be positive")
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.epochs = epochs
        self.seed = seed
    }

    /// Trains from `parameters` and `buffers`, calling `onEpoch` after every epoch with its report and the current
    /// parameters and buffers (a checkpoint hook: finished work can be saved as it happens).
    public func train(
        parameters initial: ParameterSet<Scalar>, buffers initialBuffers: ParameterSet<Scalar>? = nil, data: Dataset<Scalar>,
        onEpoch: (EpochReport, ParameterSet<Scalar>, ParameterSet<Scalar>) -> Void = { _, _, _ in }
    ) -> (parameters: ParameterSet<Scalar>, buffers: ParameterSet<Scalar>, history: [EpochReport]) {
        var parameters = initial
        var buffers = initialBuffers ?? model.makeBuffers()
        var state = OptimizerState(count: parameters.dimension())
        var history: [EpochReport] = []
        for epoch in 0..<epochs {
            let start = Date()
            var random = SeededRandom(seed: seed, stream: UInt64(epoch))
            var order = Array(0..<data.count)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
            var lossTotal = 0.0, correct = 0
            for batchStart in stride(from: 0, to: data.count, by: batchSize) {
                let batch = data.rows(Array(order[batchStart..<min(batchStart + batchSize, data.count)]))
                let context = ForwardContext<Scalar>(training: true, seed: random.next())
                var values: [String: Variable<Scalar>] = [:]
                var leaves: [Variable<Scalar>] = []
                for (name, tensor) in zip(parameters.names, parameters.tensors) {
                    let leaf = Variable.differentiable(tensor)
                    values[name] = leaf
                    leaves.append(leaf)
                }
                for (name, tensor) in zip(buffers.names, buffers.tensors) { values[name] = Variable(tensor) }
                let outputs = model(batch, ParameterScope(values, context: context))
                let batchLoss = loss(outputs, batch.targets)
                lossTotal += Double(batchLoss.value.scalars[0]) * Double(batch.count)
                if case .labels(let labels) = batch.targets { correct += zip(outputs.value.argmaxRows(), labels).filter { $0 == $1 }.count }
                let gradient = Tensor(gradients(of: batchLoss, withRespectTo: leaves).flatMap(\.value.scalars))
                parameters = parameters.replacing(with: state.step(parameters.flattened(), gradient, optimizer))
                for (name, value) in context.bufferUpdates { buffers = buffers.setting(name, value) }
            }
            let report = EpochReport(epoch: epoch + 1, loss: lossTotal / Double(data.count),
                                     accuracy: loss == .crossEntropy ? Double(correct) / Double(data.count) : nil,
                                     seconds: Date().timeIntervalSince(start))
            history.append(report)
            onEpoch(report, parameters, buffers)
        }
        return (parameters, buffers, history)
    }
}

/// Momentum and moment estimates, in the flattened parameter order.
struct OptimizerState {
    var first: [Double]
    var second: [Double]
    var steps = 0

    init(count: Int) {
        first = [Double](repeating: 0, count: count)
        second = [Double](repeating: 0, count: count)
    }

    mutating func step<Scalar: TensorScalar>(_ p: Tensor<Scalar>, _ g: Tensor<Scalar>, _ optimizer: Optimizer) -> Tensor<Scalar> {
        steps += 1
        var updated = p.scalars
        switch optimizer {
        case .sgd(let lr, let momentum, let decay):
            for i in updated.indices {
                let gradient = Double(g.scalars[i]) + decay * Double(p.scalars[i])
                first[i] = steps == 1 || momentum == 0 ? gradient : momentum * first[i] + gradient
                updated[i] = Scalar(Double(p.scalars[i]) - lr * first[i])
            }
        case .adam(let lr, let beta1, let beta2, let epsilon, let decay):
            let correction1 = 1 - Foundation.pow(beta1, Double(steps)), correction2 = 1 - Foundation.pow(beta2, Double(steps))
            for i in updated.indices {
                let gradient = Double(g.scalars[i]) + decay * Double(p.scalars[i])
                first[i] = beta1 * first[i] + (1 - beta1) * gradient
                second[i] = beta2 * second[i] + (1 - beta2) * gradient * gradient
                updated[i] = Scalar(Double(p.scalars[i]) - lr * (first[i] / correction1) / ((second[i] / correction2).squareRoot() + epsilon))
            }
        }
        return Tensor(updated)
    }
}

extension ParameterSet {
    /// A copy with one named tensor replaced.
    public func setting(_ name: String, _ value: Tensor<Scalar>) -> ParameterSet {
        ParameterSet(zip(names, tensors).map { $0.0 == name ? ($0.0, value) : ($0.0, $0.1) })
    }
}

extension Tensor {
    /// The index of the largest element of each row of a [N, C] tensor.
    public func argmaxRows() -> [Int] {
        let n = shape[0], width = count / Swift.max(1, n)
        return (0..<n).map { i in
            var best = 0
            for c in 1..<Swift.max(1, width) where scalars[i * width + c] > scalars[i * width + best] { best = c }
            return best
        }
    }
}

/// The fraction of `data` a classifier labels correctly, BatchNorm in eval mode.
public func accuracy<Scalar: TensorScalar>(
    of model: any Layer, parameters: ParameterSet<Scalar>, buffers: ParameterSet<Scalar>, on data: Dataset<Scalar>
) -> Double {
    guard case .labels(let labels) = data.targets, data.count > 0 else { return .nan }
    let predictions = model(data.inputs, parameters: parameters, buffers: buffers).argmaxRows()
    return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(data.count)
}
