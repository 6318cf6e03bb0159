import LinearAlgebra

/// Convolution (groups = 1) as three kernels closed under differentiation, each run over chunks of samples so that
/// no im2col matrix is larger than about 8 MiB:
/// - `convolution(x, W)`: y[n, co, l] = sum_k W[co, k] cols_n[l, k];
/// - `convolutionInputAdjoint(g, W)`: the x that `<conv(x, W), g> = <x, .>` defines (col2im of G^T W);
/// - `convolutionWeightAdjoint(g, x)`: the W that `<conv(x, W), g> = <W, .>` defines (sum_n G_n cols_n).
/// The bilinear identities give each one's derivatives in terms of the others, so Hessian-vector products by double
/// backward stay in these three GEMM-based kernels.
extension Tensor {
    /// Samples per chunk: im2col rows of `rowsPerSample` x `k` elements, at most `bytes` per chunk (and one sample).
    static func convolutionChunk(samples: Int, rowsPerSample: Int, k: Int, bytes: Int) -> Int {
        max(1, min(samples, bytes / max(1, rowsPerSample * k * MemoryLayout<Scalar>.stride)))
    }

    /// [N, C, H, W] convolved with [Co, C, kh, kw] -> [N, Co, Ho, Wo].
    static func convolution(_ x: Tensor, _ w: Tensor, _ geometry: WindowGeometry, chunkBytes: Int = 8 << 20) -> Tensor {
        let n = x.shape[0], (oh, ow) = geometry.outputSize(height: x.shape[2], width: x.shape[3])
        let (co, k, l) = (w.shape[0], w.count / w.shape[0], oh * ow)
        let kernel = w.reshaped([co, k])
        var y = [Scalar](repeating: 0, count: n * co * l)
        let chunk = convolutionChunk(samples: n, rowsPerSample: l, k: k, bytes: chunkBytes)
        for start in stride(from: 0, to: n, by: chunk) {
            let end = min(n, start + chunk), count = end - start
            let columns = x.rows(start..<end).windows(geometry).reshaped([count * l, k])
            let product = matmul(kernel, columns, transposeB: true)  // [Co, count L]
            product.withUnsafeBufferPointer { p in
                y.withUnsafeMutableBufferPointer { out in
                    for sample in 0..<count {
                        for channel in 0..<co {
                            let source = channel * count * l + sample * l, target = ((start + sample) * co + channel) * l
                            for i in 0..<l { out[target + i] = p[source + i] }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, co, oh, ow], scalars: y)
    }

    /// Rows [Co, count L] of a gradient [N, Co, Ho, Wo] for samples start..<start + count.
    private func channelMajor(_ start: Int, _ count: Int) -> Tensor {
        let (co, l) = (shape[1], shape[2] * shape[3])
        var rows = [Scalar](repeating: 0, count: co * count * l)
        withUnsafeBufferPointer { g in
            for sample in 0..<count {
                for channel in 0..<co {
                    let source = ((start + sample) * co + channel) * l, target = channel * count * l + sample * l
                    for i in 0..<l { rows[target + i] = g[source + i] }
                }
            }
        }
        return Tensor(shape: [co, count * l], scalars: rows)
    }

    /// The input adjoint of ``convolution(_:_:_:)``: g [N, Co, Ho, Wo] and W [Co, C, kh, kw] -> [N, C, H, W].
    static func convolutionInputAdjoint(_ g: Tensor, _ w: Tensor, _ geometry: WindowGeometry, inputShape: [Int],
                                        chunkBytes: Int = 8 << 20) -> Tensor {
        let (n, c, h, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (co, k, l) = (w.shape[0], w.count / w.shape[0], g.shape[2] * g.shape[3])
        let kernel = w.reshaped([co, k])
        var x = [Scalar]()
        x.reserveCapacity(n * c * h * width)
        let chunk = convolutionChunk(samples: n, rowsPerSample: l, k: k, bytes: chunkBytes)
        for start in stride(from: 0, to: n, by: chunk) {
            let count = min(n, start + chunk) - start
            let columns = matmul(g.channelMajor(start, count), kernel, transposeA: true)  // [count L, K]
            x += columns.reshaped([count, l, k]).foldedWindows(geometry, into: [count, c, h, width]).scalars
        }
        return Tensor(shape: inputShape, scalars: x)
    }

    /// The weight adjoint of ``convolution(_:_:_:)``: g [N, Co, Ho, Wo] and x [N, C, H, W] -> [Co, C, kh, kw].
    static func convolutionWeightAdjoint(_ g: Tensor, _ x: Tensor, _ geometry: WindowGeometry, weightShape: [Int],
                                         chunkBytes: Int = 8 << 20) -> Tensor {
        let n = x.shape[0], co = weightShape[0], k = weightShape.dropFirst().reduce(1, *), l = g.shape[2] * g.shape[3]
        var total = Tensor(zeros: [co, k])
        let chunk = convolutionChunk(samples: n, rowsPerSample: l, k: k, bytes: chunkBytes)
        for start in stride(from: 0, to: n, by: chunk) {
            let end = min(n, start + chunk)
            let columns = x.rows(start..<end).windows(geometry).reshaped([(end - start) * l, k])
            gemm(alpha: 1, g.channelMajor(start, end - start), columns, beta: 1, into: &total)
        }
        return total.reshaped(weightShape)
    }
}

extension Variable {
    /// Convolution with groups = 1 and no bias; its derivatives are ``convolutionInputAdjoint(_:_:_:inputShape:)``
    /// and ``convolutionWeightAdjoint(_:_:_:weightShape:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolution(_ x: Variable, _ w: Variable, _ geometry: WindowGeometry) -> Variable {
        make(Tensor.convolution(x.value, w.value, geometry), parents: [x, w]) { g in
            [convolutionInputAdjoint(g, w, geometry, inputShape: x.shape), convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape)]
        }
    }

    /// `d<conv(x, W), g>/dx`, linear in g and in W: `<adjoint(g, W), u> = <conv(u, W), g>`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolutionInputAdjoint(_ g: Variable, _ w: Variable, _ geometry: WindowGeometry, inputShape: [Int]) -> Variable {
        make(Tensor.convolutionInputAdjoint(g.value, w.value, geometry, inputShape: inputShape), parents: [g, w]) { u in
            [convolution(u, w, geometry), convolutionWeightAdjoint(g, u, geometry, weightShape: w.shape)]
        }
    }

    /// `d<conv(x, W), g>/dW`, linear in g and in x: `<adjoint(g, x), U> = <conv(x, U), g>`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolutionWeightAdjoint(_ g: Variable, _ x: Variable, _ geometry: WindowGeometry, weightShape: [Int]) -> Variable {
        make(Tensor.convolutionWeightAdjoint(g.value, x.value, geometry, weightShape: weightShape), parents: [g, x]) { upstream in
            [convolution(x, upstream, geometry), convolutionInputAdjoint(g, upstream, geometry, inputShape: x.shape)]
        }
    }
}
