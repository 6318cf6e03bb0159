import LinearAlgebra

/// Convolution (groups = 1) as three kernels closed under differentiation:
/// - `convolution(x, W)`: y[n, co, l] = sum_k W[co, k] cols_n[k, l];
/// - `convolutionInputAdjoint(g, W)`: the x that `<conv(x, W), g> = <x, .>` defines (col2im of W^T G_n);
/// - `convolutionWeightAdjoint(g, x)`: the W that `<conv(x, W), g> = <W, .>` defines (sum_n G_n cols_n^T).
/// Each also sums several terms in one output (`sum:`), which is what their bilinear tangent rules need.
/// The bilinear identities give each one's derivatives in terms of the others, so Hessian-vector products by double
/// backward stay in these three GEMM-based kernels.
///
/// Each runs over chunks of samples whose im2col matrix is at most about 8 MiB, spread over ``ParallelLoop``'s
/// workers, each with its own scratch matrix. The window matrices are [C kh kw, Ho Wo] (torch's unfold layout), so
/// im2col and col2im move whole rows and every GEMM is [Co, K] x [K, L]-shaped like y's [Co, Ho Wo] blocks.
/// Within a chunk every sample is one GEMM that reads or writes the [Co, Ho Wo] block of y or g in place, so no
/// layout shuffle is needed; on small feature maps (fewer than 256 positions) the chunk's samples are packed side by
/// side into one GEMM instead (``batchesSamples(l:)``), their window matrices side by side in one [K, count L]
/// matrix. The chunking depends only on the shapes,
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

    /// The number of chunks ``forEachChunk(samples:l:k:rows:bytes:_:)`` makes.
    private static func chunkCount(samples: Int, l: Int, k: Int, bytes: Int) -> Int {
        let size = chunkSize(samples: samples, l: l, k: k, bytes: bytes)
        return (samples + size - 1) / size
    }

    /// Calls `body(index, start, count, columns, packed)` for every chunk on ParallelLoop's workers: samples
    /// `start..<start + count` of chunk `index`, the worker's scratch window matrices `columns` (`matrices` of them,
    /// each with room for a chunk), and, when the chunk's samples share one GEMM (``batchesSamples(l:)``), scratch for
    /// its `rows` x `count L` matrix.
    private static func forEachChunk(
        samples: Int, l: Int, k: Int, rows: Int, matrices: Int = 1, bytes: Int,
        _ body: (Int, Int, Int, [WindowMatrices], UnsafeMutablePointer<Scalar>?) -> Void
    ) {
        let size = chunkSize(samples: samples, l: l, k: k, bytes: bytes)
        ParallelLoop.forEach(chunkCount(samples: samples, l: l, k: k, bytes: bytes),
                             state: { [Scalar](unsafeUninitializedCapacity: matrices * size * l * k) { $1 = $0.count } }) { columns, index in
            // Uninitialised: im2col or the GEMM writes every element a chunk reads.
            let start = index * size, count = min(samples, start + size) - start
            columns.withUnsafeMutableBufferPointer { columns in
                let bases = (0..<matrices).map { columns.baseAddress! + $0 * size * l * k }
                guard batchesSamples(l: l) else {
                    return body(index, start, count, bases.map { WindowMatrices(base: $0, rowStride: l, sampleStride: k * l) }, nil)
                }
                withScratch(rows * count * l) {
                    body(index, start, count, bases.map { WindowMatrices(base: $0, rowStride: count * l, sampleStride: l) }, $0)
                }
            }
        }
    }

    /// ``forEachChunk(samples:l:k:rows:matrices:bytes:_:)`` for kernels whose terms read the images at `inputs`
    /// (the first pointers, each [N, C, H, W] of `inputShape`) in the order `reads`: `body` gets the chunk's
    /// ``ChunkWindows``, which forms an input's window matrices on its first request.
    private static func forEachChunk(
        windowsOf inputs: [UnsafePointer<Scalar>], inputShape: [Int], reads: [Int], _ geometry: WindowGeometry,
        l: Int, k: Int, rows: Int, bytes: Int, _ body: (Int, Int, Int, inout ChunkWindows, UnsafeMutablePointer<Scalar>?) -> Void
    ) {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let count = (reads.max() ?? 0) + 1
        let (slots, matrices) = windowSlots(inputs: count, reads: reads)
        forEachChunk(samples: n, l: l, k: k, rows: rows, matrices: matrices, bytes: bytes) { index, start, samples, columns, packed in
            var windows = ChunkWindows(matrices: columns, slots: slots) {
                $0.fill(geometry, from: inputs[$1] + start * c * h * w, samples: samples, channels: c, height: h, width: w)
            }
            body(index, start, samples, &windows, packed)
        }
    }

    /// A chunk's window matrices [K, L], sample s's at `base + s sampleStride` with rows `rowStride` apart: one
    /// after another for per-sample GEMMs, side by side in one [K, count L] matrix for a shared one.
    struct WindowMatrices {
        var base: UnsafeMutablePointer<Scalar>
        var rowStride: Int
        var sampleStride: Int

        func fill(_ geometry: WindowGeometry, from x: UnsafePointer<Scalar>, samples: Int, channels c: Int, height h: Int, width w: Int) {
            geometry.im2col(x, samples: samples, channels: c, height: h, width: w, into: base, rowStride: rowStride, sampleStride: sampleStride)
        }

        func fold(_ geometry: WindowGeometry, samples: Int, channels c: Int, height h: Int, width w: Int, into x: UnsafeMutablePointer<Scalar>) {
            geometry.col2im(base, samples: samples, channels: c, height: h, width: w, into: x, rowStride: rowStride, sampleStride: sampleStride)
        }

        func sample(_ s: Int) -> UnsafeMutablePointer<Scalar> { base + s * sampleStride }
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
        convolution(sum: [(x, w)], geometry, chunkBytes: chunkBytes)
    }

    /// `sum_i conv(x_i, W_i)` (every x_i of one shape, every W_i of one shape): each term's GEMM accumulates into the
    /// same output, so a tangent `conv(dx, W) + conv(x, dW)` makes no second output and no pass to add them.
    static func convolution(sum terms: [(x: Tensor, w: Tensor)], _ geometry: WindowGeometry, chunkBytes: Int = 8 << 20) -> Tensor {
        convolutions(of: terms.map(\.x), [terms.indices.map { ($0, terms[$0].w) }], geometry, chunkBytes: chunkBytes)[0]
    }

    /// Several convolution sums over shared inputs: output j is `sum conv(inputs[i], W)` over its terms (i, W), every
    /// input [N, C, H, W] of one shape and every W [Co, C, kh, kw] of one shape. Each chunk's window matrices of each
    /// input are formed once, however many terms read them: a forward pass with tangents reads x's for both
    /// `y = conv(x, W)` and the tangent's `conv(x, dW)`. Each output's terms run in order, the first writing and the
    /// rest accumulating, so an output equals ``convolution(sum:_:chunkBytes:)`` of the same terms bit for bit.
    static func convolutions(of inputs: [Tensor], _ outputs: [[(input: Int, w: Tensor)]], _ geometry: WindowGeometry,
                             chunkBytes: Int = 8 << 20) -> [Tensor] {
        let w0 = outputs[0][0].w
        let (n, h, width) = (inputs[0].shape[0], inputs[0].shape[2], inputs[0].shape[3])
        let (oh, ow) = geometry.outputSize(height: h, width: width)
        let (co, k, l) = (w0.shape[0], w0.count / w0.shape[0], oh * ow)
        if n > 0, let small = SmallMapConvolution(geometry, channels: inputs[0].shape[1], height: h, width: width, outputChannels: co) {
            return convolutions(of: inputs, outputs, small, outputShape: [n, co, oh, ow])
        }
        let results = [Scalar].uninitialized(outputs.count, size: n * co * l) { out in
            withPointers(to: inputs + outputs.flatMap { $0.map(\.w) }) { pointers in
                guard let pointers, k > 0, n > 0 else { return out.forEach { $0.initialize(repeating: 0, count: n * co * l) } }
                forEachChunk(windowsOf: pointers, inputShape: inputs[0].shape, reads: outputs.flatMap { $0.map(\.input) }, geometry,
                             l: l, k: k, rows: co, bytes: chunkBytes) { _, start, count, windows, packed in
                    var weight = inputs.count  // the next term's W among `pointers`
                    for (output, terms) in outputs.enumerated() {
                        for (term, (input, _)) in terms.enumerated() {
                            let (pw, columns) = (pointers[weight], windows.of(input))
                            weight += 1
                            if let packed {  // Y [Co, count L] (+)= W [Co, K] cols [K, count L]
                                Scalar._gemm(transposeA: false, transposeB: false, m: co, n: count * l, k: k, alpha: 1, a: pw, lda: k,
                                             b: columns.base, ldb: count * l, beta: term == 0 ? 0 : 1, c: packed, ldc: count * l)
                                continue
                            }
                            for sample in 0..<count {  // y_n [Co, L] (+)= W [Co, K] cols_n [K, L]
                                Scalar._gemm(transposeA: false, transposeB: false, m: co, n: l, k: k, alpha: 1, a: pw, lda: k,
                                             b: columns.sample(sample), ldb: l, beta: term == 0 ? 0 : 1,
                                             c: out[output] + (start + sample) * co * l, ldc: l)
                            }
                        }
                        if let packed { unpack(packed, samples: count, rows: co, l: l, into: out[output] + start * co * l) }
                    }
                }
            }
        }
        return results.map { Tensor(shape: [n, co, oh, ow], scalars: $0) }
    }

    /// The input adjoint of ``convolution(_:_:_:chunkBytes:)``: g [N, Co, Ho, Wo] and W [Co, C, kh, kw] -> [N, C, H, W].
    static func convolutionInputAdjoint(_ g: Tensor, _ w: Tensor, _ geometry: WindowGeometry, inputShape: [Int],
                                        chunkBytes: Int = 8 << 20) -> Tensor {
        convolutionInputAdjoint(sum: [(g, w)], geometry, inputShape: inputShape, chunkBytes: chunkBytes)
    }

    /// `sum_i adjoint(g_i, W_i)`: the terms' window matrices accumulate in one GEMM output, folded back by one col2im.
    static func convolutionInputAdjoint(sum terms: [(g: Tensor, w: Tensor)], _ geometry: WindowGeometry, inputShape: [Int],
                                        chunkBytes: Int = 8 << 20) -> Tensor {
        let (g0, w0) = terms[0]
        let (n, c, h, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (co, k, l) = (w0.shape[0], w0.count / w0.shape[0], g0.shape[2] * g0.shape[3])
        if n > 0, let small = SmallMapConvolution(geometry, channels: c, height: h, width: width, outputChannels: co) {
            return convolutionInputAdjoint(sum: terms, small, inputShape: inputShape)
        }
        let x = [Scalar](unsafeUninitializedCapacity: n * c * h * width) { out, initialized in
            withPointers(to: terms.flatMap { [$0.g, $0.w] }) { pointers in
                guard let out = out.baseAddress, let pointers, k > 0, l > 0, n > 0 else {
                    out.initialize(repeating: 0)
                    return
                }
                forEachChunk(samples: n, l: l, k: k, rows: co, bytes: chunkBytes) { _, start, count, matrices, packed in
                    let columns = matrices[0]
                    for term in terms.indices {
                        let (pg, pw) = (pointers[2 * term], pointers[2 * term + 1])
                        if let packed {  // cols [K, count L] (+)= W^T G, G [Co, count L] the chunk's g side by side
                            pack(pg + start * co * l, samples: count, rows: co, l: l, into: packed)
                            Scalar._gemm(transposeA: true, transposeB: false, m: k, n: count * l, k: co, alpha: 1,
                                         a: pw, lda: k, b: packed, ldb: count * l, beta: term == 0 ? 0 : 1, c: columns.base, ldc: count * l)
                            continue
                        }
                        for sample in 0..<count {  // cols_n [K, L] (+)= W^T [K, Co] g_n [Co, L]
                            Scalar._gemm(transposeA: true, transposeB: false, m: k, n: l, k: co, alpha: 1,
                                         a: pw, lda: k, b: pg + (start + sample) * co * l, ldb: l, beta: term == 0 ? 0 : 1,
                                         c: columns.sample(sample), ldc: l)
                        }
                    }
                    columns.fold(geometry, samples: count, channels: c, height: h, width: width, into: out + start * c * h * width)
                }
            }
            initialized = n * c * h * width
        }
        return Tensor(shape: inputShape, scalars: x)
    }

    /// The weight adjoint of ``convolution(_:_:_:chunkBytes:)``: g [N, Co, Ho, Wo] and x [N, C, H, W] -> [Co, C, kh, kw].
    static func convolutionWeightAdjoint(_ g: Tensor, _ x: Tensor, _ geometry: WindowGeometry, weightShape: [Int],
                                         chunkBytes: Int = 8 << 20) -> Tensor {
        convolutionWeightAdjoint(sum: [(g, x)], geometry, weightShape: weightShape, chunkBytes: chunkBytes)
    }

    /// `sum_i adjoint(g_i, x_i)`: every term's products accumulate in the same per-chunk partial.
    static func convolutionWeightAdjoint(sum terms: [(g: Tensor, x: Tensor)], _ geometry: WindowGeometry, weightShape: [Int],
                                         chunkBytes: Int = 8 << 20) -> Tensor {
        convolutionWeightAdjoints(of: terms.map(\.x), [terms.indices.map { (terms[$0].g, $0) }], geometry, weightShape: weightShape,
                                  chunkBytes: chunkBytes)[0]
    }

    /// Several weight-adjoint sums over shared inputs: output j is `sum adjoint(g, inputs[i])` over its terms (g, i).
    /// Each chunk's window matrices of each input are formed once, however many terms read them: a backward pass with
    /// tangents reads x's for both the gradient `adjoint(g, x)` and its tangent's `adjoint(dg, x)`. Each output's terms
    /// run in order, so an output equals ``convolutionWeightAdjoint(sum:_:weightShape:chunkBytes:)`` of the same terms
    /// bit for bit.
    static func convolutionWeightAdjoints(of inputs: [Tensor], _ outputs: [[(g: Tensor, input: Int)]], _ geometry: WindowGeometry,
                                          weightShape: [Int], chunkBytes: Int = 8 << 20) -> [Tensor] {
        let g0 = outputs[0][0].g
        let n = inputs[0].shape[0]
        let co = weightShape[0], k = weightShape.dropFirst().reduce(1, *), l = g0.shape[2] * g0.shape[3]
        if n > 0, let small = SmallMapConvolution(geometry, channels: inputs[0].shape[1], height: inputs[0].shape[2],
                                                  width: inputs[0].shape[3], outputChannels: co) {
            return convolutionWeightAdjoints(of: inputs, outputs, small, weightShape: weightShape)
        }
        // One partial product per chunk and output, summed in chunk order below.
        let chunks = chunkCount(samples: n, l: l, k: k, bytes: chunkBytes)
        // Uninitialised: each chunk's first GEMM writes its partial (beta 0); zeros when there is nothing to multiply.
        var partials = [Scalar].uninitialized(outputs.count, size: max(1, chunks) * co * k) { partial in
            withPointers(to: inputs + outputs.flatMap { $0.map(\.g) }) { pointers in
                guard let pointers, k > 0, l > 0, n > 0 else {
                    return partial.forEach { $0.initialize(repeating: 0, count: max(1, chunks) * co * k) }
                }
                forEachChunk(windowsOf: pointers, inputShape: inputs[0].shape, reads: outputs.flatMap { $0.map(\.input) }, geometry,
                             l: l, k: k, rows: co, bytes: chunkBytes) { index, start, count, windows, packed in
                    var gradient = inputs.count  // the next term's g among `pointers`
                    for (output, terms) in outputs.enumerated() {
                        let target = partial[output] + index * co * k
                        for (term, (_, input)) in terms.enumerated() {
                            let (pg, columns) = (pointers[gradient], windows.of(input))
                            gradient += 1
                            if let packed {  // partial [Co, K] (+)= G [Co, count L] cols^T [count L, K]
                                pack(pg + start * co * l, samples: count, rows: co, l: l, into: packed)
                                Scalar._gemm(transposeA: false, transposeB: true, m: co, n: k, k: count * l, alpha: 1,
                                             a: packed, lda: count * l, b: columns.base, ldb: count * l, beta: term == 0 ? 0 : 1,
                                             c: target, ldc: k)
                                continue
                            }
                            for sample in 0..<count {  // partial [Co, K] += g_n [Co, L] cols_n^T [L, K]
                                Scalar._gemm(transposeA: false, transposeB: true, m: co, n: k, k: l, alpha: 1,
                                             a: pg + (start + sample) * co * l, lda: l, b: columns.sample(sample), ldb: l,
                                             beta: term == 0 && sample == 0 ? 0 : 1, c: target, ldc: k)
                            }
                        }
                    }
                }
            }
        }
        return partials.indices.map { output in
            var total: [Scalar] = []
            swap(&total, &partials[output])  // held once, so the sums below write in place
            total.withUnsafeMutableBufferPointer { total in
                for index in stride(from: 1, to: chunks, by: 1) {
                    for j in 0..<(co * k) { total[j] += total[index * co * k + j] }
                }
            }
            total.removeSubrange((co * k)...)  // the first chunk's partial, now the total, without a copy
            return Tensor(shape: weightShape, scalars: total)
        }
    }

    /// A chunk's window matrices of several inputs, each formed by `fill(matrices, input)` on its first request,
    /// which is just before its first read: inputs read once share a matrix (``windowSlots(inputs:reads:)``), so
    /// one formed earlier may have been overwritten since.
    struct ChunkWindows {
        let matrices: [WindowMatrices]
        let slots: [Int]
        let fill: (WindowMatrices, Int) -> Void
        private var formed: [Bool]

        init(matrices: [WindowMatrices], slots: [Int], fill: @escaping (WindowMatrices, Int) -> Void) {
            (self.matrices, self.slots, self.fill) = (matrices, slots, fill)
            formed = [Bool](repeating: false, count: slots.count)
        }

        /// Input `input`'s window matrices, formed now if this is their first request.
        mutating func of(_ input: Int) -> WindowMatrices {
            let target = matrices[slots[input]]
            if !formed[input] {
                fill(target, input)
                formed[input] = true
            }
            return target
        }
    }

    /// Which scratch window matrices the inputs use, given the input each term reads (in order), and how many there
    /// are: an input read more than once keeps one of its own, formed once per chunk; the inputs read once share one,
    /// each formed just before its read. A replayed tangent rule (two inputs, each read once) so keeps the one scratch
    /// matrix it had before this sharing existed; with one per input a block of ResNet-18 HVPs measured slower.
    private static func windowSlots(inputs: Int, reads: [Int]) -> (slots: [Int], count: Int) {
        var readCount = [Int](repeating: 0, count: inputs)
        for input in reads { readCount[input] += 1 }
        var slots = [Int](repeating: 0, count: inputs), count = 0
        for input in 0..<inputs where readCount[input] > 1 {
            slots[input] = count
            count += 1
        }
        let shared = count
        for input in 0..<inputs where readCount[input] <= 1 {
            slots[input] = shared
            count = shared + 1
        }
        return (slots, count)
    }

    /// Runs `body` with the base addresses of the tensors' storage, valid for the call; with nil when some tensor has
    /// no storage (an empty batch).
    private static func withPointers(to tensors: [Tensor], _ body: ([UnsafePointer<Scalar>]?) -> Void) {
        var pointers: [UnsafePointer<Scalar>] = []
        func bind(_ index: Int) {
            guard index < tensors.count else { return body(pointers) }
            tensors[index].withUnsafeBufferPointer { storage in
                guard let base = storage.baseAddress else { return body(nil) }
                pointers.append(base)
                bind(index + 1)
            }
        }
        bind(0)
    }
}

extension Variable {
    /// Convolution with groups = 1 and no bias; its derivatives are ``convolutionInputAdjoint(_:_:_:inputShape:)``
    /// and ``convolutionWeightAdjoint(_:_:_:weightShape:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolution(_ x: Variable, _ w: Variable, _ geometry: WindowGeometry) -> Variable {
        // With tangents, the value and the tangent in one pass, x's window matrices serving both conv(x, W) and conv(x, dW).
        let tangent = convolutionTangent(x.value, w.value, dx: x.tangent, dw: w.tangent)
        let outputs = Tensor.convolutions(of: tangent.inputs, [[(0, w.value)]] + (tangent.terms.isEmpty ? [] : [tangent.terms]), geometry)
        return make(outputs[0], parents: [x, w], known: outputs.count > 1 ? outputs[1] : nil, tangent: { t in
            let tangent = convolutionTangent(x.value, w.value, dx: t[0], dw: t[1])
            return Tensor.convolutions(of: tangent.inputs, [tangent.terms], geometry)[0]
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
            Tensor.convolutionInputAdjoint(sum: [t[0].map { ($0, w.value) }, t[1].map { (g.value, $0) }].compactMap { $0 },
                                           geometry, inputShape: inputShape)
        }) { u in
            [g.isDifferentiable ? convolution(u, w, geometry) : nil,
             w.isDifferentiable ? convolutionWeightAdjoint(g, u, geometry, weightShape: w.shape) : nil]
        }
    }

    /// `d<conv(x, W), g>/dW`, linear in g and in x: `<adjoint(g, x), U> = <conv(x, U), g>`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func convolutionWeightAdjoint(_ g: Variable, _ x: Variable, _ geometry: WindowGeometry, weightShape: [Int]) -> Variable {
        // With tangents, the value and the tangent in one pass, x's window matrices serving both adjoint(g, x) and
        // adjoint(dg, x).
        let tangent = weightAdjointTangent(g.value, x.value, dg: g.tangent, dx: x.tangent)
        let outputs = Tensor.convolutionWeightAdjoints(of: tangent.inputs, [[(g.value, 0)]] + (tangent.terms.isEmpty ? [] : [tangent.terms]),
                                                       geometry, weightShape: weightShape)
        return make(outputs[0], parents: [g, x], known: outputs.count > 1 ? outputs[1] : nil, tangent: { t in
            let tangent = weightAdjointTangent(g.value, x.value, dg: t[0], dx: t[1])
            return Tensor.convolutionWeightAdjoints(of: tangent.inputs, [tangent.terms], geometry, weightShape: weightShape)[0]
        }) { upstream in
            [g.isDifferentiable ? convolution(x, upstream, geometry) : nil,
             x.isDifferentiable ? convolutionInputAdjoint(g, upstream, geometry, inputShape: x.shape) : nil]
        }
    }

    /// conv(x, W)'s tangent `conv(dx, W) + conv(x, dW)`, the terms present, as ``Tensor/convolutions(of:_:_:chunkBytes:)``
    /// reads them from the inputs [x, dx]. The one spelling of the rule: the tangent formed in the value's pass and
    /// the replayed rule run the same GEMMs in the same order, so they agree bit for bit.
    private static func convolutionTangent(_ x: Tensor<Scalar>, _ w: Tensor<Scalar>, dx: Tensor<Scalar>?, dw: Tensor<Scalar>?)
        -> (inputs: [Tensor<Scalar>], terms: [(input: Int, w: Tensor<Scalar>)]) {
        ([x] + [dx].compactMap { $0 }, [dx.map { _ in (1, w) }, dw.map { (0, $0) }].compactMap { $0 })
    }

    /// adjoint(g, x)'s tangent `adjoint(dg, x) + adjoint(g, dx)`, the terms present, over the inputs [x, dx]: the one
    /// spelling of the rule, as ``convolutionTangent(_:_:dx:dw:)`` is for the convolution.
    private static func weightAdjointTangent(_ g: Tensor<Scalar>, _ x: Tensor<Scalar>, dg: Tensor<Scalar>?, dx: Tensor<Scalar>?)
        -> (inputs: [Tensor<Scalar>], terms: [(g: Tensor<Scalar>, input: Int)]) {
        ([x] + [dx].compactMap { $0 }, [dg.map { ($0, 0) }, dx.map { _ in (g, 1) }].compactMap { $0 })
    }
}
