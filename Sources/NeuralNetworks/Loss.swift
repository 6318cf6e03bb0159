import Autodiff
import LinearAlgebra

/// What a model is trained to predict.
public enum Targets<Scalar: TensorScalar>: Sendable, Equatable {
    /// One class index per sample, for cross-entropy.
    case labels([Int])
    /// One class index per token, `length` tokens per sample in row-major order, for per-token cross-entropy or the
    /// causal language-model loss; ``Loss/ignoreIndex`` marks positions that count for nothing.
    case tokens([Int], length: Int)
    /// Values of the output's shape, for mean squared error.
    case values(Tensor<Scalar>)
    /// No targets: the model's own output is the loss (``Loss/fromModel``); `count` samples.
    case none(count: Int)

    public var count: Int {
        switch self {
        case .labels(let labels): labels.count
        case .tokens(let labels, let length): length == 0 ? 0 : labels.count / length
        case .values(let values): values.shape.first ?? 0
        case .none(let count): count
        }
    }

    func rows(_ range: Range<Int>) -> Targets {
        switch self {
        case .labels(let labels): .labels(Array(labels[range]))
        case .tokens(let labels, let length): .tokens(Array(labels[(range.lowerBound * length)..<(range.upperBound * length)]), length: length)
        case .values(let values): .values(values.rows(range))
        case .none: .none(count: range.count)
        }
    }

    /// The same targets in another precision (values converted, labels as they are).
    public func converted<Other: TensorScalar>(to _: Other.Type = Other.self) -> Targets<Other> {
        switch self {
        case .labels(let labels): .labels(labels)
        case .tokens(let labels, let length): .tokens(labels, length: length)
        case .values(let values): .values(values.converted(to: Other.self))
        case .none(let count): .none(count: count)
        }
    }

    /// The samples at `indices`, in that order.
    func gathered(_ indices: [Int]) -> Targets {
        switch self {
        case .labels(let labels): .labels(indices.map { labels[$0] })
        case .tokens(let labels, let length): .tokens(indices.flatMap { labels[($0 * length)..<(($0 + 1) * length)] }, length: length)
        case .values(let t):
            .values(Tensor(shape: [indices.count] + t.shape.dropFirst(), scalars: indices.flatMap { i in
                let width = t.count / max(1, t.shape[0])
                return t.scalars[(i * width)..<((i + 1) * width)]
            }))
        case .none: .none(count: indices.count)
        }
    }
}

/// Losses as PyTorch defines them with reduction "mean".
public enum Loss: String, Sendable, Codable, CaseIterable {
    /// `torch.nn.CrossEntropyLoss`. With one label per sample: logits (N, C), the mean over samples of
    /// `logsumexp(z_i) - z_i[y_i]`. With one label per token: logits (N, T, C), the mean over the tokens whose label
    /// is not ``ignoreIndex`` (PyTorch's `ignore_index=-100`).
    case crossEntropy = "cross_entropy"
    /// `torch.nn.MSELoss`: the mean of the squared error over all N x C entries.
    case meanSquaredError = "mse"
    /// The next-token loss of a causal language model, as Hugging Face's `*ForCausalLM` computes it from `labels`:
    /// logits (N, T, V) at position t predict the label at t + 1; cross-entropy over every such pair whose label is
    /// not ``ignoreIndex``, averaged over them.
    case causalLanguageModel = "causal_lm"
    /// The model's own scalar output is the loss of its batch (a graph exported with its loss): the full-data loss
    /// is the sample-weighted mean of the batches' outputs, which is exact when the exported loss is a mean over
    /// its batch.
    case fromModel = "from_model"

    /// The label that marks a token that counts for nothing: PyTorch's default `ignore_index`, and what Hugging Face
    /// puts at padded positions.
    public static let ignoreIndex = -100

    /// Whether the loss is a mean of per-sample terms `l_i` that each depend on sample i's outputs only, as the
    /// Fisher matrices need (one gradient per sample): cross-entropy with one label per sample, and MSE.
    public func hasPerSampleTerms(_ targets: Targets<some TensorScalar>) -> Bool {
        switch (self, targets) {
        case (.crossEntropy, .labels), (.meanSquaredError, .values): true
        default: false
        }
    }

    /// The number of terms the loss of `targets` is a mean over: samples, or the tokens that are not ignored (after
    /// the shift, for the causal loss). Batches are weighted by it, so the full-data loss is the mean over every term.
    public func termCount(_ targets: Targets<some TensorScalar>) -> Int {
        switch (self, targets) {
        case (.crossEntropy, .tokens), (.causalLanguageModel, .tokens): Self.keptTokens(tokenLabels(targets))
        default: targets.count
        }
    }

    /// The token labels that are not ``ignoreIndex``.
    static func keptTokens(_ labels: [Int]) -> Int { labels.filter { $0 != ignoreIndex }.count }

    /// Labels moved one position left within each sample, the last position ignored: the label position t's
    /// logits predict.
    static func shifted(_ labels: [Int], length: Int) -> [Int] {
        labels.indices.map { ($0 + 1) % length == 0 ? ignoreIndex : labels[$0 + 1] }
    }

    /// The loss of each sample, `l_i`, such that the loss is their mean: cross-entropy `logsumexp(z_i) - z_i[y_i]`,
    /// MSE `(1/C) sum_c (z_ic - y_ic)^2`. Only for losses with per-sample terms (``hasPerSampleTerms(_:)``).
    public func perSample<Scalar>(_ outputs: Variable<Scalar>, _ targets: Targets<Scalar>) -> Variable<Scalar> {
        let n = outputs.shape[0]
        let flat = outputs.reshaped([n, outputs.value.count / max(1, n)])
        switch (self, targets) {
        case (.crossEntropy, .labels(let labels)):
            return -(flat.logSoftmax(alongAxis: 1) * Variable(Self.oneHot(labels, classes: flat.shape[1]))).sum(alongAxes: [1])
        case (.meanSquaredError, .values(let values)):
            let difference = flat - Variable(values.reshaped(flat.shape))
            return (difference * difference).mean(alongAxes: [1])
        default:
            preconditionFailure("\(rawValue) has no per-sample terms for these targets")
        }
    }

    /// One-hot rows for `labels`, a zero row for an ignored one.
    static func oneHot<Scalar: TensorScalar>(_ labels: [Int], classes: Int) -> Tensor<Scalar> {
        precondition(labels.allSatisfy { ($0 >= 0 && $0 < classes) || $0 == ignoreIndex }, "labels outside 0..<\(classes)")
        var oneHot = Tensor<Scalar>(zeros: [labels.count, classes])
        for (i, label) in labels.enumerated() where label != ignoreIndex { oneHot[i, label] = 1 }
        return oneHot
    }

    /// The mean loss over the terms (``termCount(_:)``); 0 when every token is ignored.
    public func callAsFunction<Scalar>(_ outputs: Variable<Scalar>, _ targets: Targets<Scalar>) -> Variable<Scalar> {
        switch (self, targets) {
        case (.crossEntropy, .tokens), (.causalLanguageModel, .tokens):
            let used = tokenLabels(targets)
            let classes = outputs.value.count / max(1, used.count)
            precondition(classes * used.count == outputs.value.count, "\(outputs.shape) logits for \(used.count) tokens")
            let logProbabilities = outputs.reshaped([used.count, classes]).logSoftmax(alongAxis: 1)
            let total = -(logProbabilities * Variable(Self.oneHot(used, classes: classes))).sum()
            return total / Scalar(max(1, Self.keptTokens(used)))
        case (.fromModel, _):
            precondition(outputs.value.count == 1, "the model's output is the loss but has shape \(outputs.shape)")
            return outputs.reshaped([])
        default:
            return perSample(outputs, targets).mean()
        }
    }

    /// The token labels the logits are scored against: as given, or shifted for the causal loss.
    func tokenLabels(_ targets: Targets<some TensorScalar>) -> [Int] {
        guard case .tokens(let labels, let length) = targets else { return [] }
        return self == .causalLanguageModel ? Self.shifted(labels, length: length) : labels
    }

    /// The correctly predicted terms (argmax of the logits equal to the label) and the terms counted, for
    /// classification losses; nil for the others.
    public func correctPredictions<Scalar>(_ outputs: Tensor<Scalar>, _ targets: Targets<Scalar>) -> (correct: Int, counted: Int)? {
        switch (self, targets) {
        case (.crossEntropy, .labels(let labels)):
            return (zip(outputs.argmaxRows(), labels).filter { $0 == $1 }.count, labels.count)
        case (.crossEntropy, .tokens), (.causalLanguageModel, .tokens):
            let used = tokenLabels(targets)
            let predicted = outputs.reshaped([used.count, outputs.count / max(1, used.count)]).argmaxRows()
            let kept = zip(predicted, used).filter { $0.1 != Self.ignoreIndex }
            return (kept.filter { $0 == $1 }.count, kept.count)
        default:
            return nil
        }
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
        case .causalLanguageModel, .fromModel:
            preconditionFailure("\(rawValue) has no per-sample terms to sample targets for")
        }
    }
}
