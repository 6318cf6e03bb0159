"""Tied ONNX initializers on a real model: torchvision ResNet-18 at random initialisation, exported by PyTorch's
TorchScript exporter (which stores each BatchNorm's ones and zeros once and recreates the other names by Identity
nodes), against PyTorch in float64 on the same weights and images.

Checks: the parameter count; the loss; every eigenvalue of the Hessian block of bn1.bias (a bias the file stores
once with its running mean), by `curvature spectrum --method dense --parameters`; and the loss again with
`--weights` from the model's torch.save state dict (every role filled by name).

Usage: python Benchmarks/tied_initializers_crosscheck.py CURVATURE_BINARY WORKDIR
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
import torchvision

binary, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10).eval()
x = torch.randn(8, 3, 32, 32)
y = torch.randint(0, 10, (8,))
onnx_path, data_path, weights_path = (os.path.join(work, n) for n in ("resnet18.onnx", "data.npz", "resnet18.pt"))
torch.onnx.export(model, (x[:2],), onnx_path, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                  training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False, dynamo=False)
np.savez(data_path, x=x.numpy(), y=y.numpy())
torch.save(model.state_dict(), weights_path)
graph = onnx.load(onnx_path).graph
identities = sum(n.op_type == "Identity" for n in graph.node)
print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}; ResNet-18 exported with dynamo=False: "
      f"{len(graph.initializer)} initializers, {identities} Identity nodes")

double = model.double()
parameters = dict(double.named_parameters())
loss = F.cross_entropy(double(x.double()), y)
bias = parameters["bn1.bias"]
(gradient,) = torch.autograd.grad(loss, bias, create_graph=True)
block = torch.stack([torch.autograd.grad(gradient[i], bias, retain_graph=True)[0] for i in range(bias.numel())])
torch_eigenvalues = np.sort(np.linalg.eigvalsh(block.detach().numpy()))[::-1]
torch_count = sum(p.numel() for p in model.parameters())


def curvature(*arguments):
    result = subprocess.run([binary, *arguments, "--format", "json"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"curvature {' '.join(arguments)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


common = ["--data", data_path, "--precision", "double"]
evaluated = curvature("eval", onnx_path, *common)
with_weights = curvature("eval", onnx_path, *common, "--weights", weights_path)
spectrum = curvature("spectrum", onnx_path, *common, "--method", "dense", "--parameters", r"^bn1\.bias$", "--top-k", "64")
ours = np.array(spectrum["top_eigenvalues"])
scale = np.abs(torch_eigenvalues).max()
print(f"n_parameters: curvature {evaluated['n_parameters']}, torch {torch_count}")
print(f"untied tensors: {len(evaluated['untied_tensors'])} (e.g. {evaluated['untied_tensors'][0]})")
print(f"loss: curvature {evaluated['loss']:.15g}, torch {loss.item():.15g}, with --weights {with_weights['loss']:.15g}")
print(f"bn1.bias Hessian block (64x64): largest eigenvalue curvature {ours[0]:.10g}, torch {torch_eigenvalues[0]:.10g}; "
      f"max |difference| over all 64 = {np.abs(ours - torch_eigenvalues).max() / scale:.2e} of the largest")
ok = (evaluated["n_parameters"] == torch_count and abs(evaluated["loss"] - loss.item()) < 1e-10 * abs(loss.item())
      and abs(with_weights["loss"] - loss.item()) < 1e-10 * abs(loss.item())
      and np.abs(ours - torch_eigenvalues).max() < 1e-8 * scale)
print("agreement:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
