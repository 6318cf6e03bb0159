/// A dense, row-major, n-dimensional array of `Float` or `Double`.
///
/// `Tensor` is a value type: its storage is a Swift array, so copies share memory until one of them
/// is written to (copy-on-write). The last axis is contiguous; a rank-0 tensor holds one scalar.
public struct Tensor<Scalar: TensorScalar>: Sendable, Equatable {
    /// The extent of each axis.
    public let shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)` always holds.
    public var scalars: [Scalar] { storage }
    // Internal so the shape invariant holds; usable from inlinable kernels so they specialise across modules.
    @usableFromInline var storage: [Scalar]

    /// A tensor with the given shape and row-major elements.
    ///
    /// - Precondition: no extent is negative and `scalars.count` is the product of `shape`.
    @inlinable
    public init(shape: [Int], scalars: [Scalar]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "Tensor shape \(shape) needs \(Tensor.elementCount(shape)) elements, got \(scalars.count)")
        self.shape = shape
        self.storage = scalars
    }

    /// A tensor of the given shape with every element equal to `value`. Specialised: generic callers (`Objective`'s
    /// sums of 11M-element gradients) otherwise filled it one value-witness copy at a time.
    @inlinable
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(repeating value: Scalar, shape: [Int]) {
        self.init(shape: shape, scalars: Array(repeating: value, count: Tensor.elementCount(shape)))
    }

    /// A tensor of zeros.
    @inlinable
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// A rank-1 tensor holding `scalars`.
    public init(_ scalars: [Scalar]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-2 tensor from its rows, which must all have the same length.
    public init(rows: [[Scalar]]) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns }, "Rows of unequal length")
        self.init(shape: [rows.count, columns], scalars: rows.flatMap { $0 })
    }

    /// The product of the extents (1 for a rank-0 shape).
    @inlinable
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The number of axes.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { scalars.count }

    /// The row-major offset of a multi-index.
    @inlinable
    public func offset(of indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "Index rank \(indices.count) differs from tensor rank \(shape.count)")
        var offset = 0
        for (index, extent) in zip(indices, shape) {
            precondition(index >= 0 && index < extent, "Index \(indices) out of range for shape \(shape)")
            offset = offset * extent + index
        }
        return offset
    }

    /// The element at a multi-index.
    public subscript(_ indices: Int...) -> Scalar {
        get { storage[offset(of: indices)] }
        set { storage[offset(of: indices)] = newValue }
    }

    /// The same elements viewed with another shape of equal element count.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Calls `body` with the elements' storage for reading.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements' storage for writing (copying it first if it is shared).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor {
    /// Row `index` of a rank-2 tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func row(_ index: Int) -> [Scalar] {
        precondition(rank == 2, "row(_:) needs a rank-2 tensor, got shape \(shape)")
        precondition(index >= 0 && index < shape[0], "Row \(index) out of range for shape \(shape)")
        let columns = shape[1]
        return Array(scalars[(index * columns)..<((index + 1) * columns)])
    }

    /// Rows `range` along the first axis (a contiguous copy), other axes unchanged.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of shape \(shape)")
        let width = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + shape.dropFirst(), scalars: Array(scalars[(range.lowerBound * width)..<(range.upperBound * width)]))
    }

    /// The transpose of a rank-2 tensor.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed() needs a rank-2 tensor, got shape \(shape)")
        let (rows, columns) = (shape[0], shape[1])
        var result = [Scalar](repeating: 0, count: count)
        scalars.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                // Blocked so both sides stay in cache for large matrices.
                let block = 32
                for rowStart in stride(from: 0, to: rows, by: block) {
                    for columnStart in stride(from: 0, to: columns, by: block) {
                        for row in rowStart..<min(rowStart + block, rows) {
                            for column in columnStart..<min(columnStart + block, columns) {
                                target[column * rows + row] = source[row * columns + column]
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [columns, rows], scalars: result)
    }

    /// The n x n identity matrix.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public static func identity(_ n: Int) -> Tensor {
        var result = Tensor(zeros: [n, n])
        for i in 0..<n { result.storage[i * n + i] = 1 }
        return result
    }

    /// The same values in another floating-point precision.
    public func converted<Other: TensorScalar>(to _: Other.Type = Other.self) -> Tensor<Other> {
        // Float <-> Double by concrete loops: the generic conversion goes through BinaryFloatingPoint's generic
        // initialiser per element, a few nanoseconds each (a Lanczos step converts its 11M-coordinate vectors twice).
        if Other.self == Scalar.self { return unsafeBitCast(self, to: Tensor<Other>.self) }
        if Scalar.self == Double.self, Other.self == Float.self {
            let values = unsafeBitCast(scalars, to: [Double].self).map { Float($0) }
            return Tensor<Other>(shape: shape, scalars: unsafeBitCast(values, to: [Other].self))
        }
        if Scalar.self == Float.self, Other.self == Double.self {
            let values = unsafeBitCast(scalars, to: [Float].self).map { Double($0) }
            return Tensor<Other>(shape: shape, scalars: unsafeBitCast(values, to: [Other].self))
        }
        return Tensor<Other>(shape: shape, scalars: scalars.map { Other($0) })
    }

    /// The tensors' elements one after another, as a rank-1 tensor: one bulk copy per tensor.
    public init(concatenating tensors: [Tensor]) {
        var values: [Scalar] = []
        values.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for tensor in tensors { values.append(contentsOf: tensor.scalars) }
        self.init(values)
    }
}

extension Array where Element: TensorScalar {
    /// `count` arrays of `size` elements, uninitialised, written by `body` through their base addresses, all at once
    /// (a kernel that writes several outputs in one pass over its inputs), without a copy.
    public static func uninitialized(_ count: Int, size: Int, _ body: ([UnsafeMutablePointer<Element>]) -> Void) -> [[Element]] {
        func nest(_ pointers: [UnsafeMutablePointer<Element>]) -> [[Element]] {
            guard pointers.count < count else {
                body(pointers)
                return []
            }
            var rest: [[Element]] = []
            let array = [Element](unsafeUninitializedCapacity: Swift.max(1, size)) { buffer, initialized in
                rest = nest(pointers + [buffer.baseAddress!])
                initialized = size
            }
            return [array] + rest
        }
        return nest([])
    }
}
