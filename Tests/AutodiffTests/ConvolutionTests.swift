import Foundation
import LinearAlgebra
import Testing
@testable import Autodiff

/// Direct convolution, loop by loop, as PyTorch defines it.
func naiveConv2d(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>?, stride: (Int, Int), padding: (Int, Int),
                 dilation: (Int, Int), groups: Int) -> Tensor<Double> {
    let (n, c, h, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (co, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let oh = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
    let ow = (width + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
    var y = Tensor<Double>(zeros: [n, co, oh, ow])
    let perGroup = co / groups
    for s in 0..<n { for o in 0..<co { for a in 0..<oh { for bb in 0..<ow {
        var total = b?[o] ?? 0
        let g = o / perGroup
        for ci in 0..<cg { for i in 0..<kh { for j in 0..<kw {
            let hh = a * stride.0 - padding.0 + i * dilation.0, ww = bb * stride.1 - padding.1 + j * dilation.1
            if hh >= 0 && hh < h && ww >= 0 && ww < width { total += x[s, g * cg + ci, hh, ww] * w[o, ci, i, j] }
        } } }
        _ = c
        y[s, o, a, bb] = total
    } } } }
    return y
}

@Suite struct ConvolutionTests {
    struct Case: Sendable {
        var input: [Int], weight: [Int], stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int
    }
    let cases: [Case] = [
        Case(input: [2, 2, 5, 5], weight: [3, 2, 3, 3], stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1),
        Case(input: [1, 2, 6, 7], weight: [2, 2, 3, 2], stride: (2, 3), padding: (1, 0), dilation: (1, 1), groups: 1),
        Case(input: [1, 2, 7, 7], weight: [2, 2, 2, 3], stride: (1, 1), padding: (2, 1), dilation: (2, 2), groups: 1),
        Case(input: [2, 4, 5, 4], weight: [6, 2, 3, 3], stride: (1, 2), padding: (1, 1), dilation: (1, 1), groups: 2),
        Case(input: [1, 3, 4, 4], weight: [3, 1, 2, 2], stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 3),
        // Width 1 with a 3-wide kernel: the outer kernel columns fall wholly in the padding at every output position.
        Case(input: [2, 2, 3, 1], weight: [2, 2, 3, 3], stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
        // "Same" padding (output rows as long as input rows), dilated and not: im2col's shifted-plane copies.
        Case(input: [2, 2, 6, 6], weight: [2, 2, 3, 3], stride: (1, 1), padding: (2, 2), dilation: (2, 2), groups: 1),
        Case(input: [2, 3, 4, 4], weight: [2, 3, 3, 3], stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1),
    ]

    @Test func valuesMatchDirectConvolution() {
        for (index, c) in cases.enumerated() {
            let x = randomTensor(c.input, seed: UInt64(index)), w = randomTensor(c.weight, seed: UInt64(index + 50))
            let b = randomTensor([c.weight[0]], seed: 7)
            let y = V.conv2d(V(x), weight: V(w), bias: V(b), stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            let expected = naiveConv2d(x, w, b, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            #expect(y.shape == expected.shape, "case \(index)")
            #expect((y.value - expected).maxAbsolute() < 1e-12, "case \(index)")
        }
    }

    /// Images whose padded plane holds at most 256 elements go through ``PaddedPlaneGather``'s table, larger ones
    /// row by row: every case again on images 16 rows and columns larger, so both im2col paths and both col2im paths
    /// meet the direct loops and the adjoint identity.
    @Test func largerImagesTakeTheRowByRowPathAndAgreeToo() {
        for (index, c) in cases.enumerated() {
            let input = [c.input[0], c.input[1], c.input[2] + 16, c.input[3] + 16]
            let geometry = WindowGeometry(kernel: (c.weight[2], c.weight[3]), stride: c.stride, padding: c.padding, dilation: c.dilation)
            #expect(PaddedPlaneGather(geometry, height: input[2], width: input[3]) == nil)
            #expect(PaddedPlaneGather(geometry, height: c.input[2], width: c.input[3]) != nil)
            let x = randomTensor(input, seed: UInt64(index)), w = randomTensor(c.weight, seed: UInt64(index + 50))
            let y = V.conv2d(V(x), weight: V(w), stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups).value
            let expected = naiveConv2d(x, w, nil, stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups)
            #expect((y - expected).maxAbsolute() < 1e-12, "case \(index)")
            let g = randomTensor(y.shape, seed: 70)
            let windows = x.windows(geometry), folded = windows.foldedWindows(geometry, into: input)
            // <im2col(x), im2col(x)> = <x, col2im(im2col(x))>: col2im is im2col's adjoint.
            #expect(abs(windows.dot(windows) - x.dot(folded)) < 1e-10 * windows.dot(windows), "case \(index)")
            if c.groups == 1 {
                let inputAdjoint = Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: input)
                #expect(abs(x.dot(inputAdjoint) - y.dot(g)) < 1e-10 * abs(y.dot(g)), "case \(index)")
            }
        }
    }

    @Test func derivativesOfStridedPaddedDilatedAndGroupedConvolutions() {
        for (index, c) in cases.enumerated() {
            let x = randomTensor(c.input, seed: UInt64(index)), w = randomTensor(c.weight, seed: UInt64(index + 50))
            let b = randomTensor([c.weight[0]], seed: 7)
            checkDerivatives("conv2d case \(index)", [x, w, b]) {
                V.conv2d($0[0], weight: $0[1], bias: $0[2], stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups).tanh()
            }
        }
    }

    @Test func chunkedKernelsAgreeWithOneChunkAndSatisfyTheAdjointIdentities() {
        let geometry = WindowGeometry(kernel: (3, 2), stride: (2, 1), padding: (1, 1), dilation: (1, 2))
        let x = randomTensor([5, 3, 6, 7], seed: 1), w = randomTensor([4, 3, 3, 2], seed: 2)
        let y = Tensor.convolution(x, w, geometry)
        let g = randomTensor(y.shape, seed: 3)
        // One sample per chunk against everything in one chunk.
        #expect((Tensor.convolution(x, w, geometry, chunkBytes: 1) - y).maxAbsolute() < 1e-12)
        let inputAdjoint = Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: x.shape)
        let weightAdjoint = Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape)
        #expect((Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: x.shape, chunkBytes: 1) - inputAdjoint).maxAbsolute() < 1e-12)
        #expect((Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape, chunkBytes: 1) - weightAdjoint).maxAbsolute() < 1e-12)
        // An empty batch is an empty result, and adds nothing to the weight adjoint.
        let empty = Tensor<Double>(zeros: [0, 3, 6, 7])
        #expect(Tensor.convolution(empty, w, geometry).shape == [0] + y.shape.dropFirst())
        #expect(Tensor.convolutionWeightAdjoint(Tensor(zeros: [0] + y.shape.dropFirst()), empty, geometry, weightShape: w.shape)
                == Tensor(zeros: w.shape))
        // <conv(x, W), g> = <x, input adjoint> = <W, weight adjoint>.
        let pairing = y.dot(g)
        #expect(abs(x.dot(inputAdjoint) - pairing) < 1e-10 * abs(pairing))
        #expect(abs(w.dot(weightAdjoint) - pairing) < 1e-10 * abs(pairing))
        #expect((y - naiveConv2d(x, w, nil, stride: geometry.stride, padding: geometry.padding, dilation: geometry.dilation, groups: 1)).maxAbsolute() < 1e-12)
    }

    /// Feature maps below 256 positions run a chunk's samples through one GEMM, larger ones one GEMM per sample:
    /// both against the naive loops and the adjoint identities.
    @Test(arguments: [[3, 2, 17, 16], [3, 2, 4, 4], [4, 3, 1, 1]])
    func packedAndPerSampleProductsAgree(input: [Int]) {
        let geometry = WindowGeometry(kernel: (3, 3), padding: (1, 1))
        let x = randomTensor(input, seed: 7), w = randomTensor([5, input[1], 3, 3], seed: 8)
        let y = Tensor.convolution(x, w, geometry)
        #expect(Tensor<Double>.batchesSamples(l: y.shape[2] * y.shape[3]) == (input[2] * input[3] < 256))
        #expect((y - naiveConv2d(x, w, nil, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)).maxAbsolute() < 1e-12)
        let g = randomTensor(y.shape, seed: 9)
        let pairing = y.dot(g)
        let inputAdjoint = Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: x.shape)
        let weightAdjoint = Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape)
        #expect(abs(x.dot(inputAdjoint) - pairing) < 1e-10 * abs(pairing))
        #expect(abs(w.dot(weightAdjoint) - pairing) < 1e-10 * abs(pairing))
        // Each chunk one sample: the same products to rounding.
        #expect((Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: x.shape, chunkBytes: 1) - inputAdjoint).maxAbsolute() < 1e-12)
        #expect((Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape, chunkBytes: 1) - weightAdjoint).maxAbsolute() < 1e-12)
    }

    /// A tangent rule's two terms in one kernel call: the sum of the two single calls, on both GEMM paths.
    @Test(arguments: [[3, 2, 17, 16], [3, 2, 4, 4]])
    func summedTermsAreTheSumOfSingleKernels(input: [Int]) {
        let geometry = WindowGeometry(kernel: (3, 3), stride: (1, 2), padding: (1, 1))
        let x1 = randomTensor(input, seed: 20), x2 = randomTensor(input, seed: 21)
        let w1 = randomTensor([5, input[1], 3, 3], seed: 22), w2 = randomTensor([5, input[1], 3, 3], seed: 23)
        let y = Tensor.convolution(x1, w1, geometry)
        #expect((Tensor.convolution(sum: [(x1, w1), (x2, w2)], geometry) - (y + Tensor.convolution(x2, w2, geometry))).maxAbsolute() < 1e-12)
        let g1 = randomTensor(y.shape, seed: 24), g2 = randomTensor(y.shape, seed: 25)
        let inputs = Tensor.convolutionInputAdjoint(sum: [(g1, w1), (g2, w2)], geometry, inputShape: input, chunkBytes: 1)
        #expect((inputs - Tensor.convolutionInputAdjoint(g1, w1, geometry, inputShape: input)
                 - Tensor.convolutionInputAdjoint(g2, w2, geometry, inputShape: input)).maxAbsolute() < 1e-12)
        let weights = Tensor.convolutionWeightAdjoint(sum: [(g1, x1), (g2, x2)], geometry, weightShape: w1.shape)
        #expect((weights - Tensor.convolutionWeightAdjoint(g1, x1, geometry, weightShape: w1.shape)
                 - Tensor.convolutionWeightAdjoint(g2, x2, geometry, weightShape: w1.shape)).maxAbsolute() < 1e-12)
    }

    /// Sums over shared inputs (a value and its tangent, x's window matrices formed once for both) give each output
    /// exactly as the one-sum kernels do, on both GEMM paths and with several chunks.
    @Test(arguments: [[3, 2, 17, 16], [3, 2, 4, 4]])
    func sharedInputSumsEqualSeparateSumsBitForBit(input: [Int]) {
        let geometry = WindowGeometry(kernel: (3, 3), stride: (1, 2), padding: (1, 1))
        let x = randomTensor(input, seed: 30), dx = randomTensor(input, seed: 31)
        let w = randomTensor([5, input[1], 3, 3], seed: 32), dw = randomTensor([5, input[1], 3, 3], seed: 33)
        let outputs = Tensor.convolutions(of: [x, dx], [[(0, w)], [(1, w), (0, dw)]], geometry, chunkBytes: 4096)
        #expect(outputs[0].scalars == Tensor.convolution(x, w, geometry, chunkBytes: 4096).scalars)
        #expect(outputs[1].scalars == Tensor.convolution(sum: [(dx, w), (x, dw)], geometry, chunkBytes: 4096).scalars)
        #expect((outputs[1] - naiveConv2d(dx, w, nil, stride: (1, 2), padding: (1, 1), dilation: (1, 1), groups: 1)
                 - naiveConv2d(x, dw, nil, stride: (1, 2), padding: (1, 1), dilation: (1, 1), groups: 1)).maxAbsolute() < 1e-12)
        let g = randomTensor(outputs[0].shape, seed: 34), dg = randomTensor(outputs[0].shape, seed: 35)
        let adjoints = Tensor.convolutionWeightAdjoints(of: [x, dx], [[(g, 0)], [(dg, 0), (g, 1)]], geometry, weightShape: w.shape,
                                                        chunkBytes: 4096)
        #expect(adjoints[0].scalars == Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape, chunkBytes: 4096).scalars)
        #expect(adjoints[1].scalars == Tensor.convolutionWeightAdjoint(sum: [(dg, x), (g, dx)], geometry, weightShape: w.shape,
                                                                       chunkBytes: 4096).scalars)
        // <conv(dx, W) + conv(x, dW), g> pairs with the weight and input adjoints.
        let pairing = outputs[1].dot(g)
        let expected = dx.dot(Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: input))
            + dw.dot(Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape))
        #expect(abs(pairing - expected) < 1e-10 * abs(pairing))
    }

    /// A convolution whose inputs carry tangents computes the tangent in the value's pass: the same bits as its
    /// recorded tangent rule replayed on a linearization, forward and backward.
    @Test func tangentsFromTheValuePassEqualTheReplayedRule() {
        let x = randomTensor([2, 3, 6, 5], seed: 40), dx = randomTensor([2, 3, 6, 5], seed: 41)
        let w = randomTensor([4, 3, 3, 3], seed: 42), dw = randomTensor([4, 3, 3, 3], seed: 43)
        func loss(_ x: Variable<Double>, _ w: Variable<Double>) -> Variable<Double> {
            let y = Variable.conv2d(x, weight: w, padding: (1, 1))
            return (y * y).sum()
        }
        let xv = Variable.differentiable(x, tangent: dx), wv = Variable.differentiable(w, tangent: dw)
        let direct = gradients(of: loss(xv, wv), withRespectTo: [xv, wv], createGraph: true)
        let linearization = Linearization<Double>()
        let (xl, wl) = (linearization.leaf(x), linearization.leaf(w))
        let recorded = linearization.recording { gradients(of: loss(xl, wl), withRespectTo: [xl, wl], createGraph: true) }
        let replayed = linearization.replay(leaves: [(xl, dx), (wl, dw)], outputs: recorded)
        for (a, b) in zip(direct, replayed) { #expect(a.tangent!.scalars == b.scalars) }
    }

    /// Maps no larger than the kernel (ResNet's 2 x 2 and 1 x 1 stages) go through one dense matrix instead of
    /// im2col: every kernel against the naive loops and the adjoint identities, with strides, dilations, offsets that
    /// reach no input, several terms and shared inputs.
    @Test(arguments: [
        ([3, 4, 1, 1], [5, 4, 3, 3], (1, 1), (1, 1), (1, 1)),  // a 1 x 1 map: only the centre offset reaches it
        ([3, 4, 2, 2], [5, 4, 3, 3], (1, 1), (1, 1), (1, 1)),  // 2 x 2: four offsets per output position
        ([2, 3, 2, 2], [4, 3, 3, 3], (2, 2), (1, 1), (1, 1)),  // ResNet's strided block entry, 2 x 2 -> 1 x 1
        ([2, 3, 2, 3], [4, 3, 3, 2], (1, 2), (2, 0), (2, 1)),  // dilated, uneven padding and stride
        ([2, 3, 1, 1], [4, 3, 1, 1], (1, 1), (0, 0), (1, 1)),  // a 1 x 1 kernel on a 1 x 1 map
    ] as [([Int], [Int], (Int, Int), (Int, Int), (Int, Int))])
    func smallMapsThroughOneMatrixMatchTheDirectLoops(input: [Int], weight: [Int], stride: (Int, Int), padding: (Int, Int),
                                                       dilation: (Int, Int)) {
        let geometry = WindowGeometry(kernel: (weight[2], weight[3]), stride: stride, padding: padding, dilation: dilation)
        #expect(SmallMapConvolution(geometry, channels: input[1], height: input[2], width: input[3], outputChannels: weight[0]) != nil)
        let x = randomTensor(input, seed: 60), dx = randomTensor(input, seed: 61)
        let w = randomTensor(weight, seed: 62), dw = randomTensor(weight, seed: 63)
        func naive(_ x: Tensor<Double>, _ w: Tensor<Double>) -> Tensor<Double> {
            naiveConv2d(x, w, nil, stride: stride, padding: padding, dilation: dilation, groups: 1)
        }
        let y = Tensor.convolution(x, w, geometry)
        #expect((y - naive(x, w)).maxAbsolute() < 1e-12)
        let outputs = Tensor.convolutions(of: [x, dx], [[(0, w)], [(1, w), (0, dw)]], geometry)
        #expect(outputs[0].scalars == y.scalars)
        #expect((outputs[1] - naive(dx, w) - naive(x, dw)).maxAbsolute() < 1e-12)
        // <conv(x, W), g> = <x, input adjoint> = <W, weight adjoint>, term by term and summed.
        let g = randomTensor(y.shape, seed: 64), dg = randomTensor(y.shape, seed: 65)
        let inputAdjoint = Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: input)
        let weightAdjoint = Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: weight)
        #expect(abs(x.dot(inputAdjoint) - y.dot(g)) < 1e-10 * abs(y.dot(g)))
        #expect(abs(w.dot(weightAdjoint) - y.dot(g)) < 1e-10 * abs(y.dot(g)))
        let inputs = Tensor.convolutionInputAdjoint(sum: [(g, w), (dg, dw)], geometry, inputShape: input)
        #expect((inputs - inputAdjoint - Tensor.convolutionInputAdjoint(dg, dw, geometry, inputShape: input)).maxAbsolute() < 1e-12)
        let adjoints = Tensor.convolutionWeightAdjoints(of: [x, dx], [[(g, 0)], [(dg, 0), (g, 1)]], geometry, weightShape: weight)
        #expect(adjoints[0].scalars == weightAdjoint.scalars)
        #expect(abs(dw.dot(adjoints[1]) - naive(x, dw).dot(dg) - naive(dx, dw).dot(g)) < 1e-10 * abs(dw.dot(adjoints[1])))
        // Offsets that reach no input position get no gradient.
        if input[2] == 1 && input[3] == 1 && weight[2] == 3 {
            for o in 0..<weight[0] { for c in 0..<weight[1] { for i in 0..<3 { for j in 0..<3 where (i, j) != (1, 1) {
                #expect(weightAdjoint[o, c, i, j] == 0)
            } } } }
        }
    }

    /// The dense path only where it costs no more than im2col: maps up to kh kw positions, and a bounded matrix.
    @Test func smallMapPathOnlyForMapsNoLargerThanTheKernel() {
        let geometry = WindowGeometry(kernel: (3, 3), padding: (1, 1))
        #expect(SmallMapConvolution(geometry, channels: 512, height: 1, width: 1, outputChannels: 512) != nil)
        #expect(SmallMapConvolution(geometry, channels: 256, height: 2, width: 2, outputChannels: 256) != nil)
        #expect(SmallMapConvolution(geometry, channels: 128, height: 4, width: 4, outputChannels: 128) == nil)
        #expect(SmallMapConvolution(geometry, channels: 1 << 12, height: 3, width: 3, outputChannels: 1 << 12) == nil)
    }

    @Test func kernelsOnTwoWorkersEqualOneWorkerBitForBit() {
        // Many chunks (one sample each) claimed by two workers in whatever order: the same bits as one worker, since
        // each chunk's output and the weight adjoint's chunk-ordered sum depend only on the chunking.
        let geometry = WindowGeometry(kernel: (3, 3), padding: (1, 1))
        let x = randomTensor([9, 2, 5, 6], seed: 4), w = randomTensor([3, 2, 3, 3], seed: 5)
        let g = randomTensor([9, 3, 5, 6], seed: 6)
        func kernels() -> [Tensor<Double>] {
            [Tensor.convolution(x, w, geometry, chunkBytes: 1),
             Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: x.shape, chunkBytes: 1),
             Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape, chunkBytes: 1)]
        }
        let one = BLASThreads.with(1) { kernels() }, two = BLASThreads.with(2) { kernels() }
        for (a, b) in zip(one, two) { #expect(a.scalars == b.scalars) }
        #expect((one[0] - naiveConv2d(x, w, nil, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)).maxAbsolute() < 1e-12)
    }

    /// The dense small-map path (whole-batch GEMMs at the caller's BLAS thread count) and the gather-table im2col give
    /// the same bits on one thread and two: OpenBLAS splits a GEMM's rows and columns among its threads, never the
    /// inner dimension the weight adjoint sums samples over (the 2 x 2 case's GEMMs are above its one-thread threshold).
    @Test(arguments: [[64, 32, 2, 2], [64, 32, 1, 1], [9, 4, 8, 8]])
    func smallMapAndGatherKernelsDoNotDependOnTheThreadCount(input: [Int]) {
        let geometry = WindowGeometry(kernel: (3, 3), padding: (1, 1))
        let x = randomTensor(input, seed: 80), w = randomTensor([16, input[1], 3, 3], seed: 81)
        let g = randomTensor([input[0], 16, input[2], input[3]], seed: 82)
        func kernels() -> [[Double]] {
            [Tensor.convolution(x, w, geometry).scalars,
             Tensor.convolutionInputAdjoint(g, w, geometry, inputShape: x.shape).scalars,
             Tensor.convolutionWeightAdjoint(g, x, geometry, weightShape: w.shape).scalars]
        }
        let one = BLASThreads.with(1) { kernels() }, two = BLASThreads.with(2) { (BLASThreads.count, kernels()) }
        #expect(two.0 == 2)
        #expect(one == two.1)
    }

    @Test func conv1d() {
        let x = randomTensor([2, 4, 9], seed: 1), w = randomTensor([4, 2, 3], seed: 2)
        let y = V.conv1d(V(x), weight: V(w), stride: 2, padding: 1, dilation: 2, groups: 2)
        let expected = naiveConv2d(x.reshaped([2, 4, 1, 9]), w.reshaped([4, 2, 1, 3]), nil, stride: (1, 2), padding: (0, 1),
                                   dilation: (1, 2), groups: 2)
        #expect((y.value - expected.reshaped(y.shape)).maxAbsolute() < 1e-12)
        checkDerivatives("conv1d", [x, w]) { V.conv1d($0[0], weight: $0[1], stride: 2, padding: 1, dilation: 2, groups: 2).sigmoid() }
    }

    @Test func pooling() {
        let x = randomTensor([2, 3, 6, 5], seed: 3)
        let geometry = WindowGeometry(kernel: (2, 3), stride: (2, 1), padding: (1, 1))
        let maxPooled = V(x).maxPool2d(geometry)
        // Value check against a direct loop.
        let (oh, ow) = geometry.outputSize(height: 6, width: 5)
        for s in 0..<2 { for c in 0..<3 { for a in 0..<oh { for b in 0..<ow {
            var best = -Double.infinity, total = 0.0
            for i in 0..<2 { for j in 0..<3 {
                let h = a * 2 - 1 + i, w = b - 1 + j
                if h >= 0 && h < 6 && w >= 0 && w < 5 { best = max(best, x[s, c, h, w]); total += x[s, c, h, w] }
            } }
            #expect(maxPooled.value[s, c, a, b] == best)
            #expect(Swift.abs(V(x).averagePool2d(geometry).value[s, c, a, b] - total / 6) < 1e-14)
        } } } }
        checkDerivatives("max pool", [x]) { $0[0].maxPool2d(geometry).pow(2) }
        checkDerivatives("average pool", [x]) { $0[0].averagePool2d(geometry).tanh() }
        checkDerivatives("global average pool", [x]) { $0[0].mean(alongAxes: [2, 3], keepingDimensions: true).exp() }
    }

    @Test func nonOverlappingMaxPoolingWithoutAGraphEqualsTheRecordedOne() {
        // Without a graph, stride = kernel pooling takes loops of its own (2 x 2 on even sizes: pairs across, then
        // down); a differentiable input takes the gather that records the maxima's positions. Both give the same
        // values, ties and negative values included.
        var x = randomTensor([3, 2, 6, 8], seed: 5)
        x[0, 0, 0, 0] = x[0, 0, 1, 1]
        x[1, 1, 2, 3] = x[1, 1, 3, 3]
        for (kernel, size) in [((2, 2), (6, 8)), ((2, 2), (5, 7)), ((3, 2), (6, 8)), ((2, 2), (2, 2))] {
            let input = x.sliced([0..<3, 0..<2, 0..<size.0, 0..<size.1])
            let geometry = WindowGeometry(kernel: kernel, stride: kernel)
            let plain = V(input).maxPool2d(geometry), recorded = V.differentiable(input).maxPool2d(geometry)
            #expect(plain.value.shape == recorded.value.shape)
            #expect(plain.value.scalars == recorded.value.scalars, "kernel \(kernel), input \(size)")
        }
    }

    @Test func embeddingLookupAndGatherScatter() {
        let table = randomTensor([5, 3], seed: 4)
        let indices = [4, 0, 4, 2]
        let rows = V(table).embeddingLookup(indices, indexShape: [2, 2])
        #expect(rows.shape == [2, 2, 3] && rows.value[0, 0, 1] == table[4, 1] && rows.value[1, 1, 2] == table[2, 2])
        checkDerivatives("embedding", [table]) { $0[0].embeddingLookup(indices, indexShape: [4]).pow(2) }
        checkDerivatives("windows/fold", [randomTensor([1, 2, 4, 4], seed: 5)]) {
            $0[0].windows(WindowGeometry(kernel: (2, 2), stride: (1, 2), padding: (1, 0))).tanh()
                .foldedWindows(WindowGeometry(kernel: (2, 2), stride: (1, 2), padding: (1, 0)), into: [1, 2, 4, 4]).pow(2)
        }
    }
}
