import LinearAlgebra

/// A convolution on a feature map no larger than its kernel (ResNet-18's last stages at CIFAR size: 3 x 3 kernels on
/// 2 x 2 and 1 x 1 maps) as one dense matrix M [Co Ho Wo, C H W] that maps an image to its output:
/// `M[(o, p), (c, q)] = W[o, c, t]` where kernel offset t takes output position p to input position q (zero where
/// none does).
///
/// Most of an im2col matrix on such a map is padding: on a 1 x 1 map eight of a 3 x 3 kernel's nine offsets fall
/// outside the image, so eight ninths of its GEMM multiplies zeros. M holds at most one weight per (p, q) pair, so
/// when the map has at most kh kw positions its product costs no more than im2col's and usually far less, and it
/// reads and writes the [N, C, H, W] and [N, Co, Ho, Wo] tensors as they are: no im2col, col2im or packing.
/// - forward: `Y [N, Co Ho Wo] = X [N, C H W] M^T`;
/// - input adjoint: `X' = G M`;
/// - weight adjoint: `M' = G^T X`, whose entries add back onto the offsets that placed them.
struct SmallMapConvolution {
    let channels: Int, outputChannels: Int
    /// Input positions H W and output positions Ho Wo.
    let inputPositions: Int, outputPositions: Int
    /// Offsets per kernel, kh kw.
    let offsets: Int
    /// Every (output position, input position, kernel offset) the convolution connects.
    private let links: [(output: Int, input: Int, offset: Int)]

    /// The largest M this path builds: above it the im2col kernels run (a map no larger than its kernel keeps M at
    /// most the weight's size times Ho Wo, which only a hostile padding makes large).
    static var largestMatrix: Int { 1 << 22 }

    /// Nil unless the map [C, H, W] has at most kh kw positions and M stays within ``largestMatrix``.
    init?(_ geometry: WindowGeometry, channels c: Int, height h: Int, width w: Int, outputChannels co: Int) {
        let (kh, kw) = geometry.kernel
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        guard h * w <= kh * kw, oh > 0, ow > 0, c > 0, co > 0,
              Double(co) * Double(oh) * Double(ow) * Double(c) * Double(h) * Double(w) <= Double(Self.largestMatrix) else { return nil }
        (channels, outputChannels, inputPositions, outputPositions, offsets) = (c, co, h * w, oh * ow, kh * kw)
        var links: [(output: Int, input: Int, offset: Int)] = []
        for y in 0..<oh {
            for x in 0..<ow {
                for i in 0..<kh {
                    let row = y * geometry.stride.0 - geometry.padding.0 + i * geometry.dilation.0
                    guard (0..<h).contains(row) else { continue }
                    for j in 0..<kw {
                        let column = x * geometry.stride.1 - geometry.padding.1 + j * geometry.dilation.1
                        guard (0..<w).contains(column) else { continue }
                        links.append((y * ow + x, row * w + column, i * kw + j))
                    }
                }
            }
        }
        self.links = links
    }

    /// Rows Co Ho Wo and columns C H W of M.
    var rows: Int { outputChannels * outputPositions }
    var columns: Int { channels * inputPositions }

    /// M for the weight W [Co, C, kh, kw] at `w`.
    func matrix<Scalar: TensorScalar>(_ w: UnsafePointer<Scalar>) -> [Scalar] {
        var m = [Scalar](repeating: 0, count: rows * columns)
        let (p, q) = (outputPositions, inputPositions)
        m.withUnsafeMutableBufferPointer { m in
            for o in 0..<outputChannels {
                for c in 0..<channels {
                    let weights = w + (o * channels + c) * offsets
                    for link in links { m[(o * p + link.output) * columns + c * q + link.input] = weights[link.offset] }
                }
            }
        }
        return m
    }

    /// The weight gradient [Co, C, kh, kw] that an M-gradient `dm` [Co Ho Wo, C H W] gives: each entry adds onto the
    /// offset that placed it, and offsets that reach no input position get zero.
    func weightGradient<Scalar: TensorScalar>(_ dm: UnsafePointer<Scalar>) -> [Scalar] {
        var gradient = [Scalar](repeating: 0, count: outputChannels * channels * offsets)
        let (p, q) = (outputPositions, inputPositions)
        gradient.withUnsafeMutableBufferPointer { gradient in
            for o in 0..<outputChannels {
                for c in 0..<channels {
                    let target = gradient.baseAddress! + (o * channels + c) * offsets
                    for link in links { target[link.offset] += dm[(o * p + link.output) * columns + c * q + link.input] }
                }
            }
        }
        return gradient
    }
}

extension Tensor {
    /// ``convolutions(of:_:_:chunkBytes:)`` through M: output j is `sum X_i M(W)^T` over its terms, one GEMM each.
    static func convolutions(of inputs: [Tensor], _ outputs: [[(input: Int, w: Tensor)]], _ small: SmallMapConvolution,
                             outputShape: [Int]) -> [Tensor] {
        let n = inputs[0].shape[0]
        // One M per weight: a value and its tangent, `conv(x, W)` and `conv(dx, W) + conv(x, dW)`, share W's.
        var matrices: [(storage: UnsafeRawPointer, m: [Scalar])] = []
        func matrix(_ w: Tensor) -> [Scalar] {
            w.withUnsafeBufferPointer { w in
                let storage = UnsafeRawPointer(w.baseAddress!)  // compared only, while `outputs` holds every weight
                if let built = matrices.first(where: { $0.storage == storage }) { return built.m }
                matrices.append((storage, small.matrix(w.baseAddress!)))
                return matrices[matrices.count - 1].m
            }
        }
        return outputs.map { terms in
            // Uninitialised: the first term's GEMM writes every element (beta 0).
            let y = [Scalar](unsafeUninitializedCapacity: n * small.rows) { y, initialized in
                for (term, (input, w)) in terms.enumerated() {
                    let m = matrix(w)
                    inputs[input].withUnsafeBufferPointer { x in
                        Scalar._gemm(transposeA: false, transposeB: true, m: n, n: small.rows, k: small.columns, alpha: 1,
                                     a: x.baseAddress!, lda: small.columns, b: m, ldb: small.columns, beta: term == 0 ? 0 : 1,
                                     c: y.baseAddress!, ldc: small.rows)
                    }
                }
                initialized = n * small.rows
            }
            return Tensor(shape: outputShape, scalars: y)
        }
    }

    /// ``convolutionInputAdjoint(sum:_:inputShape:chunkBytes:)`` through M: `sum G_i M(W_i)`.
    static func convolutionInputAdjoint(sum terms: [(g: Tensor, w: Tensor)], _ small: SmallMapConvolution, inputShape: [Int]) -> Tensor {
        let n = inputShape[0]
        let x = [Scalar](unsafeUninitializedCapacity: n * small.columns) { x, initialized in
            for (term, (g, w)) in terms.enumerated() {
                let m: [Scalar] = w.withUnsafeBufferPointer { small.matrix($0.baseAddress!) }
                g.withUnsafeBufferPointer { g in
                    Scalar._gemm(transposeA: false, transposeB: false, m: n, n: small.columns, k: small.rows, alpha: 1,
                                 a: g.baseAddress!, lda: small.rows, b: m, ldb: small.columns, beta: term == 0 ? 0 : 1,
                                 c: x.baseAddress!, ldc: small.columns)
                }
            }
            initialized = n * small.columns
        }
        return Tensor(shape: inputShape, scalars: x)
    }

    /// ``convolutionWeightAdjoints(of:_:_:weightShape:chunkBytes:)`` through M: output j's `sum G^T X_i`, folded
    /// back onto the kernel offsets.
    static func convolutionWeightAdjoints(of inputs: [Tensor], _ outputs: [[(g: Tensor, input: Int)]], _ small: SmallMapConvolution,
                                          weightShape: [Int]) -> [Tensor] {
        let n = inputs[0].shape[0]
        return outputs.map { terms in
            let dm = [Scalar](unsafeUninitializedCapacity: small.rows * small.columns) { dm, initialized in
                for (term, (g, input)) in terms.enumerated() {
                    g.withUnsafeBufferPointer { g in
                        inputs[input].withUnsafeBufferPointer { x in
                            Scalar._gemm(transposeA: true, transposeB: false, m: small.rows, n: small.columns, k: n, alpha: 1,
                                         a: g.baseAddress!, lda: small.rows, b: x.baseAddress!, ldb: small.columns,
                                         beta: term == 0 ? 0 : 1, c: dm.baseAddress!, ldc: small.columns)
                        }
                    }
                }
                initialized = small.rows * small.columns
            }
            return Tensor(shape: weightShape, scalars: dm.withUnsafeBufferPointer { small.weightGradient($0.baseAddress!) })
        }
    }
}
