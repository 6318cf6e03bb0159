"""The PyTorch side's Lanczos, shared by the benchmarks and the fixture references: the top Hessian eigenvalues of a
loss by double backward, with full reorthogonalisation (Gram-Schmidt twice) against every basis vector."""
import numpy as np
import torch


def lanczos_top(value, params, count=3, tolerance=1e-5, limit=200, dtype=torch.float32):
    """The `count` largest eigenvalues (descending) of the Hessian of the scalar `value` in `params`, the number of
    Hessian-vector products taken, and the number of parameters. With a `tolerance` it stops once every one of those
    Ritz pairs has residual |beta_k s_k| <= tolerance x |largest Ritz value|; without one it runs `limit` steps (or
    until the Krylov space is exhausted). The start vector is standard normal from seed 0."""
    grads = torch.autograd.grad(value, params, create_graph=True)
    n = sum(p.numel() for p in params)

    def hvp(v):
        pieces, offset = [], 0
        for p in params:
            pieces.append(v[offset:offset + p.numel()].view_as(p)); offset += p.numel()
        return torch.cat([t.reshape(-1) for t in torch.autograd.grad(grads, params, grad_outputs=pieces, retain_graph=True)])

    q = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=dtype); q /= q.norm()
    basis, alphas, betas = [q], [], []
    for _ in range(min(limit, n)):
        w = hvp(basis[-1])
        alphas.append(float(w @ basis[-1]))
        for _ in range(2):
            for b in basis:
                w -= (w @ b) * b
        beta = float(w.norm())
        if tolerance is not None and len(alphas) >= count:
            t = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
            values, vectors = np.linalg.eigh(t)
            if np.all(np.abs(beta * vectors[-1, -count:]) <= tolerance * abs(values[-1])):
                break
        if beta < 1e-12 or len(alphas) == limit:
            break
        betas.append(beta); basis.append(w / beta)
    t = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
    return sorted(np.linalg.eigvalsh(t)[-count:].tolist(), reverse=True), len(alphas), n
