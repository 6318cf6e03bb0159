import Foundation
import LinearAlgebra

// Tensor kernels the differentiable operations are built from: broadcasting (NumPy rules), reductions, axis
// permutations, concatenation, slicing. Plain loops over contiguous storage. (Matrix products, batched or not, are
// LinearAlgebra's `matmul` and `gemm`.)

enum Shapes {
    /// NumPy broadcasting: align trailing axes; extents must match or be 1.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        return zip(pa, pb).map { x, y in
            precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
            return x == 1 ? y : x  // 1 against 0 is 0: an empty axis stays empty
        }
    }

    /// Row-major strides of `shape` as seen from a broadcast `target` shape: 0 on broadcast axes.
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        var strides = [Int](repeating: 0, count: target.count)
        var step = 1
        for axis in stride(from: target.count - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 && target[axis] != 1 ? 0 : step
            step *= padded[axis]
        }
        return strides
    }
}

/// Calls `body(outputOffset, offsetA, offsetB)` for every element of `shape` in row-major order, with the offsets
/// of two strided operands.
@inline(__always)
func forEachElement(shape: [Int], stridesA: [Int], stridesB: [Int], _ body: (Int, Int, Int) -> Void) {
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    let rank = shape.count
    guard rank > 0 else {
        body(0, 0, 0)
        return
    }
    var index = [Int](repeating: 0, count: rank)
    var offsetA = 0, offsetB = 0
    let inner = shape[rank - 1], innerA = stridesA[rank - 1], innerB = stridesB[rank - 1]
    var output = 0
    while output < count {
        var a = offsetA, b = offsetB
        for _ in 0..<inner {
            body(output, a, b)
            output += 1
            a += innerA
            b += innerB
        }
        // Advance the outer axes.
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            offsetA += stridesA[axis]
            offsetB += stridesB[axis]
            if index[axis] < shape[axis] { break }
            offsetA -= stridesA[axis] * shape[axis]
            offsetB -= stridesB[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

extension Tensor {
    /// `op(a, b)` elementwise with NumPy broadcasting.
    /// Inlined into each operator so that `op` compiles into the loops.
    @inline(__always)
    public static func broadcasting(_ a: Tensor, _ b: Tensor, _ op: (Scalar, Scalar) -> Scalar) -> Tensor {
        let shape = a.shape == b.shape ? a.shape : Shapes.broadcast(a.shape, b.shape)
        let sa = Shapes.broadcastStrides(a.shape, to: shape), sb = Shapes.broadcastStrides(b.shape, to: shape)
        // The common case (a bias or a BatchNorm statistic per channel): `a` already has the result's shape and `b`
        // is constant along a trailing run of `run` elements, or `b` is the same shape (one run of everything).
        var run = 1, axis = shape.count - 1
        while axis >= 0 && (sb[axis] == 0 || a.shape == b.shape) && a.shape == shape {
            run *= shape[axis]
            axis -= 1
        }
        // Every element is written below, so the storage starts uninitialised (no memset).
        let result = [Scalar](unsafeUninitializedCapacity: shape.reduce(1, *)) { pc, initialized in
            initialized = pc.count
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    if a.shape == b.shape {
                        for k in 0..<pc.count { pc[k] = op(pa[k], pb[k]) }
                    } else if run >= 4 {
                        let outer = Array(shape[...axis]), outerB = Array(sb[...axis])
                        forEachElement(shape: outer, stridesA: outerB, stridesB: outerB) { o, j, _ in
                            let base = o * run, constant = pb[j]
                            for k in base..<(base + run) { pc[k] = op(pa[k], constant) }
                        }
                    } else {
                        forEachElement(shape: shape, stridesA: sa, stridesB: sb) { o, i, j in pc[o] = op(pa[i], pb[j]) }
                    }
                }
            }
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// `transform` applied to every element; inlined so that `transform` compiles into the loop (LinearAlgebra's
    /// `map` calls it through a closure).
    @inline(__always)
    func mapped(_ transform: (Scalar) -> Scalar) -> Tensor {
        let result = [Scalar](unsafeUninitializedCapacity: count) { c, initialized in
            withUnsafeBufferPointer { a in
                for i in 0..<c.count { c.initializeElement(at: i, to: transform(a[i])) }
            }
            initialized = c.count
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// Sums a broadcast tensor back down to `shape` (the adjoint of broadcasting to `self.shape`).
    func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let padded = [Int](repeating: 1, count: max(0, rank - target.count)) + target
        precondition(padded.count == rank && zip(padded, shape).allSatisfy { $0 == $1 || $0 == 1 },
                     "cannot sum \(shape) to \(target)")
        // Runs of neighbouring axes that are all kept or all summed merge into one axis (size-1 axes join either),
        // so every case is an alternation of kept and summed blocks, the innermost one contiguous: a bias's
        // gradient sums rows, a per-channel sum sums contiguous blocks, a LayerNorm's statistics sum row ends.
        var blocks: [(size: Int, isSummed: Bool)] = []
        for (size, kept) in zip(shape, padded) where size != 1 {
            let isSummed = kept == 1
            if let last = blocks.last, last.isSummed == isSummed { blocks[blocks.count - 1].size *= size } else { blocks.append((size, isSummed)) }
        }
        var result = [Scalar](repeating: 0, count: target.reduce(1, *))
        guard count > 0 else { return Tensor(shape: target, scalars: result) }
        let inner = blocks.last ?? (size: 1, isSummed: false), outer = Array(blocks.dropLast())
        withUnsafeBufferPointer { px in
            result.withUnsafeMutableBufferPointer { pr in
                var index = [Int](repeating: 0, count: outer.count)
                var input = 0, output = 0
                while input < count {
                    if inner.isSummed {
                        var sum: Scalar = 0
                        for k in 0..<inner.size { sum += px[input + k] }
                        pr[output] += sum
                    } else {
                        for k in 0..<inner.size { pr[output + k] += px[input + k] }
                    }
                    input += inner.size
                    // Advance the outer blocks; a kept block moves the output by the kept size inside it.
                    var axis = outer.count - 1, keptInside = inner.isSummed ? 1 : inner.size
                    while axis >= 0 {
                        index[axis] += 1
                        if !outer[axis].isSummed { output += keptInside }
                        if index[axis] < outer[axis].size { break }
                        if !outer[axis].isSummed { output -= keptInside * outer[axis].size }
                        index[axis] = 0
                        if !outer[axis].isSummed { keptInside *= outer[axis].size }
                        axis -= 1
                    }
                }
            }
        }
        return Tensor(shape: target, scalars: result)
    }

    /// Repeats along broadcast axes to `target`.
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        return Tensor.broadcasting(Tensor(zeros: target), self) { _, x in x }
    }

    /// Axes reordered: result axis i is input axis `axes[i]`.
    func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "permutation \(axes) does not fit rank \(rank)")
        let newShape = axes.map { shape[$0] }
        var inputStrides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * shape[axis + 1] }
        let strides = axes.map { inputStrides[$0] }
        var result = [Scalar](repeating: 0, count: count)
        withUnsafeBufferPointer { px in
            result.withUnsafeMutableBufferPointer { pr in
                if axes.last == rank - 1 && rank > 1 {
                    // The last axis stays last: whole rows move.
                    let row = shape[rank - 1]
                    let outer = Array(newShape.dropLast()), outerStrides = Array(strides.dropLast())
                    forEachElement(shape: outer, stridesA: outerStrides, stridesB: outerStrides) { o, i, _ in
                        for k in 0..<row { pr[o * row + k] = px[i + k] }
                    }
                } else {
                    forEachElement(shape: newShape, stridesA: strides, stridesB: strides) { o, i, _ in pr[o] = px[i] }
                }
            }
        }
        return Tensor(shape: newShape, scalars: result)
    }

    /// The sub-tensor `ranges[axis]` on every axis.
    func sliced(_ ranges: [Range<Int>]) -> Tensor {
        precondition(ranges.count == rank && zip(ranges, shape).allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= $1 },
                     "slice \(ranges) out of bounds for shape \(shape)")
        let newShape = ranges.map(\.count)
        var strides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        let start = zip(ranges, strides).reduce(0) { $0 + $1.0.lowerBound * $1.1 }
        var result = [Scalar](repeating: 0, count: newShape.reduce(1, *))
        withUnsafeBufferPointer { px in
            result.withUnsafeMutableBufferPointer { pr in
                forEachElement(shape: newShape, stridesA: strides, stridesB: strides) { o, i, _ in pr[o] = px[start + i] }
            }
        }
        return Tensor(shape: newShape, scalars: result)
    }

    /// Zeros of `shape` with `self` written at `ranges` (the adjoint of slicing).
    func embedded(in shape: [Int], at ranges: [Range<Int>]) -> Tensor {
        var result = [Scalar](repeating: 0, count: shape.reduce(1, *))
        write(into: &result, shape: shape, at: ranges)
        return Tensor(shape: shape, scalars: result)
    }

    /// Copies this tensor into the region `ranges` of a row-major buffer of `shape`.
    private func write(into buffer: inout [Scalar], shape: [Int], at ranges: [Range<Int>]) {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        let start = zip(ranges, strides).reduce(0) { $0 + $1.0.lowerBound * $1.1 }
        withUnsafeBufferPointer { px in
            buffer.withUnsafeMutableBufferPointer { pr in
                forEachElement(shape: self.shape, stridesA: strides, stridesB: strides) { o, i, _ in pr[start + i] = px[o] }
            }
        }
    }

    /// Tensors joined along `axis` (all other extents equal), each written once into the result.
    static func concatenated(_ parts: [Tensor], axis: Int) -> Tensor {
        var shape = parts[0].shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        var result = [Scalar](repeating: 0, count: shape.reduce(1, *))
        var offset = 0
        for part in parts {
            var ranges = shape.map { 0..<$0 }
            ranges[axis] = offset..<(offset + part.shape[axis])
            part.write(into: &result, shape: shape, at: ranges)
            offset += part.shape[axis]
        }
        return Tensor(shape: shape, scalars: result)
    }
}

/// tanh in single precision by Eigen's rational approximation (degree 13 over degree 6 on [-7.905, 7.905], +-1
/// outside; x itself below 4e-4): maximum relative error 4e-7, about 3 ulp, against libm's double tanh. Unlike the
/// libm call it compiles to straight-line arithmetic that the loop vectorises.
@inline(__always)
func rationalTanh(_ value: Float) -> Float {
    guard abs(value) >= 0.0004 else { return value }
    let x = min(max(value, -7.90531110763549805), 7.90531110763549805)
    let x2 = x * x
    var p: Float = -2.76076847742355e-16
    p = p * x2 + 2.00018790482477e-13
    p = p * x2 - 8.60467152213735e-11
    p = p * x2 + 5.12229709037114e-08
    p = p * x2 + 1.48572235717979e-05
    p = p * x2 + 6.37261928875436e-04
    p = p * x2 + 4.89352455891786e-03
    var q: Float = 1.19825839466702e-06
    q = q * x2 + 1.18534705686654e-04
    q = q * x2 + 2.26843463243900e-03
    q = q * x2 + 4.89352518554385e-03
    return x * p / q
}

extension Tensor {
    /// tanh of every element: ``rationalTanh(_:)`` in Float, libm in Double.
    func hyperbolicTangent() -> Tensor {
        if let single = self as? Tensor<Float> { return single.mapped(rationalTanh) as! Tensor }
        return mapped { Scalar(Foundation.tanh(Double($0))) }
    }
}
