import LinearAlgebra

/// Convolution (groups = 1) as three kernels closed under differentiation:
/// - `convolution(x, W)`: y[n, co, l] = sum_k W[co, k] cols_n[l, k];
/// - `convolutionInputAdjoint(g, W)`: the x that `<conv(x, W), g> = <x, .>` defines (col2im of G_n^T W);
/// - `convolutionWeightAdjoint(g, x)`: the W that `<conv(x, W), g> = <W, .>` defines (sum_n G_n cols_n).
/// The bilinear identities give each one's derivatives in terms of the others, so Hessian-vector products by double
/// backward stay in these three GEMM-based kernels.
///
/// Each runs over chunks of samples whose im2col matrix is at most about 8 MiB, spread over ``ParallelLoop``'s
/// workers, each with its own scratch matrix. Within a chunk every sample is one GEMM that reads or writes the
/// [Co, Ho Wo] block of y or g in place, so no layout shuffle is needed; on small feature maps (fewer than 256
/// positions) the chunk's samples are packed side by side into one GEMM instead (``batchesSamples(l:)``). The chunking depends only on the shapes,
/// and the weight adjoint sums per-chunk partial products in chunk order, so results do not depend on the thread count.
extension Tensor {
    /// Samples per chunk for window rows `l` x `k`: an even number of chunks of equal size (give or take one sample),
    /// none holding more than fit in `bytes`, at least one sample each. Even and equal because two workers share
    /// them: 64 samples in chunks of 56 and 8 kept one core idle for most of a ResNet stage. It depends only on the
    /// shapes, so the chunking (and every result) is the same on any thread count.
    private static func chunkSize(samples: Int, l: Int, k: Int, bytes: Int) -> Int {
        let fitting = max(1, bytes / max(1, l * k * MemoryLayout<Scalar>.stride))
        let chunks = (samples + fitting - 1) / fitting
        let even = max(1, min(samples, max(2, chunks + chunks % 2)))  // one chunk for one sample (or none)
        return max(1, (samples + even - 1) / even)
    }

    /// The number of chunks ``forEachChunk(samples:l:k:bytes:_:)`` makes.
    private static func chunkCount(samples: Int, l: Int, k: Int, bytes: Int) -> Int {
        let size = chunkSize(samples: samples, l: l, k: k, bytes: bytes)
        return (samples + size - 1) / size
    }

    /// Calls `body(index, start, count, columns)` for every chunk on ParallelLoop's workers: samples
    /// `start..<start + count` of chunk `index`, and the worker's scratch window matrix `columns` with room for a chunk.
    private static func forEachChunk(
        samples: Int, l: Int, k: Int, bytes: Int, _ body: (Int, Int, Int, UnsafeMutablePointer<Scalar>) -> Void
    ) {
        let size = chunkSize(samples: samples, l: l, k: k, bytes: bytes)
        ParallelLoop.forEach(chunkCount(samples: samples, l: l, k: k, bytes: bytes),
                             state: { [Scalar](repeating: 0, count: size * l * k) }) { columns, index in
            let start = index * size
            columns.withUnsafeMutableBufferPointer { body(index, start, min(samples, start + size) - start, $0.baseAddress!) }
        }
    }

    /// Whether a chunk's samples go through one GEMM side by side rather than one GEMM each: below 256 output
    /// positions per sample (ResNet's 8x8 to 1x1 stages at CIFAR size) a per-sample GEMM is a thin matrix product
    /// that BLAS runs far below its peak, and the packing costs one pass over the output.
    static func batchesSamples(l: Int) -> Bool { l < 256 }

    /// [rows, L] blocks of `samples` consecutive samples -> one [rows, samples L] matrix.
    private static func pack(_ source: UnsafePointer<Scalar>, samples: Int, rows: Int, l: Int, into packed: UnsafeMutablePointer<Scalar>) {
        for sample in 0..<samples {
            for row in 0..<rows {
                (packed + row * samples * l + sample * l).update(from: source + (sample * rows + row) * l, count: l)
            }
        }
    }

    /// The inverse of ``pack(_:samples:rows:l:into:)``.
    private static func unpack(_ packed: UnsafePointer<Scalar>, samples: Int, rows: Int, l: Int, into target: UnsafeMutablePointer<Scalar>) {
        for sample in 0..<samples {
            for row in 0..<rows {
                (target + (sample * rows + row) * l).update(from: packed + row * samples * l + sample * l, count: l)
            }
        }
    }

    /// Runs `body` with an uninitialised buffer of `count` elements.
    private static func withScratch(_ count: Int, _ body: (UnsafeMutablePointer<Scalar>) -> Void) {
        let buffer = UnsafeMutablePointer<Scalar>.allocate(capacity: max(1, count))
        defer { buffer.deallocate() }
        body(buffer)
    }

    /// [N, C, H, W] convolved with [Co, C, kh, kw] -> [N, Co, Ho, Wo].
    static func convolution(_ x: Tensor, _ w: Tensor, _ geometry: WindowGeometry, chunkBytes: Int = 8 << 20) -> Tensor {
        let (n, c, h, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = geometry.outputSize(height: h, width: width)
        let (co, k, l) = (w.shape[0], w.count / w.shape[0], oh * ow)
        let y = [Scalar](unsafeUninitializedCapacity: n * co * l) { out, initialized in
            x.withUnsafeBufferPointer { px in
                w.withUnsafeBufferPointer { pw in
                    guard let px = px.baseAddress, let pw = pw.baseAddress, let out = out.baseAddress, k > 0 else {
                        out.initialize(repeating: 0)
                        return
                    }
                    forEachChunk(samples: n, l: l, k: k, bytes: chunkBytes) { _, start, count, columns in
                        geometry.im2col(px + start * c * h * width, samples: count, channels: c, height: h, width: width, into: columns)
                        if Self.batchesSamples(l: l) {  // Y [Co, count L] = W [Co, K] cols^T, then each sample's block out
                            withScratch(co * count * l) { packed in
                                Scalar._gemm(transposeA: false, transposeB: true, m: co, n: count * l, k: k, alpha: 1, a: pw, lda: k,
                                             b: columns, ldb: k, beta: 0, c: packed, ldc: count * l)
                                unpack(packed, samples: count, rows: co, l: l, into: out + start * co * l)
                            }
                            return
                        }
                        for sample in 0..<count {  // y_n [Co, L] = W [Co, K] cols_n^T
                            Scalar._gemm(transposeA: false, transposeB: true, m: co, n: l, k: k, alpha: 1, a: pw, lda: k,
                                         b: columns + sample * l * k, ldb: k, beta: 0, c: out + (start + sample) * co * l, ldc: l)
                        }
                    }
                }
            }
            initialized = n * co * l
        }
        return Tensor(shape: [n, co, oh, ow], scalars: y)
    }

    /// The input adjoint of ``convolution(_:_:_:)``: g [N, Co, Ho, Wo] and W [Co, C, kh, kw] -> [N, C, H, W].
    static func convolutionInputAdjoint(_ g: Tensor, _ w: Tensor, _ geometry: WindowGeometry, inputShape: [Int],
                                        chunkBytes: Int = 8 << 20) -> Tensor {
        let (n, c, h, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (co, k, l) = (w.shape[0], w.count / w.shape[0], g.shape[2] * g.shape[3])
        let x = [Scalar](unsafeUninitializedCapacity: n * c * h * width) { out, initialized in
            g.withUnsafeBufferPointer { pg in
                w.withUnsafeBufferPointer { pw in
                    guard let pg = pg.baseAddress, let pw = pw.baseAddress, let out = out.baseAddress, k > 0, l > 0 else {
                        out.initialize(repeating: 0)
                        return
                    }
                    forEachChunk(samples: n, l: l, k: k, bytes: chunkBytes) { _, start, count, columns in
                        if Self.batchesSamples(l: l) {  // cols [count L, K] = G^T W, G [Co, count L] the chunk's g side by side
                            withScratch(co * count * l) { packed in
                                pack(pg + start * co * l, samples: count, rows: co, l: l, into: packed)
                                Scalar._gemm(transposeA: true, transposeB: false, m: count * l, n: k, k: co, alpha: 1,
                                             a: packed, lda: count * l, b: pw, ldb: k, beta: 0, c: columns, ldc: k)
                            }
                        } else {
                            for sample in 0..<count {  // cols_n [L, K] = g_n^T [L, Co] W [Co, K]
                                Scalar._gemm(transposeA: true, transposeB: false, m: l, n: k, k: co, alpha: 1,
                                             a: pg + (start + sample) * co * l, lda: l, b: pw, ldb: k, beta: 0,
                                             c: columns + sample * l * k, ldc: k)
                            }
                        }
                        geometry.col2im(columns, samples: count, channels: c, height: h, width: width, into: out + start * c * h * width)
                    }
                }
            }
            initialized = n * c * h * width
        }
        return Tensor(shape: inputShape, scalars: x)
    }

    /// The weight adjoint of ``convolution(_:_:_:)``: g [N, Co, Ho, Wo] and x [N, C, H, W] -> [Co, C, kh, kw].
    static func convolutionWeightAdjoint(_ g: Tensor, _ x: Tensor, _ geometry: WindowGeometry, weightShape: [Int],
                                         chunkBytes: Int = 8 << 20) -> Tensor {
        let (n, c, h, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let co = weightShape[0], k = weightShape.dropFirst().reduce(1, *), l = g.shape[2] * g.shape[3]
        // One partial product per chunk, summed in chunk order below.
        let chunks = chunkCount(samples: n, l: l, k: k, bytes: chunkBytes)
        var partials = [Scalar](repeating: 0, count: max(1, chunks) * co * k)  // zeros for an empty batch
        partials.withUnsafeMutableBufferPointer { partial in
            g.withUnsafeBufferPointer { pg in
                x.withUnsafeBufferPointer { px in
                    guard let pg = pg.baseAddress, let px = px.baseAddress, let partial = partial.baseAddress, k > 0, l > 0 else { return }
                    forEachChunk(samples: n, l: l, k: k, bytes: chunkBytes) { index, start, count, columns in
                        geometry.im2col(px + start * c * h * width, samples: count, channels: c, height: h, width: width, into: columns)
                        if Self.batchesSamples(l: l) {  // partial [Co, K] = G [Co, count L] cols [count L, K]
                            withScratch(co * count * l) { packed in
                                pack(pg + start * co * l, samples: count, rows: co, l: l, into: packed)
                                Scalar._gemm(transposeA: false, transposeB: false, m: co, n: k, k: count * l, alpha: 1,
                                             a: packed, lda: count * l, b: columns, ldb: k, beta: 0, c: partial + index * co * k, ldc: k)
                            }
                            return
                        }
                        for sample in 0..<count {  // partial [Co, K] += g_n [Co, L] cols_n [L, K]
                            Scalar._gemm(transposeA: false, transposeB: false, m: co, n: k, k: l, alpha: 1,
                                         a: pg + (start + sample) * co * l, lda: l, b: columns + sample * l * k, ldb: k,
                                         beta: sample == 0 ? 0 : 1, c: partial + index * co * k, ldc: k)
                        }
                    }
                }
            }
        }
        for index in stride(from: 1, to: chunks, by: 1) {
            for j in 0..<(co * k) { partials[j] += partials[index * co * k + j] }
        }
        let total = Tensor(shape: [co, k], scalars: Array(partials.prefix(co * k)))
        return total.reshaped(weightShape)
    }
}

extension Variable {
    /// Convolution with groups = 1 and no bias; its derivatives are ``convolutionInputAdjoint(_:_:_:inputShape:)``
    /// and ``convolutionWeightAdjoint(_:_:_:weightShape:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolution(_ x: Variable, _ w: Variable, _ geometry: WindowGeometry) -> Variable {
        make(Tensor.convolution(x.value, w.value, geometry), parents: [x, w], tangent: { t in
            sum(t[0].map { Tensor.convolution($0, w.value, geometry) }, t[1].map { Tensor.convolution(x.value, $0, geometry) })
        }) { g in
            // The data's gradient is never used: skipping it saves an im2col-sized GEMM and a col2im per backward pass.
            [x.isDifferentiable ? convolutionInputAdjoint(g, w, geometry, inputShape: x.shape) : nil,
             w.isDifferentiable ? convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape) : nil]
        }
    }

    /// `d<conv(x, W), g>/dx`, linear in g and in W: `<adjoint(g, W), u> = <conv(u, W), g>`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolutionInputAdjoint(_ g: Variable, _ w: Variable, _ geometry: WindowGeometry, inputShape: [Int]) -> Variable {
        make(Tensor.convolutionInputAdjoint(g.value, w.value, geometry, inputShape: inputShape), parents: [g, w], tangent: { t in
            sum(t[0].map { Tensor.convolutionInputAdjoint($0, w.value, geometry, inputShape: inputShape) },
                t[1].map { Tensor.convolutionInputAdjoint(g.value, $0, geometry, inputShape: inputShape) })
        }) { u in
            [g.isDifferentiable ? convolution(u, w, geometry) : nil,
             w.isDifferentiable ? convolutionWeightAdjoint(g, u, geometry, weightShape: w.shape) : nil]
        }
    }

    /// `d<conv(x, W), g>/dW`, linear in g and in x: `<adjoint(g, x), U> = <conv(x, U), g>`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolutionWeightAdjoint(_ g: Variable, _ x: Variable, _ geometry: WindowGeometry, weightShape: [Int]) -> Variable {
        make(Tensor.convolutionWeightAdjoint(g.value, x.value, geometry, weightShape: weightShape), parents: [g, x], tangent: { t in
            sum(t[0].map { Tensor.convolutionWeightAdjoint($0, x.value, geometry, weightShape: weightShape) },
                t[1].map { Tensor.convolutionWeightAdjoint(g.value, $0, geometry, weightShape: weightShape) })
        }) { upstream in
            [g.isDifferentiable ? convolution(x, upstream, geometry) : nil,
             x.isDifferentiable ? convolutionInputAdjoint(g, upstream, geometry, inputShape: x.shape) : nil]
        }
    }
}
