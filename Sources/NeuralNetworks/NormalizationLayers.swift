import Autodiff
import LinearAlgebra

/// torch.nn.BatchNorm1d/2d: `y = (x - mean) / sqrt(var + eps) * weight + bias` per channel (axis 1).
///
/// In eval mode mean and var are the running statistics (buffers `running_mean`, `running_var`); in train mode they
/// are the batch's (biased variance), and a training step updates the running statistics with `momentum` (the
/// running variance from the unbiased batch variance) and counts `num_batches_tracked`, as PyTorch does.
public struct BatchNorm: Layer {
    public var features: Int
    public var epsilon: Double
    public var momentum: Double

    public init(_ features: Int, epsilon: Double = 1e-5, momentum: Double = 0.1) {
        self.features = features
        self.epsilon = epsilon
        self.momentum = momentum
    }

    public var parameterShapes: [(name: String, shape: [Int])] { [("weight", [features]), ("bias", [features])] }
    public var bufferShapes: [(name: String, shape: [Int])] {
        [("running_mean", [features]), ("running_var", [features]), ("num_batches_tracked", [])]
    }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        let train = parameters.context.batchNormMode == .train
        let running = train ? nil : (mean: parameters("running_mean"), variance: parameters("running_var"))
        let (output, batchMoments) = input.batchNormalized(weight: parameters("weight"), bias: parameters("bias"),
                                                           running: running, epsilon: Scalar(epsilon))
        if let batchMoments, parameters.context.training {
            // Statistics over every axis but the channel axis 1: [N, C] (BatchNorm1d), [N, C, L], [N, C, H, W].
            let count = Scalar(input.value.count / features)
            let m = Scalar(momentum)
            let unbiased = batchMoments.variance.value.reshaped([features]) * (count / max(1, count - 1))
            let runningMean = parameters("running_mean").value, runningVariance = parameters("running_var").value
            parameters.context.update(parameters.qualified("running_mean"), runningMean * (1 - m) + batchMoments.mean.value.reshaped([features]) * m)
            parameters.context.update(parameters.qualified("running_var"), runningVariance * (1 - m) + unbiased * m)
            parameters.context.update(parameters.qualified("num_batches_tracked"), parameters("num_batches_tracked").value.map { $0 + 1 })
        }
        return output
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        [("weight", Tensor(repeating: 1, shape: [features])), ("bias", Tensor(zeros: [features]))]
    }

    public func initialBuffers<Scalar: TensorScalar>() -> [(String, Tensor<Scalar>)] {
        [("running_mean", Tensor(zeros: [features])), ("running_var", Tensor(repeating: 1, shape: [features])),
         ("num_batches_tracked", Tensor(zeros: []))]
    }
}

/// torch.nn.LayerNorm over the trailing `normalizedShape` axes, with elementwise affine weight and bias.
public struct LayerNorm: Layer {
    public var normalizedShape: [Int]
    public var epsilon: Double

    public init(_ normalizedShape: [Int], epsilon: Double = 1e-5) {
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
    }

    public var parameterShapes: [(name: String, shape: [Int])] { [("weight", normalizedShape), ("bias", normalizedShape)] }

    public func callAsFunction<Scalar: TensorScalar>(_ input: Variable<Scalar>, _ parameters: ParameterScope<Scalar>) -> Variable<Scalar> {
        let axes = Array((input.shape.count - normalizedShape.count)..<input.shape.count)
        return input.standardized(alongAxes: axes, epsilon: Scalar(epsilon)) * parameters("weight") + parameters("bias")
    }

    public func initialParameters<Scalar: TensorScalar>(using random: inout SeededRandom) -> [(String, Tensor<Scalar>)] {
        [("weight", Tensor(repeating: 1, shape: normalizedShape)), ("bias", Tensor(zeros: normalizedShape))]
    }
}
