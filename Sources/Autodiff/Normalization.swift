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
        if let running {
            let factor = weight / (running.variance + epsilon).sqrt()
            let shift = bias - running.mean * factor
            return (scaledPerChannel(factor, plus: shift), nil)
        }
        let (mean, centred, variance) = moments(alongAxes: [0] + Array(2..<shape.count))
        let normalized = centred / (variance + epsilon).sqrt()
        return (normalized.scaledPerChannel(weight, plus: bias), (mean, variance))
    }
}

// Per-channel affine maps, closed under differentiation: `scaledPerChannel` (eval-mode BatchNorm), `channelDot` (its
// scale's gradient) and `channelSum` (its shift's). Each value and each tangent is one pass over the activations, where
// broadcasting arithmetic made a pass and a temporary per term and another to add them.
extension Variable {
    /// `x[n, c, ...] * scale[c] + shift[c]` over the channel axis 1 of [N, C, ...], `scale` and `shift` of shape [C].
    /// Derivatives: `dx = g scale`, `d scale = channelDot(g, x)`, `d shift = channelSum(g)`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func scaledPerChannel(_ scale: Variable, plus shift: Variable?) -> Variable {
        let x = self
        precondition(shape.count >= 2 && scale.shape == [shape[1]] && (shift?.shape ?? [shape[1]]) == [shape[1]],
                     "scaledPerChannel: \(scale.shape) and \(shift?.shape ?? []) for channels of \(shape)")
        let value = Tensor.channelAffine([(x.value, scale.value)], shift: shift?.value, shape: shape)
        return Variable.make(value, parents: [x, scale] + (shift.map { [$0] } ?? []), tangent: { t in
            let terms = [t[0].map { ($0, scale.value) }, t[1].map { (x.value, $0) }].compactMap { $0 }
            return Tensor.channelAffine(terms, shift: t.count > 2 ? t[2] : nil, shape: x.shape)
        }) { g in
            [x.isDifferentiable ? g.scaledPerChannel(scale, plus: nil) : nil,
             scale.isDifferentiable ? g.channelDot(x) : nil] + (shift.map { [$0.isDifferentiable ? g.channelSum() : nil] } ?? [])
        }
    }

    /// `r[c] = sum over n, ... of a[n, c, ...] b[n, c, ...]`: the per-channel inner product of two [N, C, ...] tensors.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func channelDot(_ other: Variable) -> Variable {
        let a = self, b = other
        precondition(a.shape == b.shape && a.shape.count >= 2, "channelDot: shapes \(a.shape) and \(b.shape)")
        return Variable.make(Tensor.channelDot([(a.value, b.value)], shape: a.shape), parents: [a, b], tangent: { t in
            Tensor.channelDot([t[0].map { ($0, b.value) }, t[1].map { (a.value, $0) }].compactMap { $0 }, shape: a.shape)
        }) { u in
            [a.isDifferentiable ? b.scaledPerChannel(u, plus: nil) : nil, b.isDifferentiable ? a.scaledPerChannel(u, plus: nil) : nil]
        }
    }

    /// `r[c] = sum over n, ... of a[n, c, ...]`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func channelSum() -> Variable { sum(alongAxes: [0] + Array(2..<shape.count)) }
}

extension Tensor {
    /// `sum_t x_t[n, c, i] s_t[c] + shift[c]` over [N, C, inner] blocks; with no terms, the shift broadcast.
    static func channelAffine(_ terms: [(Tensor, Tensor)], shift: Tensor?, shape: [Int]) -> Tensor {
        let (n, c) = (shape[0], shape[1]), inner = shape.dropFirst(2).reduce(1, *)
        let result = [Scalar](unsafeUninitializedCapacity: n * c * inner) { out, initialized in
            initialized = out.count
            guard let out = out.baseAddress else { return }
            // The first term writes every element (with the shift), the others add to it.
            let shiftValues = shift?.scalars ?? [Scalar](repeating: 0, count: c)
            guard let (x0, s0) = terms.first else {
                for block in 0..<(n * c) { (out + block * inner).initialize(repeating: shiftValues[block % c], count: inner) }
                return
            }
            x0.withUnsafeBufferPointer { x in
                s0.withUnsafeBufferPointer { s in
                    for block in 0..<(n * c) {
                        let factor = s[block % c], offset = shiftValues[block % c], base = block * inner
                        for i in base..<(base + inner) { (out + i).initialize(to: x[i] * factor + offset) }
                    }
                }
            }
            for (x, s) in terms.dropFirst() {
                x.withUnsafeBufferPointer { x in
                    s.withUnsafeBufferPointer { s in
                        for block in 0..<(n * c) {
                            let factor = s[block % c], base = block * inner
                            for i in base..<(base + inner) { out[i] += x[i] * factor }
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// `r[c] = sum_t sum over n, i of a_t[n, c, i] b_t[n, c, i]` over [N, C, inner] blocks.
    static func channelDot(_ terms: [(Tensor, Tensor)], shape: [Int]) -> Tensor {
        let (n, c) = (shape[0], shape[1]), inner = shape.dropFirst(2).reduce(1, *)
        var result = [Scalar](repeating: 0, count: c)
        for (a, b) in terms {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    for block in 0..<(n * c) {
                        var sum: Scalar = 0
                        let base = block * inner
                        for i in base..<(base + inner) { sum += a[i] * b[i] }
                        result[block % c] += sum
                    }
                }
            }
        }
        return Tensor(shape: [c], scalars: result)
    }
}
