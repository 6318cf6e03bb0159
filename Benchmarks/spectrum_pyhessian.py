"""Top-5 Hessian eigenvalues: curvature spectrum (Lanczos) beside PyHessian's eigenvalues(top_n=5), same model and
data, one run; both scored against the dense Hessian's exact eigenvalues (curvature spectrum --method dense).

Usage: python Benchmarks/spectrum_pyhessian.py CURVATURE_BINARY [SAMPLES]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyhessian
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from trained_mlp import trained_mlp  # noqa: E402

binary = sys.argv[1]
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 500
work = tempfile.mkdtemp(prefix="curvature-spectrum-")
model, x, y, onnx_path, data_path = trained_mlp(samples, work)
n_parameters = sum(p.numel() for p in model.parameters())
print(f"# torch {torch.__version__}, pyhessian (PyPI) from {os.path.dirname(pyhessian.__file__)}; MLP 64-32-10 tanh trained "
      f"on {samples} digits, {n_parameters} parameters, full-batch cross-entropy")


def curvature(*arguments):
    start = time.perf_counter()
    out = subprocess.run([binary, "spectrum", onnx_path, "--data", data_path, "--format", "json", "--quiet", *arguments],
                         capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, json.loads(out)


dense_seconds, dense = curvature("--method", "dense", "--top-k", "5")
truth = np.array(dense["top_eigenvalues"])
scale = abs(truth[0])
lanczos_seconds, lanczos = curvature("--top-k", "5")
power_seconds, power = curvature("--top-k", "5", "--method", "power")

# PyHessian: full batch on the float32 model, its defaults (maxIter=100, tol=1e-3).
criterion = nn.CrossEntropyLoss()
start = time.perf_counter()
hessian = pyhessian.hessian(model, criterion, data=(x, y), cuda=False)
eigenvalues, _ = hessian.eigenvalues(top_n=5)
pyhessian_seconds = time.perf_counter() - start


def report(name, seconds, values, extra=""):
    values = np.array(values)
    error = np.max(np.abs(values - truth)) / scale
    print(f"{name}: {seconds:.3f} s; top-5 {np.array2string(values, precision=6)}; max |error| / lambda_max = {error:.2e}{extra}")


print(f"dense truth (curvature --method dense, {dense_seconds:.2f} s): {np.array2string(truth, precision=8)}")
report("curvature lanczos (whole process)", lanczos_seconds, lanczos["top_eigenvalues"],
       f"; {lanczos['iterations']} HVPs, residuals <= {max(lanczos['residuals']['top']):.1e}")
report("curvature power, PyHessian's algorithm (whole process)", power_seconds, power["top_eigenvalues"], f"; {power['iterations']} HVPs")
report("pyhessian eigenvalues(top_n=5) (in-process)", pyhessian_seconds, eigenvalues)
print(f"speedup of curvature lanczos over pyhessian: {pyhessian_seconds / lanczos_seconds:.1f}x")
