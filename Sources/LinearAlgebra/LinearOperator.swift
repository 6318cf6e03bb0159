/// A symmetric linear map on R^n, known only through its products: the seam every spectral method is written
/// against. Vectors are Double; operators computing in Float convert at the boundary.
public protocol LinearOperator: Sendable {
    var dimension: Int { get }
    func apply(_ vector: Tensor<Double>) -> Tensor<Double>
    /// The products with several vectors; operators that can share work across them (one forward pass for k HVPs)
    /// override this.
    func apply(block vectors: [Tensor<Double>]) -> [Tensor<Double>]
}

extension LinearOperator {
    public func apply(block vectors: [Tensor<Double>]) -> [Tensor<Double>] { vectors.map(apply) }
}
