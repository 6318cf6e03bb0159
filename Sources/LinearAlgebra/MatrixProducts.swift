/// `op(A) * op(B)` through BLAS `?gemm`, where `op` transposes when asked: for matrices, or for every matrix of two
/// batches `[..., r, c]` with the same batch axes (see ``gemm(alpha:_:transposeA:_:transposeB:beta:into:)``).
///
/// Empty operands are allowed: a zero inner dimension gives a zero matrix.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func matmul<Scalar: TensorScalar>(
    _ a: Tensor<Scalar>, _ b: Tensor<Scalar>, transposeA: Bool = false, transposeB: Bool = false
) -> Tensor<Scalar> {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs tensors of rank 2 or more, got \(a.shape) and \(b.shape)")
    let m = a.shape[a.rank - (transposeA ? 1 : 2)], n = b.shape[b.rank - (transposeB ? 2 : 1)]
    var c = Tensor<Scalar>(zeros: Array(a.shape.dropLast(2)) + [m, n])
    gemm(alpha: 1, a, transposeA: transposeA, b, transposeB: transposeB, beta: 0, into: &c)
    return c
}

/// `C = alpha * op(A) * op(B) + beta * C` in place (BLAS `?gemm`), for matrices or for every matrix of a batch: A, B
/// and C `[..., r, c]` with the same batch axes, each matrix read and written in place (no slice or transposed copies).
/// A batch of small matrices (attention's [tokens, head] products, 65 x 65 x 32 in a ViT) goes one matrix per
/// ``ParallelLoop`` worker with BLAS single-threaded: BLAS's own threads cost more to wake than such a product takes.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func gemm<Scalar: TensorScalar>(
    alpha: Scalar, _ a: Tensor<Scalar>, transposeA: Bool = false, _ b: Tensor<Scalar>, transposeB: Bool = false,
    beta: Scalar, into c: inout Tensor<Scalar>
) {
    let (ra, ca, rb, cb) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k, n) = (transposeA ? ca : ra, transposeA ? ra : ca, transposeB ? rb : cb)
    let batch = Array(a.shape.dropLast(2))
    precondition(k == (transposeB ? cb : rb), "matmul: inner dimensions \(k) and \(transposeB ? cb : rb) differ (shapes \(a.shape), \(b.shape))")
    precondition(Array(b.shape.dropLast(2)) == batch && c.shape == batch + [m, n],
                 "gemm: shapes \(a.shape) x \(b.shape) -> \(c.shape) do not fit")
    let batches = batch.reduce(1, *)
    guard m > 0, n > 0, batches > 0 else { return }
    guard k > 0 else {
        c *= beta
        return
    }
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                let (pa, pb, pc) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                func product(_ index: Int) {
                    Scalar._gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                 a: pa + index * ra * ca, lda: ca, b: pb + index * rb * cb, ldb: cb,
                                 beta: beta, c: pc + index * m * n, ldc: n)
                }
                if batches > 1 && m * n * k < 1 << 21 {
                    ParallelLoop.forEach(batches, state: {}) { _, index in product(index) }
                } else {
                    for index in 0..<batches { product(index) }
                }
            }
        }
    }
}

/// `op(A) * x` for a rank-2 `A` and rank-1 `x` through BLAS `?gemv`.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func matvec<Scalar: TensorScalar>(
    _ a: Tensor<Scalar>, _ x: Tensor<Scalar>, transpose: Bool = false
) -> Tensor<Scalar> {
    precondition(a.rank == 2 && x.rank == 1, "matvec needs a matrix and a vector, got \(a.shape) and \(x.shape)")
    let (rows, columns) = (a.shape[0], a.shape[1])
    let inputLength = transpose ? rows : columns
    let outputLength = transpose ? columns : rows
    precondition(x.count == inputLength, "matvec: vector length \(x.count) is not \(inputLength)")
    var y = Tensor<Scalar>(zeros: [outputLength])
    guard outputLength > 0, inputLength > 0 else { return y }
    a.withUnsafeBufferPointer { pa in
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                Scalar._gemv(transpose: transpose, m: rows, n: columns, alpha: 1, a: pa.baseAddress!, lda: columns,
                             x: px.baseAddress!, beta: 0, y: py.baseAddress!)
            }
        }
    }
    return y
}

/// The Gram matrix of the smaller side of a rank-2 tensor, through BLAS `?syrk` (half the flops of a GEMM):
/// `A^T A` (columns x columns) when A has at least as many rows as columns, otherwise `A A^T`.
///
/// Only the upper triangle (row-major) is filled; ``symmetricEigen(_:computeVectors:)`` reads exactly that.
/// Its eigenvalues are the squared singular values of A.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func smallerGram<Scalar: TensorScalar>(_ a: Tensor<Scalar>) -> Tensor<Scalar> {
    precondition(a.rank == 2, "smallerGram needs a rank-2 tensor, got shape \(a.shape)")
    let (rows, columns) = (a.shape[0], a.shape[1])
    let n = min(rows, columns), k = max(rows, columns)
    var c = Tensor<Scalar>(zeros: [n, n])
    guard n > 0, k > 0 else { return c }
    a.withUnsafeBufferPointer { pa in
        c.withUnsafeMutableBufferPointer { pc in
            // Row-major A (rows x columns): A^T A is syrk with transpose; A A^T without.
            Scalar._syrk(transpose: rows >= columns, n: n, k: k, a: pa.baseAddress!, lda: columns, beta: 0, c: pc.baseAddress!)
        }
    }
    return c
}

/// `gram += A^T A` for a block of rows A (BLAS `?syrk` with beta = 1), upper triangle: a tall matrix's Gram
/// matrix accumulated block by block, so the matrix never needs to be in memory whole.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func accumulateGram<Scalar: TensorScalar>(rows a: Tensor<Scalar>, into gram: inout Tensor<Scalar>) {
    precondition(a.rank == 2, "accumulateGram needs a rank-2 block, got shape \(a.shape)")
    let (rows, columns) = (a.shape[0], a.shape[1])
    precondition(gram.shape == [columns, columns], "accumulateGram: Gram shape \(gram.shape) is not [\(columns), \(columns)]")
    guard rows > 0, columns > 0 else { return }
    a.withUnsafeBufferPointer { pa in
        gram.withUnsafeMutableBufferPointer { pc in
            Scalar._syrk(transpose: true, n: columns, k: rows, a: pa.baseAddress!, lda: columns, beta: 1, c: pc.baseAddress!)
        }
    }
}
