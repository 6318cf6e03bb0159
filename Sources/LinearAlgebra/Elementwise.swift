// Elementwise and reduction kernels. Each is a plain loop over contiguous storage, which the compiler
// vectorises in release builds; shapes must match exactly (broadcasting belongs to the autodiff ops).

extension Tensor {
    @inline(__always)
    private func checkSameShape(_ other: Tensor, _ operation: String) {
        precondition(shape == other.shape, "\(operation): shapes \(shape) and \(other.shape) differ")
    }

    /// A new tensor whose elements are `transform` applied to `self`'s and `other`'s.
    @inlinable
    public func zipMap(_ other: Tensor, _ transform: (Scalar, Scalar) -> Scalar) -> Tensor {
        precondition(shape == other.shape, "zipMap: shapes \(shape) and \(other.shape) differ")
        let result = [Scalar](unsafeUninitializedCapacity: count) { c, initialized in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    for i in 0..<c.count { c.initializeElement(at: i, to: transform(a[i], b[i])) }
                }
            }
            initialized = c.count
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// A new tensor whose elements are `transform` applied to `self`'s.
    @inlinable
    public func map(_ transform: (Scalar) -> Scalar) -> Tensor {
        let result = [Scalar](unsafeUninitializedCapacity: count) { c, initialized in
            scalars.withUnsafeBufferPointer { a in
                for i in 0..<c.count { c.initializeElement(at: i, to: transform(a[i])) }
            }
            initialized = c.count
        }
        return Tensor(shape: shape, scalars: result)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, +) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, -) }
    /// Elementwise (Hadamard) product.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, *) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zipMap(rhs, /) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (lhs: Scalar, rhs: Tensor) -> Tensor { rhs.map { lhs * $0 } }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func * (lhs: Tensor, rhs: Scalar) -> Tensor { lhs.map { $0 * rhs } }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static prefix func - (operand: Tensor) -> Tensor { operand.map { -$0 } }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func += (lhs: inout Tensor, rhs: Tensor) { lhs.addScaled(rhs, by: 1) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func -= (lhs: inout Tensor, rhs: Tensor) { lhs.addScaled(rhs, by: -1) }
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func *= (lhs: inout Tensor, rhs: Scalar) {
        lhs.storage.withUnsafeMutableBufferPointer { a in
            for i in 0..<a.count { a[i] *= rhs }
        }
    }

    /// `self += alpha * x` in place (BLAS axpy semantics).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func addScaled(_ x: Tensor, by alpha: Scalar) {
        checkSameShape(x, "addScaled")
        x.scalars.withUnsafeBufferPointer { b in
            storage.withUnsafeMutableBufferPointer { a in
                for i in 0..<a.count { a[i] += alpha * b[i] }
            }
        }
    }

    /// The sum of all elements, accumulated pairwise in blocks for accuracy.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum() -> Scalar {
        scalars.withUnsafeBufferPointer { Tensor.pairwiseSum($0) }
    }

    /// The arithmetic mean of all elements (NaN for an empty tensor).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func mean() -> Scalar { count == 0 ? .nan : sum() / Scalar(count) }

    /// The Euclidean inner product of the flattened tensors.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func dot(_ other: Tensor) -> Scalar {
        checkSameShape(other, "dot")
        return scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                Tensor.pairwiseSum(count: a.count) { a[$0] * b[$0] }
            }
        }
    }

    /// The Euclidean (Frobenius) norm of the flattened tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func norm() -> Scalar { dot(self).squareRoot() }

    /// The largest absolute element (0 for an empty tensor).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func maxAbsolute() -> Scalar {
        scalars.withUnsafeBufferPointer { a in
            var result: Scalar = 0
            for value in a { result = Swift.max(result, Swift.abs(value)) }
            return result
        }
    }

    /// Sums over `axis`, removing it from the shape.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func sum(alongAxis axis: Int) -> Tensor {
        precondition(axis >= 0 && axis < rank, "Axis \(axis) out of range for shape \(shape)")
        let outer = Tensor.elementCount(Array(shape[..<axis]))
        let extent = shape[axis]
        let inner = Tensor.elementCount(Array(shape[(axis + 1)...]))
        var result = [Scalar](repeating: 0, count: outer * inner)
        scalars.withUnsafeBufferPointer { a in
            result.withUnsafeMutableBufferPointer { c in
                for o in 0..<outer {
                    for k in 0..<extent {
                        let base = (o * extent + k) * inner
                        for i in 0..<inner { c[o * inner + i] += a[base + i] }
                    }
                }
            }
        }
        var newShape = shape
        newShape.remove(at: axis)
        return Tensor(shape: newShape, scalars: result)
    }

    /// Sum of `term(0) ... term(count - 1)`: plain loops over blocks of 256 (vectorised), blocks summed pairwise,
    /// so rounding error grows like log(n) rather than n.
    @inline(__always)
    static func pairwiseSum(count: Int, _ term: (Int) -> Scalar) -> Scalar {
        pairwiseSum(from: 0, count: count, term)
    }

    private static func pairwiseSum(from start: Int, count: Int, _ term: (Int) -> Scalar) -> Scalar {
        let block = 256
        if count <= block {
            var total: Scalar = 0
            for i in start..<(start + count) { total += term(i) }
            return total
        }
        let half = (count / block / 2) * block
        let leftCount = Swift.max(half, block)
        return pairwiseSum(from: start, count: leftCount, term)
            + pairwiseSum(from: start + leftCount, count: count - leftCount, term)
    }

    static func pairwiseSum(_ values: UnsafeBufferPointer<Scalar>) -> Scalar {
        pairwiseSum(count: values.count) { values[$0] }
    }
}
