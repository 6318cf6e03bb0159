"""The benchmark CNN (conv-BN-ReLU twice, then a linear layer; random init, BatchNorm in eval mode with random running
statistics) end to end: `curvature spectrum --top-k 5 --trace` (Float, Lanczos and Hutchinson) beside PyHessian's
eigenvalues(top_n=5) + trace(), on the same weights and images, one run. Each side is a process of its own; its wall
time and peak resident memory (wait4's ru_maxrss) are reported.

Same accuracy or better: the trace gets the budget PyHessian's trace() used (its products are counted), with the same
estimator (Hutchinson, Rademacher probes), so both carry the same variance; curvature also reports its standard error.
The eigenvalues are scored against curvature's, whose Ritz residuals are below 1e-5 ||H|| (PyHessian's power
iteration stops on a relative change of 1e-3 and reports no residual).

Usage: python Benchmarks/cnn_spectrum_benchmark.py CURVATURE [SAMPLES (default 256)]
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_fixtures import randomise_running_statistics, save_images_and_export  # noqa: E402
from processes import measured  # noqa: E402

binary = sys.argv[1]
samples = int(sys.argv[2]) if len(sys.argv) > 2 else 256
work = tempfile.mkdtemp(prefix="curvature-cnn-")
model_path, onnx_path, data_path = f"{work}/cnn.pt", f"{work}/cnn.onnx", f"{work}/data.npz"

MODEL = r'''
import torch.nn as nn
def cnn():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Flatten(), nn.Linear(32 * 32 * 32, 10))
'''

PYHESSIAN = MODEL + r'''
import sys, time, json, numpy as np, torch
torch.set_num_threads(2)
torch.manual_seed(0)  # PyHessian's random start vectors, as ours come from --seed 0
model = cnn()
model.load_state_dict(torch.load(sys.argv[1]))
model.eval()
data = np.load(sys.argv[2])
x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
start = time.perf_counter()
sys.path.insert(0, sys.argv[3])
from pyhessian_counted import counted_hessian
h, calls = counted_hessian(model, torch.nn.CrossEntropyLoss(), (x, y))
values, _ = h.eigenvalues(top_n=5)
eigen_products = calls["n"]
samples = h.trace()
print(json.dumps({"top": sorted(values, reverse=True), "trace": float(np.mean(samples)), "eigen_products": eigen_products,
                  "trace_products": len(samples), "seconds": time.perf_counter() - start}))
'''

exec(MODEL)
torch.manual_seed(0)
model = cnn().eval()
randomise_running_statistics(model)
torch.save(model.state_dict(), model_path)
save_images_and_export(model, samples, onnx_path, data_path, torch.onnx.TrainingMode.PRESERVE)
parameters = sum(p.numel() for p in model.parameters())
print(f"# torch {torch.__version__}; CNN {parameters} parameters, random init, BatchNorm eval, {samples} images 3x32x32, "
      f"float32, 2 threads; top-5 + trace")

out, theirs_seconds, theirs_memory = measured([sys.executable, "-c", PYHESSIAN, model_path, data_path,
                                                    os.path.dirname(os.path.abspath(__file__))])
theirs = json.loads(out)
budget = theirs["trace_products"]
out, ours_seconds, ours_memory = measured([binary, "spectrum", onnx_path, "--data", data_path, "--top-k", "5", "--trace",
                                           "--matvecs", str(budget), "--precision", "float", "--format", "json",
                                           "--seed", "0"])
ours = json.loads(out)
top = np.array(ours["top_eigenvalues"])
error = np.max(np.abs(np.array(theirs["top"]) - top)) / abs(top[0])
print(f"curvature {ours_seconds:7.1f} s  peak {ours_memory:5.2f} GiB  top {', '.join(f'{v:.5f}' for v in top)}  "
      f"{ours['matvecs'] + ours['trace']['matvecs']} products (Lanczos {ours['matvecs']}, trace {ours['trace']['matvecs']})  converged {ours['converged']}  "
      f"max residual / lambda_max {max(ours['residuals']['top']) / abs(top[0]):.1e}; trace {ours['trace']['estimate']:.3f} +- {ours['trace']['stderr']:.3f}")
print(f"pyhessian {theirs_seconds:7.1f} s  peak {theirs_memory:5.2f} GiB  top {', '.join(f'{v:.5f}' for v in theirs['top'])}  "
      f"{theirs['eigen_products'] + budget} products (eigenvalues {theirs['eigen_products']}, trace {budget}); "
      f"trace {theirs['trace']:.3f}; max |error| / lambda_max against curvature's {error:.1e}")
print(f"speedup of curvature over pyhessian, whole processes: {theirs_seconds / ours_seconds:.2f}x")
