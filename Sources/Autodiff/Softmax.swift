import Foundation
import LinearAlgebra

/// Softmax as one primitive. Its Jacobian `diag(y) - y y^T` is symmetric, so the tangent `y (dx - sum(y dx))` and the
/// adjoint `y (g - sum(y g))` are the same product, one pass per row (``softmaxProduct(_:_:alongAxis:)``). The
/// composite `exp(x - logsumexp(x))` made eight nodes and a pass each in the value, the tangent and the backward pass
/// (an attention layer's scores are the largest activations of a BERT).
extension Variable {
    /// `exp(x - max) / sum(exp(x - max))` over `axis` (torch.softmax).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func softmax(alongAxis axis: Int) -> Variable {
        let x = self, y = value.softmax(alongAxis: axis)
        let tangent = x.tangent.map { Tensor.softmaxProduct(y, $0, alongAxis: axis) }
        // Every copy of the node carries the same value and tangent, so the adjoint's own derivatives reach x.
        func node() -> Variable {
            Variable.make(y, parents: [x], known: tangent, tangent: { Tensor.softmaxProduct(y, $0[0]!, alongAxis: axis) }) { g in
                let y = node()
                return [y * (g - (g * y).sum(alongAxes: [axis], keepingDimensions: true))]
            }
        }
        return node()
    }
}

extension Tensor {
    /// Softmax over `axis`, the maximum subtracted before exp.
    func softmax(alongAxis axis: Int) -> Tensor {
        let scalars = [Scalar](unsafeUninitializedCapacity: count) { out, initialized in
            withUnsafeBufferPointer { x in
                forEachLine(alongAxis: axis) { _, base, extent, stride in
                    var maximum = -Scalar.infinity
                    for k in 0..<extent { maximum = Swift.max(maximum, x[base + k * stride]) }
                    var total: Scalar = 0
                    for k in 0..<extent {
                        let e = Scalar(Foundation.exp(Double(x[base + k * stride] - maximum)))
                        out[base + k * stride] = e
                        total += e
                    }
                    let scale = 1 / total
                    for k in 0..<extent { out[base + k * stride] *= scale }
                }
            }
            initialized = count
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// `y (v - sum(y v))` over `axis`: softmax's Jacobian, `diag(y) - y y^T`, applied to `v` (either side).
    static func softmaxProduct(_ y: Tensor, _ v: Tensor, alongAxis axis: Int) -> Tensor {
        let scalars = [Scalar](unsafeUninitializedCapacity: y.count) { out, initialized in
            y.withUnsafeBufferPointer { py in
                v.withUnsafeBufferPointer { pv in
                    y.forEachLine(alongAxis: axis) { _, base, extent, stride in
                        var total: Scalar = 0
                        for k in 0..<extent { total += py[base + k * stride] * pv[base + k * stride] }
                        for k in 0..<extent { out[base + k * stride] = py[base + k * stride] * (pv[base + k * stride] - total) }
                    }
                }
            }
            initialized = y.count
        }
        return Tensor(shape: y.shape, scalars: scalars)
    }
}
