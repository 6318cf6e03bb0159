/// `op(A) * op(B)` for rank-2 tensors through BLAS `?gemm`, where `op` transposes when asked.
///
/// Empty operands are allowed: a zero inner dimension gives a zero matrix.
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func matmul<Scalar: TensorScalar>(
    _ a: Tensor<Scalar>, _ b: Tensor<Scalar>, transposeA: Bool = false, transposeB: Bool = false
) -> Tensor<Scalar> {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kB = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kB, "matmul: inner dimensions \(k) and \(kB) differ (shapes \(a.shape), \(b.shape))")
    var c = Tensor<Scalar>(zeros: [m, n])
    gemm(alpha: 1, a, transposeA: transposeA, b, transposeB: transposeB, beta: 0, into: &c)
    return c
}

/// `C = alpha * op(A) * op(B) + beta * C` in place (BLAS `?gemm`).
@_specialize(where Scalar == Float)
@_specialize(where Scalar == Double)
public func gemm<Scalar: TensorScalar>(
    alpha: Scalar, _ a: Tensor<Scalar>, transposeA: Bool = false, _ b: Tensor<Scalar>, transposeB: Bool = false,
    beta: Scalar, into c: inout Tensor<Scalar>
) {
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(c.shape == [m, n], "gemm: output shape \(c.shape) is not [\(m), \(n)]")
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        c *= beta
        return
    }
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                Scalar._gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                             a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                             beta: beta, c: pc.baseAddress!, ldc: n)
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
