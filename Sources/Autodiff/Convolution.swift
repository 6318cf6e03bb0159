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
}

extension WindowGeometry {
    /// For each kernel column j, the output columns z whose input column `z sw - pw + j dw` lies inside an image of
    /// width `w` (one run, as that column grows with z): im2col copies that run and zeroes the rest of the row.
    func insideOutputs(width w: Int, outputWidth ow: Int) -> [Range<Int>] {
        Self.insideRuns(input: w, output: ow, kernel: kernel.1, stride: stride.1, padding: padding.1, dilation: dilation.1)
    }

    /// The same along the height: for each kernel row i, the output rows y whose input row lies inside the image.
    func insideOutputRows(height h: Int, outputHeight oh: Int) -> [Range<Int>] {
        Self.insideRuns(input: h, output: oh, kernel: kernel.0, stride: stride.0, padding: padding.0, dilation: dilation.0)
    }

    /// For each kernel offset j along one axis, the outputs z with `z stride - padding + j dilation` in `0..<input`.
    private static func insideRuns(input: Int, output: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> [Range<Int>] {
        (0..<kernel).map { j in
            let inside = (0..<output).filter { z in (0..<input).contains(z * stride - padding + j * dilation) }
            return (inside.first ?? 0)..<((inside.last ?? -1) + 1)
        }
    }

    /// im2col of `samples` images [C, H, W] at `x` into window matrices [C kh kw, Ho Wo] (torch's unfold layout):
    /// sample s's at `target + s sampleStride`, row r at `r rowStride` from it, every element written (zeros in
    /// padding). A row holds one kernel offset (channel, i, j) at every output position, so with stride 1 each output
    /// row is one contiguous copy of an input row.
    @inline(__always)
    func im2col<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, samples: Int, channels c: Int, height h: Int, width w: Int,
                                      into target: UnsafeMutablePointer<Scalar>, rowStride: Int, sampleStride: Int) {
        if let gather = PaddedPlaneGather(self, height: h, width: w) {
            return gather.im2col(x, samples: samples, channels: c, into: target, rowStride: rowStride, sampleStride: sampleStride)
        }
        let (oh, ow) = outputSize(height: h, width: w)
        let (kh, kw) = kernel, (sh, sw) = stride, (ph, pw) = padding, (dh, dw) = dilation
        let inside = insideOutputs(width: w, outputWidth: ow)
        // Rows as long as the image's (stride 1, "same" padding): a window row's in-bounds part is one shifted copy
        // of the image plane, its wrapped-around columns zeroed after. Small maps (ResNet's 4x4) have short rows.
        let planeShifts = sh == 1 && sw == 1 && ow == w
        let insideRows = planeShifts ? insideOutputRows(height: h, outputHeight: oh) : []
        for sample in 0..<samples {
            let image = x + sample * c * h * w
            var row = target + sample * sampleStride
            for channel in 0..<c {
                let plane = image + channel * h * w
                for i in 0..<kh {
                    for j in 0..<kw {
                        let zs = inside[j], offset = j * dw - pw
                        if planeShifts {
                            let ys = insideRows[i], out = row
                            row += rowStride
                            guard !ys.isEmpty && !zs.isEmpty else {
                                for t in 0..<(oh * ow) { out[t] = 0 }
                                continue
                            }
                            let shift = (i * dh - ph) * w + offset
                            let first = ys.lowerBound * ow + zs.lowerBound, end = (ys.upperBound - 1) * ow + zs.upperBound
                            // Library calls for the plane-long runs: the same code whatever the optimiser makes of the
                            // loops around them (a loop here lost 11% of im2col's speed to an unrelated change once).
                            out.update(repeating: 0, count: first)
                            (out + first).update(from: plane + first + shift, count: end - first)
                            (out + end).update(repeating: 0, count: oh * ow - end)
                            if zs.count < ow {
                                for y in ys {
                                    for z in 0..<zs.lowerBound { out[y * ow + z] = 0 }
                                    for z in zs.upperBound..<ow { out[y * ow + z] = 0 }
                                }
                            }
                            continue
                        }
                        for y in 0..<oh {
                            let out = row + y * ow, hh = y * sh - ph + i * dh
                            // Loops rather than memset/memcpy: rows are as short as one element on small maps.
                            guard hh >= 0 && hh < h && !zs.isEmpty else {
                                for z in 0..<ow { out[z] = 0 }
                                continue
                            }
                            for z in 0..<zs.lowerBound { out[z] = 0 }
                            let source = plane + hh * w + offset
                            if sw == 1 {
                                for z in zs { out[z] = source[z] }
                            } else {
                                for z in zs { out[z] = source[z * sw] }
                            }
                            for z in zs.upperBound..<ow { out[z] = 0 }
                        }
                        row += rowStride
                    }
                }
            }
        }
    }

    /// col2im, the adjoint of ``im2col(_:samples:channels:height:width:into:rowStride:sampleStride:)``: window
    /// matrices laid out as there, summed into `samples` images [C, H, W] at `target`, which it overwrites.
    ///
    /// Its loops repeat im2col's on purpose: one shared walk calling a closure per run of window elements made the
    /// benchmark CNN's forward pass 10-40% slower (`scripts/benchmarks/hvp.sh`).
    @inline(__always)
    func col2im<Scalar: TensorScalar>(_ columns: UnsafePointer<Scalar>, samples: Int, channels c: Int, height h: Int, width w: Int,
                                      into target: UnsafeMutablePointer<Scalar>, rowStride: Int, sampleStride: Int) {
        if let gather = PaddedPlaneGather(self, height: h, width: w) {
            return gather.col2im(columns, samples: samples, channels: c, into: target, rowStride: rowStride, sampleStride: sampleStride)
        }
        let (oh, ow) = outputSize(height: h, width: w)
        let (kh, kw) = kernel, (sh, sw) = stride, (ph, pw) = padding, (dh, dw) = dilation
        let inside = insideOutputs(width: w, outputWidth: ow)
        target.initialize(repeating: 0, count: samples * c * h * w)
        for sample in 0..<samples {
            let image = target + sample * c * h * w
            var row = columns + sample * sampleStride
            for channel in 0..<c {
                let plane = image + channel * h * w
                for i in 0..<kh {
                    for j in 0..<kw {
                        let zs = inside[j], offset = j * dw - pw
                        for y in 0..<oh {
                            let hh = y * sh - ph + i * dh
                            guard hh >= 0 && hh < h else { continue }
                            let destination = plane + hh * w + offset, window = row + y * ow
                            if sw == 1 {
                                for z in zs { destination[z] += window[z] }
                            } else {
                                for z in zs { destination[z * sw] += window[z] }
                            }
                        }
                        row += rowStride
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// im2col: [N, C, H, W] -> [N, C kh kw, Ho Wo] (torch.nn.functional.unfold), column (oh, ow) holding the
    /// window's values (zeros in padding).
    func windows(_ geometry: WindowGeometry) -> Tensor {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        let k = c * geometry.kernel.0 * geometry.kernel.1
        let result = [Scalar](unsafeUninitializedCapacity: n * oh * ow * k) { buffer, initialized in
            withUnsafeBufferPointer { x in
                if let x = x.baseAddress, let target = buffer.baseAddress {
                    geometry.im2col(x, samples: n, channels: c, height: h, width: w, into: target, rowStride: oh * ow,
                                    sampleStride: k * oh * ow)
                }
            }
            initialized = buffer.count
        }
        return Tensor(shape: [n, k, oh * ow], scalars: result)
    }

    /// col2im, the adjoint of `windows`: window values summed back into [N, C, H, W].
    func foldedWindows(_ geometry: WindowGeometry, into target: [Int]) -> Tensor {
        let (n, c, h, w) = (target[0], target[1], target[2], target[3])
        let result = [Scalar](unsafeUninitializedCapacity: target.reduce(1, *)) { buffer, initialized in
            withUnsafeBufferPointer { columns in
                if let columns = columns.baseAddress, let out = buffer.baseAddress {
                    let (oh, ow) = geometry.outputSize(height: h, width: w), l = oh * ow
                    geometry.col2im(columns, samples: n, channels: c, height: h, width: w, into: out, rowStride: l,
                                    sampleStride: c * geometry.kernel.0 * geometry.kernel.1 * l)
                } else {
                    buffer.initialize(repeating: 0)
                }
            }
            initialized = buffer.count
        }
        return Tensor(shape: target, scalars: result)
    }
}

extension Tensor {
    /// The flattened elements at `indices`, as a rank-1 tensor.
    func gathered(_ indices: [Int]) -> Tensor {
        Tensor(withUnsafeBufferPointer { values in indices.map { values[$0] } })
    }

    /// Zeros of `target` with this tensor's elements added at flat `indices`.
    func scattered(_ indices: [Int], into target: [Int]) -> Tensor {
        var result = [Scalar](repeating: 0, count: target.reduce(1, *))
        withUnsafeBufferPointer { values in
            for (value, index) in zip(values, indices) { result[index] += value }
        }
        return Tensor(shape: target, scalars: result)
    }
}

extension Variable {
    /// Sliding windows (im2col, torch.nn.functional.unfold): [N, C, H, W] -> [N, C kh kw, Ho Wo]. Linear; its adjoint is ``foldedWindows(_:into:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func windows(_ geometry: WindowGeometry) -> Variable {
        let source = shape
        return makeLinear(value.windows(geometry), { $0.windows(geometry) }) { g in [g.foldedWindows(geometry, into: source)] }
    }

    /// col2im: the adjoint of ``windows(_:)``.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func foldedWindows(_ geometry: WindowGeometry, into target: [Int]) -> Variable {
        makeLinear(value.foldedWindows(geometry, into: target), { $0.foldedWindows(geometry, into: target) }) { g in [g.windows(geometry)] }
    }

    /// 2-D convolution (cross-correlation) as torch.nn.functional.conv2d: input [N, C, H, W], weight
    /// [Cout, C / groups, kh, kw], optional bias [Cout]. With one group, the chunked `convolution`
    /// family; with several, each group is im2col followed by one GEMM.
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
        if groups == 1 {
            var y = convolution(input, weight, geometry)
            if let bias { y = y + bias.reshaped([1, outChannels, 1, 1]) }
            return y
        }
        let outputs: [Variable] = (0..<groups).map { g in
            let x = groups == 1 ? input : input.sliced([0..<n, (g * groupChannels)..<((g + 1) * groupChannels), 0..<h, 0..<w])
            let k = groups == 1 ? weight : weight.sliced([(g * outPerGroup)..<((g + 1) * outPerGroup), 0..<groupChannels, 0..<kh, 0..<kw])
            // [Cout_g, K] x [K, N L] -> [Cout_g, N L] -> [N, Cout_g, L]: one GEMM each way (forward and both
            // adjoints), and the permutations move whole rows of L.
            let columns = x.windows(geometry).permuted([1, 0, 2]).reshaped([groupChannels * kh * kw, n * oh * ow])
            let product = matmul(k.reshaped([outPerGroup, groupChannels * kh * kw]), columns, transposeA: false, transposeB: false)
            return product.reshaped([outPerGroup, n, oh * ow]).permuted([1, 0, 2])
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
        return reshaped([n * c, 1, h, w]).windows(geometry).mean(alongAxes: [1]).reshaped([n, c, oh, ow])
    }

    /// Max pooling (padding never wins). The maximum's position is fixed by the values, so this is a gather: its
    /// derivative routes the gradient to the maximum, and its second derivative is zero almost everywhere.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func maxPool2d(_ geometry: WindowGeometry) -> Variable {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow) = geometry.outputSize(height: h, width: w)
        // Non-overlapping windows inside the input (the usual 2 x 2, stride 2): no bounds to check.
        if geometry.padding == (0, 0) && geometry.dilation == (1, 1) && geometry.stride == geometry.kernel && !needsGraph && !carriesTangent {
            let (kh, kw) = geometry.kernel
            if kh == 2 && kw == 2 && h % 2 == 0 && w % 2 == 0 { return Variable(value.maxPooledPairs()) }
            let maxima = [Scalar](unsafeUninitializedCapacity: n * c * oh * ow) { maximum, initialized in
                initialized = maximum.count
                value.withUnsafeBufferPointer { x in
                    var output = 0
                    for plane in 0..<(n * c) {
                        for y in 0..<oh {
                            var corner = plane * h * w + y * kh * w
                            for _ in 0..<ow {
                                var best = x[corner]
                                for i in 0..<kh {
                                    for j in 0..<kw where x[corner + i * w + j] > best { best = x[corner + i * w + j] }
                                }
                                maximum[output] = best
                                output += 1
                                corner += kw
                            }
                        }
                    }
                }
            }
            return Variable(Tensor(shape: [n, c, oh, ow], scalars: maxima))
        }
        var indices = [Int](repeating: 0, count: n * c * oh * ow)
        var maxima = [Scalar](repeating: 0, count: n * c * oh * ow)
        value.withUnsafeBufferPointer { x in
            indices.withUnsafeMutableBufferPointer { index in
                maxima.withUnsafeMutableBufferPointer { maximum in
                    var output = 0
                    for plane in 0..<(n * c) {
                        let base = plane * h * w
                        for y in 0..<oh {
                            for z in 0..<ow {
                                var best = -Scalar.infinity, at = -1
                                for i in 0..<geometry.kernel.0 {
                                    let hh = y * geometry.stride.0 - geometry.padding.0 + i * geometry.dilation.0
                                    guard hh >= 0 && hh < h else { continue }
                                    for j in 0..<geometry.kernel.1 {
                                        let ww = z * geometry.stride.1 - geometry.padding.1 + j * geometry.dilation.1
                                        if ww >= 0 && ww < w, at < 0 || x[base + hh * w + ww] > best {
                                            best = x[base + hh * w + ww]
                                            at = base + hh * w + ww
                                        }
                                    }
                                }
                                index[output] = at
                                maximum[output] = best
                                output += 1
                            }
                        }
                    }
                }
            }
        }
        // A gather: the gradient goes back to each window's maximum.
        let source = shape
        return makeLinear(Tensor(shape: [n, c, oh, ow], scalars: maxima), { $0.gathered(indices).reshaped([n, c, oh, ow]) }) { g in
            [g.reshaped([n * c * oh * ow]).scattered(indices, into: source)]
        }
    }

    /// The flattened elements at `indices` (a rank-1 result). Linear; its adjoint scatters back.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gathered(_ indices: [Int]) -> Variable {
        let source = shape
        return makeLinear(value.gathered(indices), { $0.gathered(indices) }) { g in [g.scattered(indices, into: source)] }
    }

    /// Zeros of `target` with this rank-1 tensor's elements added at flat `indices` (the adjoint of gathering).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func scattered(_ indices: [Int], into target: [Int]) -> Variable {
        makeLinear(value.scattered(indices, into: target), { $0.scattered(indices, into: target) }) { g in [g.gathered(indices)] }
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

extension Tensor {
    /// 2 x 2, stride-2 max pooling of an NCHW tensor with even height and width: the maxima of horizontal pairs over
    /// the whole tensor, then of vertical pairs of those. Each pass is one loop over contiguous memory with a fixed
    /// stride, which the compiler vectorises; a window-by-window loop was a sixth of a landscape's time on a wide CNN.
    /// A NaN in a window gives NaN or another of its values, as `>` decides.
    func maxPooledPairs() -> Tensor {
        let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
        let pairs = count / 2, ow = w / 2, rows = n * c * h / 2
        let across = [Scalar](unsafeUninitializedCapacity: pairs) { out, initialized in
            withUnsafeBufferPointer { x in
                for i in 0..<pairs {
                    let (left, right) = (x[2 * i], x[2 * i + 1])
                    out[i] = right > left ? right : left
                }
            }
            initialized = pairs
        }
        let maxima = [Scalar](unsafeUninitializedCapacity: rows * ow) { out, initialized in
            across.withUnsafeBufferPointer { a in
                for row in 0..<rows {
                    let (top, bottom, output) = (2 * row * ow, 2 * row * ow + ow, row * ow)
                    for z in 0..<ow { out[output + z] = a[bottom + z] > a[top + z] ? a[bottom + z] : a[top + z] }
                }
            }
            initialized = rows * ow
        }
        return Tensor(shape: [n, c, h / 2, ow], scalars: maxima)
    }
}
