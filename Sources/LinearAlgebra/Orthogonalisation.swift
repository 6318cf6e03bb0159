/// Gram-Schmidt against many long vectors at memory speed (the Lanczos basis of an 11M-parameter model holds
/// hundreds of megabytes per vector).
extension Tensor where Scalar == Double {
    /// Coordinates per chunk: the chunk of `self` stays in cache while every basis vector's chunk streams past.
    static let projectionChunk = 8192

    /// `self` minus its projections on the orthonormal `vectors`, by classical Gram-Schmidt applied `passes` times
    /// (twice is as accurate as modified Gram-Schmidt twice, Giraud et al. 2005). Each pass reads every vector twice,
    /// chunk by chunk on ``ParallelLoop``'s workers, where modified Gram-Schmidt reads it twice and `self` three times
    /// per vector. The coefficients add the chunks' partial dot products in chunk order, so the result does not
    /// depend on the thread count.
    public mutating func subtractProjections(on vectors: [Tensor<Double>], passes: Int = 2) {
        subtractProjections(onStored: vectors, passes: passes)
    }

    /// The same on orthonormal vectors stored in Float (a Lanczos basis of an operator evaluated in Float, at half
    /// the memory): the coefficients and the update are computed in Double.
    public mutating func subtractProjections(on vectors: [Tensor<Float>], passes: Int = 2) {
        subtractProjections(onStored: vectors, passes: passes)
    }

    @_specialize(where Stored == Float)
    @_specialize(where Stored == Double)
    private mutating func subtractProjections<Stored: TensorScalar & SIMDScalar>(onStored vectors: [Tensor<Stored>], passes: Int) {
        guard !vectors.isEmpty else { return }
        let n = count, m = vectors.count
        let chunk = Self.projectionChunk, chunks = (n + chunk - 1) / chunk
        precondition(vectors.allSatisfy { $0.count == n }, "subtractProjections: vectors of other lengths than \(n)")
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
            withUnsafeMutableBufferPointer { w in
                nonisolated(unsafe) let w = w
                ParallelLoop.forEach(chunks, state: { () }) { _, c in
                    let start = c * chunk, length = Swift.min(chunk, n - start)
                    for (i, vector) in vectors.enumerated() {
                        let scale = -coefficients[i]
                        vector.withUnsafeBufferPointer { u in
                            for k in start..<(start + length) { w[k] += scale * Double(u[k]) }
                        }
                    }
                }
            }
        }
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
