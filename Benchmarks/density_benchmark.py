"""Top-5 eigenvalues + trace against PyHessian, and SLQ density against hessian-eigenthings, on the same trained
ONNX model and data in one run, all scored against the dense Hessian (PyTorch float64, numpy eigh).

Usage: python Benchmarks/density_benchmark.py CURVATURE_BINARY [SAMPLES]
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

import numpy as np
import pyhessian
import pyhessian.hessian  # noqa: F401  (the module; `pyhessian.hessian` the attribute is the class)
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from trained_mlp import trained_mlp  # noqa: E402
import hessian_eigenthings as he

binary = sys.argv[1]
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 500
work = tempfile.mkdtemp(prefix="curvature-density-")
model, x, y, onnx_path, data_path = trained_mlp(samples, work)
torch.save(model.state_dict(), os.path.join(work, "mlp.pt"))
n = sum(p.numel() for p in model.parameters())
print(f"# torch {torch.__version__} ({torch.get_num_threads()} threads), PyHessian {version('pyhessian')}, "
      f"hessian-eigenthings {version('hessian-eigenthings')} (PyPI's newest; there is no 1.0 final); "
      f"MLP 64-32-10 tanh trained on {samples} digits, {n} parameters, full-batch mean cross-entropy")

# Dense truth in float64.
model64 = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).double()
model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
names = [k for k, _ in model64.named_parameters()]
shapes = [p.shape for p in model64.parameters()]
flat0 = torch.cat([p.detach().reshape(-1) for p in model64.parameters()])


def loss_of(flat):
    params, offset = {}, 0
    for name, shape in zip(names, shapes):
        count = int(np.prod(shape))
        params[name] = flat[offset:offset + count].reshape(shape)
        offset += count
    return nn.functional.cross_entropy(torch.func.functional_call(model64, params, (x.double(),)), y)


start = time.perf_counter()
hessian = torch.func.hessian(loss_of)(flat0).numpy()
exact = np.linalg.eigvalsh((hessian + hessian.T) / 2)
print(f"dense truth ({time.perf_counter() - start:.1f} s): top-5 {np.array2string(exact[::-1][:5], precision=8)}; trace {exact.sum():.8f}")
scale = abs(exact).max()


def wasserstein(grid, density):
    """W1 distance between a density on a grid and the exact eigenvalue distribution."""
    order = np.argsort(grid)
    grid, density = np.asarray(grid)[order], np.maximum(np.asarray(density)[order], 0)
    lo, hi = min(grid[0], exact[0]), max(grid[-1], exact[-1])
    t = np.linspace(lo, hi, 200001)
    pdf = np.interp(t, grid, density, left=0, right=0)
    cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(t))])
    cdf /= cdf[-1]
    truth = np.searchsorted(exact, t, side="right") / len(exact)
    return np.trapezoid(np.abs(cdf - truth), t)


def quadrature_wasserstein(nodes, weights):
    """W1 distance between the probes' averaged quadrature measure and the exact eigenvalue distribution."""
    nodes, weights = np.concatenate(nodes), np.concatenate(weights) / len(nodes)
    order = np.argsort(nodes)
    t = np.sort(np.concatenate([nodes, exact]))
    estimate = np.array([weights[order][:np.searchsorted(nodes[order], v, side="right")].sum() for v in t])
    truth = np.searchsorted(exact, t, side="right") / len(exact)
    return np.sum(np.abs(estimate - truth)[:-1] * np.diff(t))


def curvature(*arguments):
    start = time.perf_counter()
    out = subprocess.run([binary, "spectrum", onnx_path, "--data", data_path, "--format", "json", "--quiet", *arguments],
                         capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, json.loads(out)


def python_process(body):
    """Seconds for a fresh Python process that imports torch, loads the same model and data, and runs `body`: the
    end-to-end time a user of the Python tools waits, as curvature's times are whole processes."""
    script = f"""
import warnings; warnings.filterwarnings("ignore")
import numpy as np, torch, torch.nn as nn
model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
model.load_state_dict(torch.load({os.path.join(work, "mlp.pt")!r}))
model.eval()
data = np.load({data_path!r}); x = torch.tensor(data["x"]); y = torch.tensor(data["y"])
{body}
"""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    return time.perf_counter() - start


pyhessian_process = python_process("import pyhessian\nh = pyhessian.hessian(model, nn.CrossEntropyLoss(), data=(x, y), cuda=False)\n"
                                   "h.eigenvalues(top_n=5)\nh.trace()")
he_process = python_process("import hessian_eigenthings as he\n"
                            "op = he.HessianOperator(model, [(x, y)], he.supervised_loss(nn.functional.cross_entropy))\n"
                            "he.spectral_density(op, num_runs=10, lanczos_steps=100, seed=0)")
print(f"whole Python processes (import torch, load model and data, compute): pyhessian eigenvalues + trace {pyhessian_process:.3f} s; "
      f"hessian-eigenthings spectral_density {he_process:.3f} s")

# PyHessian: eigenvalues(top_n=5) + trace() with its defaults, float32 as users run it; its products counted.
pyhessian_module = sys.modules["pyhessian.hessian"]
calls = {"n": 0}
original = pyhessian_module.hessian_vector_product


def counted(*args, **kwargs):
    calls["n"] += 1
    return original(*args, **kwargs)


pyhessian_module.hessian_vector_product = counted
start = time.perf_counter()
ph = pyhessian.hessian(model, nn.CrossEntropyLoss(), data=(x, y), cuda=False)
eigenvalues, _ = ph.eigenvalues(top_n=5)
eigen_products = calls["n"]
trace_samples = ph.trace()
pyhessian_seconds = time.perf_counter() - start
trace_products = len(trace_samples)
pyhessian_trace = float(np.mean(trace_samples))
print(f"pyhessian eigenvalues(top_n=5) + trace() (in-process): {pyhessian_seconds:.3f} s; {eigen_products} + {trace_products} HVPs; "
      f"top-5 max |error| / lambda_max {np.max(np.abs(np.array(eigenvalues) - exact[::-1][:5])) / scale:.2e}; "
      f"trace {pyhessian_trace:.6f}, |error| / |trace| {abs(pyhessian_trace - exact.sum()) / abs(exact.sum()):.2e} (no standard error)")

for method in ["hutchinson", "hutchpp", "xtrace"]:
    for precision in ["double", "float"]:
        seconds, report = curvature("--top-k", "5", "--trace", "--trace-method", method, "--matvecs", str(trace_products),
                                    "--precision", precision)
        top = np.array(report["top_eigenvalues"])
        trace = report["trace"]
        print(f"curvature lanczos top-5 + {method} trace, {precision} (whole process): {seconds:.3f} s; "
              f"{report['iterations']} + {trace['matvecs']} HVPs; top-5 max |error| / lambda_max {np.max(np.abs(top - exact[::-1][:5])) / scale:.2e}; "
              f"trace {trace['estimate']:.6f} +- {trace['stderr']:.2g}, |error| / |trace| {abs(trace['estimate'] - exact.sum()) / abs(exact.sum()):.2e}; "
              f"speedup over pyhessian {pyhessian_seconds / seconds:.1f}x in-process, {pyhessian_process / seconds:.1f}x whole process")

# One seed is one draw: the trace errors above are luck as much as method. Over 8 seeds each, at PyHessian's budget:
seeds = range(8)
errors = []
for seed in seeds:
    torch.manual_seed(seed)
    errors.append(abs(np.mean(ph.trace()) - exact.sum()) / abs(exact.sum()))
print(f"trace over {len(seeds)} seeds, mean |error| / |trace|: pyhessian trace() {np.mean(errors):.2e} "
      f"(mean {np.mean([len(ph.trace()) for _ in range(3)]):.0f} HVPs per call)", end="")
for method in ["hutchinson", "hutchpp", "xtrace"]:
    method_errors = [abs(curvature("--top-k", "0", "--trace", "--trace-method", method, "--matvecs", str(trace_products),
                                   "--seed", str(seed))[1]["trace"]["estimate"] - exact.sum()) / abs(exact.sum()) for seed in seeds]
    print(f"; curvature {method} {np.mean(method_errors):.2e}", end="")
print(f" (curvature: {trace_products} HVPs each)")

try:
    ph.density(iter=100, n_v=1)
    print("pyhessian density(): ran")
except Exception as error:  # PyHessian 0.1 calls torch.eig, removed from torch
    print(f"pyhessian density(): crashes on torch {torch.__version__}: {type(error).__name__}: {str(error).splitlines()[0][:100]}")

# SLQ, 10 probes x 100 Lanczos steps.
operator = he.HessianOperator(model, [(x, y)], he.supervised_loss(nn.functional.cross_entropy))
start = time.perf_counter()
result = he.spectral_density(operator, num_runs=10, lanczos_steps=100, seed=0)
he_seconds = time.perf_counter() - start
he_nodes = [r[~torch.isnan(r)].numpy() for r in result.raw_eigenvalues]
he_weights = [w[:len(nd)].numpy() for w, nd in zip(result.raw_weights, he_nodes)]
print(f"hessian-eigenthings spectral_density(num_runs=10, lanczos_steps=100) (in-process, float32): {he_seconds:.3f} s; "
      f"W1(density, truth) {wasserstein(result.grid.numpy(), result.density.numpy()):.3e}; "
      f"W1(quadrature, truth) {quadrature_wasserstein(he_nodes, he_weights):.3e}")
for precision in ["double", "float"]:
    for block in ["1", "10"]:
        seconds, report = curvature("--top-k", "0", "--density", "slq", "--probes", "10", "--steps", "100", "--precision", precision,
                                    "--probe-block", block)
        density = report["density"]
        print(f"curvature --density slq --probes 10 --steps 100 --precision {precision} --probe-block {block} (whole process): {seconds:.3f} s; "
              f"W1(density, truth) {wasserstein(density['grid'], density['values']):.3e}; "
              f"W1(quadrature, truth) {quadrature_wasserstein(density['nodes'], density['weights']):.3e}; "
              f"outliers {report['criteria']['outliers']}; speedup over hessian-eigenthings {he_seconds / seconds:.1f}x in-process, "
              f"{he_process / seconds:.1f}x whole process")
seconds, report = curvature("--top-k", "0", "--density", "kpm", "--probes", "10", "--steps", "200")
print(f"curvature --density kpm --probes 10 --steps 200 (whole process, {report['density']['matvecs']} HVPs): {seconds:.3f} s; "
      f"W1(density, truth) {wasserstein(report['density']['grid'], report['density']['values']):.3e}")
