"""curvature landscape beside a PyTorch loop that evaluates the same grid the way loss-landscape (Li et al.) does:
for every point, set_weights(theta_0 + a d_1 + b d_2), then eval_loss over a DataLoader of batch 128 in eval mode
under no_grad, summing loss * batch size and correct predictions. Same ONNX model (exported from the torch module),
same data (all 1797 digits), same directions (curvature's --save-directions), one run; the two grids are compared.

Usage: python Benchmarks/landscape_benchmark.py CURVATURE_BINARY [GRID] [MODELS]
  GRID: points per axis (default 51); MODELS: comma-separated from small,wide (default both).
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

binary = sys.argv[1]
side = int(sys.argv[2]) if len(sys.argv) > 2 else 51
chosen = sys.argv[3].split(",") if len(sys.argv) > 3 else ["small", "wide"]
root = os.path.join(os.path.dirname(__file__), "..")
digits = np.load(os.path.join(root, "Examples", "data", "digits.npz"))
x = torch.tensor(digits["x"], dtype=torch.float32).reshape(-1, 1, 8, 8)
y = torch.tensor(digits["y"], dtype=torch.int64)
work = tempfile.mkdtemp(prefix="curvature-landscape-")
np.savez(os.path.join(work, "digits_images.npz"), x=x.numpy(), y=y.numpy())


def cnn(c1, c2):
    return nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * c2, 10))


def trained(model):
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(8):
        permutation = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            batch = permutation[start:start + 64]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def eval_loss(net, loader):
    """loss-landscape's evaluation.eval_loss for CrossEntropyLoss, on the CPU."""
    correct, total_loss, total = 0, 0.0, 0
    net.eval()
    with torch.no_grad():
        for inputs, targets in loader:
            batch_size = inputs.size(0)
            total += batch_size
            outputs = net(inputs)
            total_loss += nn.functional.cross_entropy(outputs, targets).item() * batch_size
            _, predicted = torch.max(outputs.data, 1)
            correct += predicted.eq(targets).sum().item()
    return total_loss / total, correct / total


print(f"# torch {torch.__version__} ({torch.get_num_threads()} threads); {side}x{side} grid, all {len(x)} digits, "
      f"random filter-normalised axes (bias-bn ignore), BatchNorm in eval mode")
print(f"{'model':<8} {'params':>7} {'tool':<34} {'total s':>8} {'ms/point':>9} {'speedup':>8} {'max |loss diff|':>16}")
for name, (c1, c2) in [("small", (8, 16)), ("wide", (64, 128))]:
    if name not in chosen:
        continue
    torch.manual_seed(1)
    model = trained(cnn(c1, c2))
    onnx_path = os.path.join(work, f"{name}.onnx")
    torch.onnx.export(model, (x[:2],), onnx_path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, dynamo=False)
    params = sum(p.numel() for p in model.parameters())
    rows = []
    grids = {}
    for precision in ["float", "double"]:
        out = os.path.join(work, f"{name}_{precision}.npz")
        directions = os.path.join(work, f"{name}_directions.npz")
        command = [binary, "landscape", onnx_path, "--data", os.path.join(work, "digits_images.npz"), "--grid", f"{side}x{side}",
                   "--precision", precision, "--save-directions", directions, "--out", out, "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        grids[precision] = np.load(out)
        rows.append((f"curvature landscape ({precision})", seconds))
    # The same grid in torch, loss-landscape's way.
    d = np.load(directions)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    weights = [(k, p) for k, p in model.named_parameters()]
    d1 = [torch.tensor(d[f"x/{k}"], dtype=torch.float32) for k, _ in weights]
    d2 = [torch.tensor(d[f"y/{k}"], dtype=torch.float32) for k, _ in weights]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=False)
    coordinates = np.linspace(-1, 1, side)
    losses = np.full((side, side), np.nan)
    start = time.perf_counter()
    for j, b in enumerate(coordinates):
        for i, a in enumerate(coordinates):
            with torch.no_grad():  # net_plotter.set_weights
                for (k, p), u, v in zip(weights, d1, d2):
                    p.copy_(state[k] + float(a) * u + float(b) * v)
            losses[j, i], _ = eval_loss(model, loader)
    torch_seconds = time.perf_counter() - start
    points = side * side
    print(f"{name:<8} {params:>7} {'torch loop (loss-landscape)':<34} {torch_seconds:>8.2f} {1000 * torch_seconds / points:>9.3f} {'1.00':>8} {'':>16}")
    for tool, seconds in rows:
        precision = tool.split("(")[1].rstrip(")")
        diff = np.max(np.abs(grids[precision]["loss"] - losses))
        print(f"{name:<8} {params:>7} {tool:<34} {seconds:>8.2f} {1000 * seconds / points:>9.3f} {torch_seconds / seconds:>8.2f} {diff:>16.2e}")
