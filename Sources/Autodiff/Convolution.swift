import LinearAlgebra

/// The geometry of a 2-D sliding window (convolution or pooling), as PyTorch defines it.
public struct WindowGeometry: Sendable, Equatable {
    public var kernel: (Int, Int)
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public var dilation: (Int, Int)

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1)) {
        precondition(kernel.0 >= 1 && kernel.1 >= 1 && stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1
                     && padding.0 >= 0 && padding.1 >= 0, "invalid window geometry")
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    public static func == (a: WindowGeometry, b: WindowGeometry) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation
    }

    /// Output extent along one axis: `(in + 2 p - d (k - 1) - 1) / s + 1`.
    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        ((height + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1,
         (width + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1)
    }

    /// For output position (oh, ow) and kernel offset (i, j): the input position, or nil inside the padding.
    @inline(__always)
    func source(_ oh: Int, _ ow: Int, _ i: Int, _ j: Int, height: Int, width: Int) -> Int? {
        let h = oh * stride.0 - padding.0 + i * dilation.0
        let w = ow * stride.1 - padding.1 + j * dilation.1
        return h >= 0 && h < height && w >= 0 && w < width ? h * width + w : nil
    }
}

extension WindowGeometry {
    /// Calls `body(column, source)` for every in-bounds (window element, input element) pair of an [N, C, H, W] input:
    /// `column` indexes the [N, Ho Wo, C kh kw] window matrix, `source` the input. The shared walk of im2col and col2im.
    func forEachPair(input shape: [Int], _ body: (Int, Int) -> Void) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = outputSize(height: h, width: w)
        let (kh, kw) = kernel
        let k = c * kh * kw, l = oh * ow
        for sample in 0..<n {
            for y in 0..<oh {
                for z in 0..<ow {
                    let row = (sample * l + y * ow + z) * k
                    for channel in 0..<c {
                        let plane = (sample * c + channel) * h * w
                        for i in 0..<kh {
                            for j in 0..<kw {
                                if let s = source(y, z, i, j, height: h, width: w) { body(row + (channel * kh + i) * kw + j, plane + s) }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// im2col: [N, C, H, W] -> [N, Ho Wo, C kh kw], row (oh, ow) holding the window's values (zeros in padding).
    func windows(_ geometry: WindowGeometry) -> Tensor {
        let (oh, ow) = geometry.outputSize(height: shape[2], width: shape[3])
        let k = shape[1] * geometry.kernel.0 * geometry.kernel.1
        var result = [Scalar](repeating: 0, count: shape[0] * oh * ow * k)
        withUnsafeBufferPointer { x in geometry.forEachPair(input: shape) { column, source in result[column] = x[source] } }
        return Tensor(shape: [shape[0], oh * ow, k], scalars: result)
    }

    /// col2im, the adjoint of `windows`: window values summed back into [N, C, H, W].
    func foldedWindows(_ geometry: WindowGeometry, into target: [Int]) -> Tensor {
        var result = [Scalar](repeating: 0, count: target.reduce(1, *))
        withUnsafeBufferPointer { columns in geometry.forEachPair(input: target) { column, source in result[source] += columns[column] } }
        return Tensor(shape: target, scalars: result)
    }
}

extension Variable {
    /// Sliding windows (im2col): [N, C, H, W] -> [N, Ho Wo, C kh kw]. Linear; its adjoint is ``foldedWindows``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func windows(_ geometry: WindowGeometry) -> Variable {
        let source = shape
        return Variable.make(value.windows(geometry), parents: [self]) { g in [g.foldedWindows(geometry, into: source)] }
    }

    /// col2im: the adjoint of ``windows``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func foldedWindows(_ geometry: WindowGeometry, into target: [Int]) -> Variable {
        Variable.make(value.foldedWindows(geometry, into: target), parents: [self]) { g in [g.windows(geometry)] }
    }

    /// 2-D convolution (cross-correlation) as torch.nn.functional.conv2d: input [N, C, H, W], weight
    /// [Cout, C / groups, kh, kw], optional bias [Cout]. Each group is im2col followed by one GEMM.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func conv2d(
        _ input: Variable, weight: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Variable {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (outChannels, groupChannels, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(c % groups == 0 && outChannels % groups == 0 && groupChannels == c / groups,
                     "conv2d: \(c) input channels, weight \(weight.shape), groups \(groups)")
        let geometry = WindowGeometry(kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation)
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        let outPerGroup = outChannels / groups
        let outputs: [Variable] = (0..<groups).map { g in
            let x = groups == 1 ? input : input.sliced([0..<n, (g * groupChannels)..<((g + 1) * groupChannels), 0..<h, 0..<w])
            let k = groups == 1 ? weight : weight.sliced([(g * outPerGroup)..<((g + 1) * outPerGroup), 0..<groupChannels, 0..<kh, 0..<kw])
            // [N, L, K] x [K, Cout_g] -> [N, L, Cout_g] -> [N, Cout_g, L]
            let columns = x.windows(geometry)
            return matmul(columns, k.reshaped([outPerGroup, groupChannels * kh * kw]).transposed()).permuted([0, 2, 1])
        }
        var y = (groups == 1 ? outputs[0] : concatenated(outputs, axis: 1)).reshaped([n, outChannels, oh, ow])
        if let bias { y = y + bias.reshaped([1, outChannels, 1, 1]) }
        return y
    }

    /// 1-D convolution: input [N, C, L], weight [Cout, C / groups, k], as a 2-D convolution of height 1.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func conv1d(
        _ input: Variable, weight: Variable, bias: Variable? = nil, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        groups: Int = 1
    ) -> Variable {
        let (n, c, l) = (input.shape[0], input.shape[1], input.shape[2])
        let w = weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]])
        let y = conv2d(input.reshaped([n, c, 1, l]), weight: w, bias: bias, stride: (1, stride), padding: (0, padding),
                       dilation: (1, dilation), groups: groups)
        return y.reshaped([n, y.shape[1], y.shape[3]])
    }

    /// Average pooling with zero padding counted (PyTorch's count_include_pad = True).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func averagePool2d(_ geometry: WindowGeometry) -> Variable {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        return reshaped([n * c, 1, h, w]).windows(geometry).mean(alongAxes: [2]).reshaped([n, c, oh, ow])
    }

    /// Max pooling (padding never wins). The maximum's position is fixed by the values, so this is a gather: its
    /// derivative routes the gradient to the maximum, and its second derivative is zero almost everywhere.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func maxPool2d(_ geometry: WindowGeometry) -> Variable {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        var indices = [Int](repeating: 0, count: n * c * oh * ow)
        value.withUnsafeBufferPointer { x in
            for plane in 0..<(n * c) {
                for y in 0..<oh {
                    for z in 0..<ow {
                        var best = -Scalar.infinity, at = -1
                        for i in 0..<geometry.kernel.0 {
                            for j in 0..<geometry.kernel.1 {
                                if let s = geometry.source(y, z, i, j, height: h, width: w), at < 0 || x[plane * h * w + s] > best {
                                    best = x[plane * h * w + s]
                                    at = plane * h * w + s
                                }
                            }
                        }
                        indices[(plane * oh + y) * ow + z] = at
                    }
                }
            }
        }
        return gathered(indices).reshaped([n, c, oh, ow])
    }

    /// The flattened elements at `indices` (a rank-1 result). Linear; its adjoint scatters back.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gathered(_ indices: [Int]) -> Variable {
        let source = shape
        let values = value.scalars
        return Variable.make(Tensor(indices.map { values[$0] }), parents: [self]) { g in [g.scattered(indices, into: source)] }
    }

    /// Zeros of `target` with this rank-1 tensor's elements added at flat `indices` (the adjoint of gathering).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func scattered(_ indices: [Int], into target: [Int]) -> Variable {
        var result = [Scalar](repeating: 0, count: target.reduce(1, *))
        for (value, index) in zip(value.scalars, indices) { result[index] += value }
        return Variable.make(Tensor(shape: target, scalars: result), parents: [self]) { g in [g.gathered(indices)] }
    }

    /// Rows of a [V, D] table: an embedding lookup for integer `indices`, shape `indexShape + [D]`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func embeddingLookup(_ indices: [Int], indexShape: [Int]) -> Variable {
        let d = shape[1]
        precondition(indices.allSatisfy { $0 >= 0 && $0 < shape[0] }, "embedding index outside 0..<\(shape[0])")
        return gathered(indices.flatMap { row in (0..<d).map { row * d + $0 } }).reshaped(indexShape + [d])
    }
}
