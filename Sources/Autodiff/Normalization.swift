import LinearAlgebra

/// The normalisation arithmetic shared by the Swift layers (`BatchNorm`, `LayerNorm`) and the ONNX operators
/// (`BatchNormalization`, `LayerNormalization`), written once so both give the same bits.
extension Variable {
    /// The mean, `x - mean` and the biased variance over `axes`, kept as size-1 axes so they broadcast back.
    func moments(alongAxes axes: [Int]) -> (mean: Variable, centred: Variable, variance: Variable) {
        let mean = self.mean(alongAxes: axes, keepingDimensions: true)
        let centred = self - mean
        return (mean, centred, (centred * centred).mean(alongAxes: axes, keepingDimensions: true))
    }

    /// `(x - mean) / sqrt(var + epsilon)` over `axes`, with the biased variance (PyTorch's LayerNorm and train-mode
    /// BatchNorm).
    public func standardized(alongAxes axes: [Int], epsilon: Scalar) -> Variable {
        let (_, centred, variance) = moments(alongAxes: axes)
        return centred / (variance + epsilon).sqrt()
    }

    /// BatchNorm over the channel axis 1 of [N, C, ...] (torch.nn.BatchNorm1d/2d, ONNX BatchNormalization):
    /// `y = (x - mean) / sqrt(var + epsilon) * weight + bias` per channel. With running statistics (eval mode) it is
    /// one affine map per channel, folded into a scale and a shift: two passes over x, not four. Without them (train
    /// mode) the batch's mean and biased variance are used and returned, for the running-statistics update.
    public func batchNormalized(
        weight: Variable, bias: Variable, running: (mean: Variable, variance: Variable)?, epsilon: Scalar
    ) -> (output: Variable, batchMoments: (mean: Variable, variance: Variable)?) {
        var channelShape = [Int](repeating: 1, count: shape.count)
        channelShape[1] = shape[1]
        if let running {
            let factor = weight / (running.variance + epsilon).sqrt()
            let shift = bias - running.mean * factor
            return (self * factor.reshaped(channelShape) + shift.reshaped(channelShape), nil)
        }
        let (mean, centred, variance) = moments(alongAxes: [0] + Array(2..<shape.count))
        let normalized = centred / (variance + epsilon).sqrt()
        return (normalized * weight.reshaped(channelShape) + bias.reshaped(channelShape), (mean, variance))
    }
}
