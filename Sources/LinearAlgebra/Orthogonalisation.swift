/// Gram-Schmidt against many long vectors at memory speed (the Lanczos basis of an 11M-parameter model holds
/// hundreds of megabytes per vector).
extension Tensor where Scalar == Double {
    /// Coordinates per chunk: the chunk of `self` stays in cache while every basis vector's chunk streams past.
    static let projectionChunk = 8192

    /// `self` minus its projections on the orthonormal `vectors`, by classical Gram-Schmidt applied `passes` times
    /// (twice is as accurate as modified Gram-Schmidt twice, Giraud et al. 2005); returns the result's norm. Each pass
    /// reads every vector twice, chunk by chunk on ``ParallelLoop``'s workers, where modified Gram-Schmidt reads it
    /// twice and `self` three times per vector. The coefficients add the chunks' partial dot products in chunk order,
    /// so the result does not depend on the thread count.
    @discardableResult
    public mutating func subtractProjections(on vectors: [Tensor<Double>], passes: Int = 2) -> Double {
        subtractProjections(onStored: vectors, passes: passes)
    }

    /// The same on orthonormal vectors stored in Float (a Lanczos basis of an operator evaluated in Float, at half
    /// the memory): the coefficients and the update are computed in Double.
    @discardableResult
    public mutating func subtractProjections(on vectors: [Tensor<Float>], passes: Int = 2) -> Double {
        subtractProjections(onStored: vectors, passes: passes)
    }

    /// `self - sum_i coefficients[i] vectors[i]` (zero coefficients skip their vector) in one pass over `self`, on
    /// ``ParallelLoop``'s workers; returns the result's norm, summed in chunk order.
    @discardableResult
    public mutating func subtract(_ coefficients: [Double], of vectors: [Tensor<Double>]) -> Double {
        subtractCombination(coefficients, of: vectors)
    }

    /// The same for vectors stored in Float, in Double.
    @discardableResult
    public mutating func subtract(_ coefficients: [Double], of vectors: [Tensor<Float>]) -> Double {
        subtractCombination(coefficients, of: vectors)
    }

    /// The inner product with `other` in chunks on ``ParallelLoop``'s workers, their partial sums added in chunk
    /// order (so it does not depend on the thread count): for vectors of millions of coordinates, where ``dot(_:)``
    /// runs on one thread.
    public func chunkedDot(_ other: Tensor<Double>) -> Double {
        precondition(other.count == count, "chunkedDot: lengths \(count) and \(other.count)")
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                Self.chunkSums(count) { Self.chunkDot(a.baseAddress! + $0.lowerBound, b.baseAddress! + $0.lowerBound, $0.count) }
            }
        }
    }

    /// `rows.map { sum_i row[i] vectors[i] }` in one pass over the vectors, chunk by chunk on ``ParallelLoop``'s
    /// workers (each chunk of every vector read once for all the rows): Ritz vectors from a Lanczos basis.
    public static func combinations(_ rows: [[Double]], of vectors: [Tensor<Float>]) -> [Tensor<Double>] {
        combinations(rows, ofStored: vectors)
    }

    /// The same for vectors stored in Double.
    public static func combinations(_ rows: [[Double]], of vectors: [Tensor<Double>]) -> [Tensor<Double>] {
        combinations(rows, ofStored: vectors)
    }

    @_specialize(where Stored == Float)
    @_specialize(where Stored == Double)
    private static func combinations<Stored: TensorScalar & SIMDScalar>(_ rows: [[Double]], ofStored vectors: [Tensor<Stored>]) -> [Tensor<Double>] {
        let n = vectors.first?.count ?? 0
        precondition(vectors.allSatisfy { $0.count == n } && rows.allSatisfy { $0.count == vectors.count },
                     "combinations: \(rows.count) rows for \(vectors.count) vectors")
        let outputs = [Double].uninitialized(rows.count, size: n) { targets in
            nonisolated(unsafe) let targets = targets
            _ = chunkSums(n) { range in
                for target in targets { (target + range.lowerBound).initialize(repeating: 0, count: range.count) }
                for (i, vector) in vectors.enumerated() {
                    vector.withUnsafeBufferPointer { u in
                        for (target, row) in zip(targets, rows) where row[i] != 0 {
                            let c = row[i]
                            for k in range { target[k] += c * Double(u[k]) }
                        }
                    }
                }
                return 0
            }
        }
        return outputs.map { Tensor<Double>(shape: [n], scalars: $0) }
    }

    @_specialize(where Stored == Float)
    @_specialize(where Stored == Double)
    private mutating func subtractProjections<Stored: TensorScalar & SIMDScalar>(onStored vectors: [Tensor<Stored>], passes: Int) -> Double {
        guard !vectors.isEmpty, passes > 0 else { return chunkedDot(self).squareRoot() }
        let n = count, m = vectors.count
        let chunk = Self.projectionChunk, chunks = (n + chunk - 1) / chunk
        precondition(vectors.allSatisfy { $0.count == n }, "subtractProjections: vectors of other lengths than \(n)")
        var norm = 0.0
        for _ in 0..<passes {
            var partials = [Double](repeating: 0, count: chunks * m)
            withUnsafeBufferPointer { w in
                partials.withUnsafeMutableBufferPointer { partial in
                    nonisolated(unsafe) let (w, partial) = (w, partial)
                    ParallelLoop.forEach(chunks, state: { () }) { _, c in
                        let start = c * chunk, length = Swift.min(chunk, n - start)
                        for (i, vector) in vectors.enumerated() {
                            partial[c * m + i] = vector.withUnsafeBufferPointer { Self.chunkDot($0.baseAddress! + start, w.baseAddress! + start, length) }
                        }
                    }
                }
            }
            var coefficients = [Double](repeating: 0, count: m)
            for c in 0..<chunks { for i in 0..<m { coefficients[i] += partials[c * m + i] } }
            norm = subtractCombination(coefficients, of: vectors)
        }
        return norm
    }

    @_specialize(where Stored == Float)
    @_specialize(where Stored == Double)
    private mutating func subtractCombination<Stored: TensorScalar & SIMDScalar>(_ coefficients: [Double], of vectors: [Tensor<Stored>]) -> Double {
        precondition(vectors.count == coefficients.count && vectors.allSatisfy { $0.count == count },
                     "subtract: \(coefficients.count) coefficients for \(vectors.count) vectors of \(count) coordinates")
        let n = count
        return withUnsafeMutableBufferPointer { w in
            nonisolated(unsafe) let w = w
            return Self.chunkSums(n) { range in
                for (vector, c) in zip(vectors, coefficients) where c != 0 {
                    vector.withUnsafeBufferPointer { u in
                        for k in range { w[k] -= c * Double(u[k]) }
                    }
                }
                return Self.chunkDot(w.baseAddress! + range.lowerBound, w.baseAddress! + range.lowerBound, range.count)
            }.squareRoot()
        }
    }

    /// `sum` of `body(range)` over ``projectionChunk``-sized ranges of `0..<n`, run on ``ParallelLoop``'s workers and
    /// added in chunk order, so the total does not depend on the thread count.
    private static func chunkSums(_ n: Int, _ body: (Range<Int>) -> Double) -> Double {
        let chunk = projectionChunk, chunks = (n + chunk - 1) / chunk
        var partials = [Double](repeating: 0, count: chunks)
        partials.withUnsafeMutableBufferPointer { partial in
            nonisolated(unsafe) let partial = partial
            ParallelLoop.forEach(chunks, state: { () }) { _, c in partial[c] = body(c * chunk..<Swift.min(n, (c + 1) * chunk)) }
        }
        return partials.reduce(0, +)
    }

    /// `self += alpha * x` for a vector stored in Float (a Ritz vector from a Float basis), in Double.
    public mutating func addScaled(_ x: Tensor<Float>, by alpha: Double) {
        precondition(x.shape == shape, "addScaled: shapes \(x.shape) and \(shape) differ")
        x.withUnsafeBufferPointer { b in
            withUnsafeMutableBufferPointer { a in
                for i in 0..<a.count { a[i] += alpha * Double(b[i]) }
            }
        }
    }

    /// The dot product of `count` elements, in Double, in eight lanes.
    @_specialize(where Stored == Float)
    @_specialize(where Stored == Double)
    static func chunkDot<Stored: TensorScalar & SIMDScalar>(_ a: UnsafePointer<Stored>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
        var lanes = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            lanes += SIMD8<Double>(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Stored>.self)) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Double>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += Double(a[i]) * b[i]
            i += 1
        }
        return total
    }
}
