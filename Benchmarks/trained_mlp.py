"""The model both Hessian benchmarks analyse: an MLP 64-32-10 tanh trained (Adam, 200 full-batch steps, seed 0) on
the first SAMPLES shipped digits, exported to ONNX with its data as .npz, so PyTorch and curvature see the same
weights. (A trained model: the spectrum of a random one is not what users look at.)"""
import os

import numpy as np
import torch
import torch.nn as nn


def trained_mlp(samples, work):
    torch.manual_seed(0)
    digits = np.load(os.path.join(os.path.dirname(__file__), "..", "Examples", "data", "digits.npz"))
    x = torch.tensor(digits["x"][:samples])
    y = torch.tensor(digits["y"][:samples])
    model = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    onnx_path = os.path.join(work, "mlp.onnx")
    torch.onnx.export(model, (x[:2],), onnx_path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    data_path = os.path.join(work, "data.npz")
    np.savez(data_path, x=x.numpy(), y=y.numpy())
    return model, x, y, onnx_path, data_path
