"""ResNet-18 (torchvision, random init, 3x32x32 inputs, 10 classes) end to end: `curvature spectrum --top-k 3`
(Float, Lanczos; with --trace also Hutchinson's trace) beside PyHessian's eigenvalues(top_n=3) (and trace()) and a
plain Lanczos in PyTorch (double backward, full reorthogonalisation), on the same weights and images, one run. Each
side is a process of its own; its wall time and peak resident memory (wait4's ru_maxrss) are reported.

With --trace, ours gets the budget PyHessian's trace() used (its products are counted; the same estimator,
Hutchinson with Rademacher probes, so both carry the same variance); with --tolerance T, ours stops at Lanczos
residual T x ||H|| instead of its Float default 1e-5 (PyHessian's power iteration stops at a 1e-3 relative change);
with --seed S, our and PyHessian's random starts come from S (default 0; the weights, the images and the PyTorch
Lanczos's start stay the same): PyHessian's product count depends on its start.

Usage: python Benchmarks/resnet_spectrum_benchmark.py CURVATURE SAMPLES [--trace] [--tolerance T] [--seed S]
"""
import json
import os
import sys
import tempfile

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_fixtures import save_images_and_export  # noqa: E402
from processes import measured  # noqa: E402

binary, samples = sys.argv[1], int(sys.argv[2])
with_trace = "--trace" in sys.argv
seed = sys.argv[sys.argv.index("--seed") + 1] if "--seed" in sys.argv else "0"
work = tempfile.mkdtemp(prefix="curvature-resnet-")
model_path, onnx_path, data_path = f"{work}/resnet18.pt", f"{work}/resnet18.onnx", f"{work}/data.npz"

SIDE = r'''
import sys, time, json, numpy as np, torch, torchvision
torch.set_num_threads(2)
side, model_path, data_path, with_trace = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
sys.path.insert(0, sys.argv[5])
torch.manual_seed(int(sys.argv[6]))  # PyHessian's random start vectors, as ours come from --seed
model = torchvision.models.resnet18(num_classes=10)
model.load_state_dict(torch.load(model_path))
model.eval()
data = np.load(data_path)
x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
criterion = torch.nn.CrossEntropyLoss()
start = time.perf_counter()
result = {}
if side == "pyhessian":
    from pyhessian_counted import counted_hessian
    h, calls = counted_hessian(model, criterion, (x, y))
    values, _ = h.eigenvalues(top_n=3)
    result["top"], result["products"] = sorted(values, reverse=True), calls["n"]
    if with_trace:
        samples = h.trace()
        result["trace"], result["trace_products"] = float(np.mean(samples)), len(samples)
else:
    from torch_lanczos import lanczos_top
    result["top"], result["products"], _ = lanczos_top(criterion(model(x), y), list(model.parameters()), limit=120)
result["seconds"] = time.perf_counter() - start
print(json.dumps(result))
'''


torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10).eval()
torch.save(model.state_dict(), model_path)
save_images_and_export(model, samples, onnx_path, data_path, torch.onnx.TrainingMode.EVAL)
print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}; ResNet-18 random init, {samples} images 3x32x32, "
      f"float32, 2 threads; top-3{' + trace' if with_trace else ''}; seed {seed}")
sides = {}
if with_trace:  # PyHessian first: its trace's products are ours' budget
    out, seconds, memory = measured([sys.executable, "-c", SIDE, "pyhessian", model_path, data_path, "1",
                                     os.path.dirname(os.path.abspath(__file__)), seed])
    sides["pyhessian"] = (json.loads(out), seconds, memory)
extra = ["--trace", "--matvecs", str(sides["pyhessian"][0]["trace_products"])] if with_trace else []
if "--tolerance" in sys.argv:
    extra += ["--tolerance", sys.argv[sys.argv.index("--tolerance") + 1]]
out, seconds, memory = measured([binary, "spectrum", onnx_path, "--data", data_path, "--top-k", "3", "--precision", "float",
                                 "--batch-size", "128", "--seed", seed, "--format", "json", *extra])
ours = json.loads(out)
trace = f", trace {ours['trace']['estimate']:.2f} +- {ours['trace']['stderr']:.2f} ({ours['trace']['matvecs']} products)" if with_trace else ""
print(f"curvature  {seconds:8.1f} s  peak {memory:5.2f} GiB  top {', '.join(f'{v:.4f}' for v in ours['top_eigenvalues'])}  "
      f"{ours['matvecs']} products  converged {ours['converged']}{trace}")
for side in ["pyhessian"] + ([] if with_trace else ["torch-lanczos"]):
    if side not in sides:
        out, seconds, memory = measured([sys.executable, "-c", SIDE, side, model_path, data_path, "1" if with_trace else "0",
                                         os.path.dirname(os.path.abspath(__file__)), seed])
        sides[side] = (json.loads(out), seconds, memory)
    theirs, seconds, memory = sides[side]
    extra_text = f"  {theirs['products']} products" if "products" in theirs else ""
    extra_text += f", trace {theirs['trace']:.2f} ({theirs['trace_products']} products)" if "trace" in theirs else ""
    print(f"{side:10s} {seconds:8.1f} s  peak {memory:5.2f} GiB  top {', '.join(f'{v:.4f}' for v in theirs['top'])}{extra_text}")
