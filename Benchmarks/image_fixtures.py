"""The image benchmarks' shared fixtures: BatchNorm statistics that are not the initial 0 and 1, and seeded 3x32x32
images with 10-class labels saved beside the model's ONNX export (batch axis dynamic, opset 17, TorchScript
exporter)."""
import numpy as np
import torch
import torch.nn as nn


def randomise_running_statistics(model):
    """Real running statistics, not the initial 0 and 1, in every BatchNorm2d of `model`."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)


def save_images_and_export(model, samples, onnx_path, data_path, training):
    """Seed-0 images [samples, 3, 32, 32] and labels to `data_path` (x, y), and `model` exported to `onnx_path`."""
    generator = np.random.default_rng(0)
    x = generator.standard_normal((samples, 3, 32, 32)).astype(np.float32)
    y = generator.integers(0, 10, samples)
    np.savez(data_path, x=x, y=y)
    torch.onnx.export(model, (torch.tensor(x[:2]),), onnx_path, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17,
                      training=training, do_constant_folding=False, dynamo=False)
