import Autodiff
import LinearAlgebra

/// What a model is trained to predict.
public enum Targets<Scalar: TensorScalar>: Sendable, Equatable {
    /// Class indices, for cross-entropy.
    case labels([Int])
    /// Values of the output's shape, for mean squared error.
    case values(Tensor<Scalar>)

    public var count: Int {
        switch self {
        case .labels(let labels): labels.count
        case .values(let values): values.shape.first ?? 0
        }
    }

    func rows(_ range: Range<Int>) -> Targets {
        switch self {
        case .labels(let labels): .labels(Array(labels[range]))
        case .values(let values): .values(values.rows(range))
        }
    }
}

/// Losses as PyTorch defines them with reduction "mean".
public enum Loss: String, Sendable, Codable {
    /// `torch.nn.CrossEntropyLoss`: logits (N, C), integer labels; the mean over samples of
    /// `logsumexp(z_i) - z_i[y_i]`.
    case crossEntropy = "cross_entropy"
    /// `torch.nn.MSELoss`: the mean of the squared error over all N x C entries.
    case meanSquaredError = "mse"

    /// The loss of each sample, `l_i`, such that the loss is their mean: cross-entropy `logsumexp(z_i) - z_i[y_i]`,
    /// MSE `(1/C) sum_c (z_ic - y_ic)^2`.
    public func perSample<Scalar>(_ outputs: Variable<Scalar>, _ targets: Targets<Scalar>) -> Variable<Scalar> {
        let n = outputs.shape[0]
        let flat = outputs.reshaped([n, outputs.value.count / max(1, n)])
        switch (self, targets) {
        case (.crossEntropy, .labels(let labels)):
            let classes = flat.shape[1]
            precondition(labels.count == n, "\(labels.count) labels for \(n) samples")
            precondition(labels.allSatisfy { $0 >= 0 && $0 < classes }, "labels outside 0..<\(classes)")
            var oneHot = Tensor<Scalar>(zeros: [n, classes])
            for (i, label) in labels.enumerated() { oneHot[i, label] = 1 }
            return -(flat.logSoftmax(alongAxis: 1) * Variable(oneHot)).sum(alongAxes: [1])
        case (.meanSquaredError, .values(let values)):
            let difference = flat - Variable(values.reshaped(flat.shape))
            return (difference * difference).mean(alongAxes: [1])
        default:
            preconditionFailure("\(self) needs \(self == .crossEntropy ? "labels" : "target values")")
        }
    }

    /// The mean loss over the samples.
    public func callAsFunction<Scalar>(_ outputs: Variable<Scalar>, _ targets: Targets<Scalar>) -> Variable<Scalar> {
        perSample(outputs, targets).mean()
    }

    /// Targets drawn from the model's own predictive distribution (Monte-Carlo Fisher): a class from
    /// softmax(z_i) for cross-entropy; `z_i + sqrt(C/2) * N(0, I)` for MSE, the Gaussian whose negative log-likelihood
    /// is `l_i` up to a constant, so the sampled Fisher equals the Gauss-Newton matrix in expectation.
    public func sampledTargets<Scalar>(_ outputs: Tensor<Scalar>, using random: inout SeededRandom) -> Targets<Scalar> {
        let n = outputs.shape[0], width = outputs.count / max(1, n)
        switch self {
        case .crossEntropy:
            let probabilities = Variable(outputs.reshaped([n, width])).softmax(alongAxis: 1).value
            return .labels((0..<n).map { i in
                let u = random.uniformDouble()
                var cumulative = 0.0
                for c in 0..<width {
                    cumulative += Double(probabilities[i, c])
                    if u < cumulative { return c }
                }
                return width - 1
            })
        case .meanSquaredError:
            let scale = (Double(width) / 2).squareRoot()
            return .values(Tensor(shape: outputs.shape, scalars: outputs.scalars.map { $0 + Scalar(scale * random.gaussian()) }))
        }
    }
}
