import Foundation
import LinearAlgebra

// Differentiable operations. Each backward rule maps the output's gradient `g` to the inputs' gradients using
// these same operations, so derivatives of any order are available.

extension Variable {
    /// A constant scalar, broadcast against anything.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func constant(_ value: Scalar) -> Variable { Variable(Tensor(repeating: value, shape: [])) }

    // MARK: Broadcasting arithmetic

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (a: Variable, b: Variable) -> Variable {
        let value = Tensor.broadcasting(a.value, b.value, +)
        return make(value, parents: [a, b], tangent: { t in sum(t[0]?.broadcast(to: value.shape), t[1]?.broadcast(to: value.shape)) }) { g in
            [g.summed(toShape: a.shape), g.summed(toShape: b.shape)]
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (a: Variable, b: Variable) -> Variable {
        let value = Tensor.broadcasting(a.value, b.value, -)
        return make(value, parents: [a, b], tangent: { t in sum(t[0]?.broadcast(to: value.shape), t[1].map { (-$0).broadcast(to: value.shape) }) }) { g in
            [g.summed(toShape: a.shape), (-g).summed(toShape: b.shape)]
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (a: Variable, b: Variable) -> Variable {
        make(Tensor.broadcasting(a.value, b.value, *), parents: [a, b], tangent: { t in
            sum(t[0].map { Tensor.broadcasting($0, b.value, *) }, t[1].map { Tensor.broadcasting(a.value, $0, *) })
        }) { g in
            [(g * b).summed(toShape: a.shape), (g * a).summed(toShape: b.shape)]
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (a: Variable, b: Variable) -> Variable {
        let value = Tensor.broadcasting(a.value, b.value, /)
        // d(a / b) = da / b - (a / b) db / b.
        return make(value, parents: [a, b], tangent: { t in
            sum(t[0].map { Tensor.broadcasting($0, b.value, /) },
                t[1].map { Tensor.broadcasting(Tensor.broadcasting(value, $0, *), b.value) { -$0 / $1 } })
        }) { g in
            [(g / b).summed(toShape: a.shape), (-(g * a) / (b * b)).summed(toShape: b.shape)]
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static prefix func - (a: Variable) -> Variable {
        a.makeLinear(-a.value, { -$0 }) { g in [-g] }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (a: Variable, b: Scalar) -> Variable { a + constant(b) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (a: Variable, b: Scalar) -> Variable { a - constant(b) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (a: Variable, b: Scalar) -> Variable { a * constant(b) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (a: Variable, b: Scalar) -> Variable { a / constant(b) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (a: Scalar, b: Variable) -> Variable { constant(a) * b }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (a: Scalar, b: Variable) -> Variable { constant(a) - b }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (a: Scalar, b: Variable) -> Variable { constant(a) / b }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (a: Scalar, b: Variable) -> Variable { constant(a) + b }

    // MARK: Shapes

    /// Sums broadcast axes away so the result has `shape` (the adjoint of broadcasting).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func summed(toShape target: [Int]) -> Variable {
        if shape == target { return self }
        let source = shape
        return makeLinear(value.summed(toShape: target), { $0.summed(toShape: target) }) { g in [g.broadcast(to: source)] }
    }

    /// Repeats along broadcast axes.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func broadcast(to target: [Int]) -> Variable {
        if shape == target { return self }
        let source = shape
        return makeLinear(value.broadcast(to: target), { $0.broadcast(to: target) }) { g in [g.summed(toShape: source)] }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func reshaped(_ newShape: [Int]) -> Variable {
        let source = shape
        return makeLinear(value.reshaped(newShape), { $0.reshaped(newShape) }) { g in [g.reshaped(source)] }
    }

    /// Result axis i is input axis `axes[i]`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func permuted(_ axes: [Int]) -> Variable {
        var inverse = [Int](repeating: 0, count: axes.count)
        for (i, axis) in axes.enumerated() { inverse[axis] = i }
        return makeLinear(value.permuted(axes), { $0.permuted(axes) }) { g in [g.permuted(inverse)] }
    }

    /// Swaps the last two axes.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func transposed() -> Variable {
        var axes = Array(0..<shape.count)
        axes.swapAt(shape.count - 1, shape.count - 2)
        return permuted(axes)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sliced(_ ranges: [Range<Int>]) -> Variable {
        let source = shape
        return makeLinear(value.sliced(ranges), { $0.sliced(ranges) }) { g in [g.embedded(in: source, at: ranges)] }
    }

    /// Zeros of `target` with this tensor written at `ranges` (the adjoint of slicing).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func embedded(in target: [Int], at ranges: [Range<Int>]) -> Variable {
        makeLinear(value.embedded(in: target, at: ranges), { $0.embedded(in: target, at: ranges) }) { g in [g.sliced(ranges)] }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func concatenated(_ parts: [Variable], axis: Int) -> Variable {
        let value = Tensor.concatenated(parts.map(\.value), axis: axis)
        let shape = value.shape
        let tangent = { (t: [Tensor<Scalar>?]) in
            Tensor.concatenated(zip(parts, t).map { $1 ?? Tensor(zeros: $0.shape) }, axis: axis)
        }
        return make(value, parents: parts, tangent: tangent) { g in
            var offset = 0
            return parts.map { part in
                var ranges = shape.map { 0..<$0 }
                ranges[axis] = offset..<(offset + part.shape[axis])
                offset += part.shape[axis]
                return g.sliced(ranges)
            }
        }
    }

    // MARK: Reductions

    /// Sums over `axes` (all when nil).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Variable {
        let reduce = Set(axes ?? Array(0..<shape.count))
        let kept = shape.enumerated().map { reduce.contains($0.offset) ? 1 : $0.element }
        let summed = summed(toShape: kept)
        return keepingDimensions ? summed : summed.reshaped(shape.enumerated().filter { !reduce.contains($0.offset) }.map(\.element))
    }

    /// Means over `axes` (all when nil).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func mean(alongAxes axes: [Int]? = nil, keepingDimensions: Bool = false) -> Variable {
        let reduce = axes ?? Array(0..<shape.count)
        let count = reduce.reduce(1) { $0 * shape[$1] }
        return sum(alongAxes: reduce, keepingDimensions: keepingDimensions) / Scalar(count)
    }

    /// `log sum exp` over `axis`, computed stably with the maximum subtracted.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func logSumExp(alongAxis axis: Int, keepingDimensions: Bool = false) -> Variable {
        // The maximum is a constant shift: it cancels exactly in value and derivatives.
        let kept = shape.enumerated().map { $0.offset == axis ? 1 : $0.element }
        let maximum = Variable(value.maxima(alongAxis: axis).reshaped(kept))
        let result = (self - maximum).exp().sum(alongAxes: [axis], keepingDimensions: true).log() + maximum
        return keepingDimensions ? result : result.reshaped(shape.enumerated().filter { $0.offset != axis }.map(\.element))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func logSoftmax(alongAxis axis: Int) -> Variable {
        self - logSumExp(alongAxis: axis, keepingDimensions: true)
    }

    // MARK: Products

    /// Batched matrix product `[..., m, k] x [..., k, n]`; batch axes broadcast.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func matmul(_ a: Variable, _ b: Variable) -> Variable {
        if b.shape.count == 2 {
            // A batch against one matrix (a linear layer on [batch, tokens, features]) is one tall product, and so
            // are its derivatives: B's gradient is one GEMM over all rows, not a product per batch summed afterwards.
            let k = a.shape[a.shape.count - 1], rows = Array(a.shape.dropLast())
            let flat = a.shape.count == 2 ? a : a.reshaped([rows.reduce(1, *), k])
            let product = matmul(flat, b, transposeA: false, transposeB: false)
            return a.shape.count == 2 ? product : product.reshaped(rows + [b.shape[1]])
        }
        // Batch axes broadcast explicitly (their adjoint sums them back), then one product per matrix of the batch.
        let batch = Shapes.broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        return matmul(a.broadcast(to: batch + a.shape.suffix(2)), b.broadcast(to: batch + b.shape.suffix(2)),
                      transposeA: false, transposeB: false)
    }

    /// `op(a) op(b)` for matrices, or for every matrix of two batches with the same batch axes, op transposing the
    /// last two axes when asked: BLAS reads the operands transposed in place, and the derivatives are products of the
    /// same kind, so no transposed copy is made at any derivative order.
    /// With C = op(A) op(B) and upstream G: for C = A B, dA = G B^T, dB = A^T G; for C = A^T B, dA = B G^T, dB = A G;
    /// for C = A B^T, dA = G B, dB = G^T A; for C = A^T B^T, dA = B^T G^T, dB = G^T A^T.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func matmul(_ a: Variable, _ b: Variable, transposeA: Bool, transposeB: Bool) -> Variable {
        make(LinearAlgebra.matmul(a.value, b.value, transposeA: transposeA, transposeB: transposeB), parents: [a, b], tangent: { t in
            // op(da) op(b) + op(a) op(db), the second GEMM accumulating into the first's result (no separate sum).
            guard var product = t[0].map({ LinearAlgebra.matmul($0, b.value, transposeA: transposeA, transposeB: transposeB) }) else {
                return LinearAlgebra.matmul(a.value, t[1]!, transposeA: transposeA, transposeB: transposeB)
            }
            if let db = t[1] { gemm(alpha: 1, a.value, transposeA: transposeA, db, transposeB: transposeB, beta: 1, into: &product) }
            return product
        }) { g in
            // A constant operand (the data) gets no gradient: skipping it saves a GEMM in every backward pass.
            let (da, db): (() -> Variable, () -> Variable)
            switch (transposeA, transposeB) {
            case (false, false): (da, db) = ({ matmul(g, b, transposeA: false, transposeB: true) }, { matmul(a, g, transposeA: true, transposeB: false) })
            case (true, false): (da, db) = ({ matmul(b, g, transposeA: false, transposeB: true) }, { matmul(a, g, transposeA: false, transposeB: false) })
            case (false, true): (da, db) = ({ matmul(g, b, transposeA: false, transposeB: false) }, { matmul(g, a, transposeA: true, transposeB: false) })
            case (true, true): (da, db) = ({ matmul(b, g, transposeA: true, transposeB: true) }, { matmul(g, a, transposeA: true, transposeB: true) })
            }
            return [a.isDifferentiable ? da() : nil, b.isDifferentiable ? db() : nil]
        }
    }

    /// The sum of all elements of `self * other` (a scalar).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func dot(_ other: Variable) -> Variable { (self * other).sum() }

    // MARK: Elementwise functions

    /// `f(self)` for an elementwise f whose derivative is a function of its value y (exp: y; tanh: 1 - y^2): the
    /// value is computed once, and every derivative order reuses it through a node with the same value, instead of
    /// evaluating f again in each backward pass.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func reusingValue(_ y: Tensor<Scalar>, derivative: @escaping (_ x: Variable, _ y: Variable) -> Variable) -> Variable {
        let x = self
        // f'(x) is computed once, when first needed, and every copy of the node carries the same tangent f'(x) dx.
        let slope = Lazily { derivative(x.detached, Variable(y)).value }
        let tangent = x.tangent.map { $0 * slope.value }
        func node() -> Variable {
            Variable.make(y, parents: [x], known: tangent, tangent: { $0[0]! * slope.value }) { g in [g * derivative(x, node())] }
        }
        return node()
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func elementwise(_ f: (Scalar) -> Scalar, derivative: @escaping (Variable) -> Variable) -> Variable {
        let x = detached
        let slope = Lazily { derivative(x).value }
        return Variable.make(value.map(f), parents: [self], tangent: { $0[0]! * slope.value }) { g in [g * derivative(self)] }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func exp() -> Variable { reusingValue(value.map { Scalar(Foundation.exp(Double($0))) }) { _, y in y } }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func log() -> Variable { elementwise({ Scalar(Foundation.log(Double($0))) }) { 1 / $0 } }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sqrt() -> Variable { elementwise({ $0.squareRoot() }) { 0.5 / $0.sqrt() } }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func tanh() -> Variable {
        reusingValue(value.hyperbolicTangent()) { _, t in 1 - t * t }
    }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sigmoid() -> Variable {
        reusingValue(value.map { Scalar(1 / (1 + Foundation.exp(-Double($0)))) }) { _, s in s * (1 - s) }
    }
    /// The sine; its derivative is the cosine (rotary position embeddings).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sin() -> Variable { elementwise({ Scalar(Foundation.sin(Double($0))) }) { $0.cos() } }
    /// The cosine; its derivative is minus the sine.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func cos() -> Variable { elementwise({ Scalar(Foundation.cos(Double($0))) }) { -$0.sin() } }
    /// The error function; its derivative is `2 / sqrt(pi) exp(-x^2)`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func erf() -> Variable {
        elementwise({ Scalar(Foundation.erf(Double($0))) }) { x in Scalar(2 / Double.pi.squareRoot()) * (-(x * x)).exp() }
    }
    /// `log(1 + exp(x))`, computed stably; its derivative is the sigmoid.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func softplus() -> Variable {
        elementwise({ x in
            let d = Double(x)
            return Scalar(max(d, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(d))))
        }) { $0.sigmoid() }
    }
    /// `x^p` for a constant exponent.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func pow(_ exponent: Scalar) -> Variable {
        elementwise({ Scalar(Foundation.pow(Double($0), Double(exponent))) }) { x in exponent * x.pow(exponent - 1) }
    }

    /// `max(x, 0)`; its derivative is the step function, whose own derivative is zero almost everywhere.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func relu() -> Variable { leakyRelu(slope: 0) }

    /// `x` for x > 0, `slope x` otherwise.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func leakyRelu(slope: Scalar) -> Variable {
        let input = value
        // The mask is built only when a derivative is taken: a plain forward pass skips it.
        return Variable.make(value.mapped { $0 > 0 ? $0 : slope * $0 }, parents: [self], tangent: { t in
            t[0]!.zipMap(input) { $1 > 0 ? $0 : slope * $0 }
        }) { g in
            [g * Variable(input.mapped { $0 > 0 ? 1 : slope })]
        }
    }

    /// GELU with the exact normal CDF: `x Phi(x) = x (1 + erf(x / sqrt 2)) / 2` (PyTorch's default).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gelu() -> Variable {
        // One primitive, not x * 0.5 * (erf(x / sqrt 2) + 1): one pass per value and per tangent instead of five.
        elementwise({ x in
            let d = Double(x)
            return Scalar(d * Self.normalDistribution(d))
        }) { $0.geluSlope() }
    }

    /// GELU's derivative `Phi(x) + x phi(x)`, phi the standard normal density.
    func geluSlope() -> Variable {
        elementwise({ x in
            let d = Double(x)
            return Scalar(Self.normalDistribution(d) + d * Self.normalDensity(d))
        }) { $0.geluCurvature() }
    }

    /// GELU's second derivative `phi(x) (2 - x^2)`; its own derivative is `phi(x) (x^3 - 4 x)`.
    func geluCurvature() -> Variable {
        elementwise({ x in
            let d = Double(x)
            return Scalar(Self.normalDensity(d) * (2 - d * d))
        }) { x in (x * x * x - x * 4) * (x * x * -0.5).exp() * Scalar(Self.normalDensity(0)) }
    }

    /// The standard normal distribution function `Phi(x) = (1 + erf(x / sqrt 2)) / 2`.
    private static func normalDistribution(_ x: Double) -> Double { 0.5 * (1 + Foundation.erf(x / 2.0.squareRoot())) }

    /// The standard normal density `exp(-x^2 / 2) / sqrt(2 pi)`.
    private static func normalDensity(_ x: Double) -> Double { Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot() }

    /// GELU's tanh approximation: `x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2` (PyTorch's approximate="tanh").
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func geluTanh() -> Variable {
        let cubic = Scalar(0.044715), scale = Scalar((2 / Double.pi).squareRoot()), half = Scalar(0.5), one = Scalar(1)
        let inner = (self + self.pow(3) * cubic) * scale
        return self * half * (inner.tanh() + one)
    }
}

extension Tensor {
    /// Calls `line(index, base, extent, stride)` for every line along `axis`, in order: its index among the lines, its
    /// first element's offset, its length and the distance between its elements.
    func forEachLine(alongAxis axis: Int, _ line: (Int, Int, Int, Int) -> Void) {
        let outer = shape[..<axis].reduce(1, *), extent = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner { line(o * inner + i, o * extent * inner + i, extent, inner) }
        }
    }

    /// The maximum over `axis`, removed from the shape.
    func maxima(alongAxis axis: Int) -> Tensor {
        var newShape = shape
        newShape.remove(at: axis)
        var result = [Scalar](repeating: -.infinity, count: newShape.reduce(1, *))
        withUnsafeBufferPointer { px in
            forEachLine(alongAxis: axis) { index, base, extent, stride in
                for k in 0..<extent { result[index] = Swift.max(result[index], px[base + k * stride]) }
            }
        }
        return Tensor(shape: newShape, scalars: result)
    }
}

extension Variable {
    /// `condition ? a : b` elementwise with broadcasting (ONNX Where); `condition` is a constant 0/1 mask. A select,
    /// not a blend, so an infinite branch that is not selected does not turn into NaN.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func selecting(_ condition: Tensor<Scalar>, _ a: Variable, _ b: Variable) -> Variable {
        let shape = Shapes.broadcast(Shapes.broadcast(condition.shape, a.shape), b.shape)
        let mask = condition.broadcast(to: shape)
        let chosen = zip(mask.scalars, zip(a.value.broadcast(to: shape).scalars, b.value.broadcast(to: shape).scalars)).map { $0 != 0 ? $1.0 : $1.1 }
        let keep = Variable(mask), other = Variable(mask.map { $0 != 0 ? 0 : 1 })
        let tangent = { (t: [Tensor<Scalar>?]) in
            sum(t[0].map { Tensor.broadcasting($0.broadcast(to: shape), mask, *) }, t[1].map { Tensor.broadcasting($0.broadcast(to: shape), other.value, *) })
        }
        return make(Tensor(shape: shape, scalars: chosen), parents: [a, b], tangent: tangent) { g in
            [(g * keep).summed(toShape: a.shape), (g * other).summed(toShape: b.shape)]
        }
    }
}

/// A value computed on first use and kept: a derivative that tangent rules may need once or many times.
final class Lazily<Value>: @unchecked Sendable {
    // @unchecked: used by the one computation that creates it.
    private let compute: () -> Value
    private var stored: Value?
    init(_ compute: @escaping () -> Value) { self.compute = compute }
    var value: Value {
        if let stored { return stored }
        let computed = compute()
        stored = computed
        return computed
    }
}
