/// How a Hessian-vector product `H v` is formed. Both are exact and agree to rounding; they differ in speed and memory.
public enum HessianProductMode: String, Sendable, CaseIterable {
    /// `grad <grad L, v>`: the gradient is computed with its own graph recorded, then differentiated again
    /// (double backward, as PyHessian does it with `torch.autograd.grad(..., create_graph=True)`).
    case reverseOverReverse = "reverse-over-reverse"
    /// The tangent of `grad L` along `v`: forward-mode tangents ride through the forward pass and the backward pass,
    /// which records no second graph (Pearlmutter's R-operator; torch.func's `jvp(grad(f))`).
    case forwardOverReverse = "forward-over-reverse"
}
