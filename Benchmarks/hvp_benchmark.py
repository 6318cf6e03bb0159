"""Forward, gradient and Hessian-vector products: Curvature beside PyTorch, same weights and data, float32, 2 threads.

PyTorch's HVP two ways: double backward (grad of <grad, v>, as PyHessian does it) and forward-over-reverse
(torch.func.jvp of torch.func.grad); and a product inside an eigensolver both ways: PyHessian's backward through a
gradient graph built once (hvp_retained_graph), and Curvature's replay of a recorded forward-over-reverse pass
(hvp_replayed). Models: an MLP 784-1024-1024-10 tanh on a batch of 1024, and a CNN
(conv-bn-relu x2, then a linear layer) on 32x32x3 images, batch 256, and torchvision's ResNet-18 (11.2M parameters,
random init) on 32x32x3 images, batch 64, and a BERT-style encoder (Hugging Face BertForSequenceClassification,
hidden size 256, 4 layers, 4 heads, eager attention, 3 classes; 3.6M parameters) on 32 sequences of 128 tokens with
input_ids and attention_mask; mean cross-entropy; BatchNorm in eval mode.

Each model's first lines give its parameters and the GFLOP of a forward pass, a gradient and an HVP as PyTorch's
FLOP counter sees them, so each median converts to GFLOP/s.

Usage: python Benchmarks/hvp_benchmark.py BENCHMARKS_BINARY [REPEATS]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.utils.flop_counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_fixtures import randomise_running_statistics  # noqa: E402

binary = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 10
torch.set_num_threads(2)
work = tempfile.mkdtemp(prefix="curvature-hvp-")


def mlp():
    return nn.Sequential(nn.Linear(784, 1024), nn.Tanh(), nn.Linear(1024, 1024), nn.Tanh(), nn.Linear(1024, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.Flatten(), nn.Linear(32 * 32 * 32, 10))


def resnet18():
    import torchvision
    return torchvision.models.resnet18(num_classes=10)


class Bert(nn.Module):
    """Logits of a BERT classifier from (input_ids, attention_mask)."""
    def __init__(self):
        super().__init__()
        from transformers import BertConfig, BertForSequenceClassification
        self.model = BertForSequenceClassification(BertConfig(vocab_size=1000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                                              intermediate_size=1024, num_labels=3, attn_implementation="eager"))

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]


def timed(body):
    body()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), 1000 * min(times)


print(f"# torch {torch.__version__} ({torch.get_num_threads()} threads), float32; median and best of {repeats} after a warm-up")
models = [("mlp", mlp, (1024, 784)), ("cnn", cnn, (256, 3, 32, 32)), ("resnet18", resnet18, (64, 3, 32, 32)), ("bert", Bert, (32, 128))]
only = os.environ.get("HVP_MODELS")
for name, make, shape in [m for m in models if not only or m[0] in only.split(",")]:
    torch.manual_seed(0)
    model = make().eval()
    randomise_running_statistics(model)
    generator = np.random.default_rng(0)
    onnx_path, data_path = os.path.join(work, f"{name}.onnx"), os.path.join(work, f"{name}.npz")
    if name == "bert":
        ids = torch.tensor(generator.integers(0, 1000, shape))
        mask = torch.ones(shape, dtype=torch.long)
        mask[::2, shape[1] * 3 // 4:] = 0  # every other sequence padded for its last quarter
        inputs, input_names = (ids, mask), ["input_ids", "attention_mask"]
        y = torch.tensor(generator.integers(0, 3, shape[0]))
        arrays = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "y": y.numpy()}
    else:
        x = torch.tensor(generator.standard_normal(shape).astype(np.float32))
        inputs, input_names = (x,), ["input"]
        y = torch.tensor(generator.integers(0, 10, shape[0]))
        arrays = {"x": x.numpy(), "y": y.numpy()}
    torch.onnx.export(model, tuple(t[:2] for t in inputs), onnx_path, input_names=input_names, output_names=["logits"],
                      dynamic_axes={n: {0: "batch"} for n in input_names + ["logits"]}, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, dynamo=False)
    np.savez(data_path, **arrays)
    params = [p for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]
    v = [torch.randn_like(p) for p in params]

    def loss_of(values):
        return nn.functional.cross_entropy(torch.func.functional_call(model, dict(zip(names, values)), inputs), y)

    def forward():
        with torch.no_grad():
            nn.functional.cross_entropy(model(*inputs), y)

    def gradient():
        torch.autograd.grad(nn.functional.cross_entropy(model(*inputs), y), params)

    def double_backward():
        grads = torch.autograd.grad(nn.functional.cross_entropy(model(*inputs), y), params, create_graph=True)
        torch.autograd.grad(grads, params, grad_outputs=v)

    def forward_over_reverse():
        torch.func.jvp(torch.func.grad(loss_of), (tuple(params),), (tuple(v),))

    # PyHessian's product inside its eigensolver: the gradient's graph is built once, and each product is the backward
    # pass of <grad, v> through it. Beside curvature's hvp_replayed, which replays a recorded forward-over-reverse pass.
    retained = []

    def retained_graph():
        if not retained:
            retained.append(torch.autograd.grad(nn.functional.cross_entropy(model(*inputs), y), params, create_graph=True))
        torch.autograd.grad(retained[0], params, grad_outputs=v, retain_graph=True)

    n = sum(p.numel() for p in params)
    print(f"# {name}: {n} parameters, input {list(shape)}")
    # The work of each operation by torch.utils.flop_counter (2 per multiply-add of the matrix products and
    # convolutions), the same figure for both sides: GFLOP/s = GFLOP / median seconds, against the GEMM peak.
    flops = {}
    for op, body in [("forward", forward), ("gradient", gradient), ("hvp", forward_over_reverse)]:
        with torch.utils.flop_counter.FlopCounterMode(display=False) as counter:
            body()
        flops[op] = counter.get_total_flops() / 1e9
    print(f"# {name}: GFLOP per forward {flops['forward']:.2f}, gradient {flops['gradient']:.2f}, "
          f"HVP {flops['hvp']:.2f} (torch.utils.flop_counter, forward-over-reverse)")
    for op, body in [("forward", forward), ("gradient", gradient), ("hvp_double_backward", double_backward),
                     ("hvp_forward_over_reverse", forward_over_reverse), ("hvp_retained_graph", retained_graph)]:
        median, best = timed(body)
        print(f"torch hvp model={name} op={op} median_ms={median:.2f} best_ms={best:.2f}")
    retained.clear()
    sys.stdout.flush()
    subprocess.run([binary, "hvp", onnx_path, data_path, "--repeats", str(repeats)], check=True)
    for mode in ["reverse-over-reverse", "forward-over-reverse"]:
        subprocess.run([binary, "hvp", onnx_path, data_path, "--only", "hvp", "--mode", mode], check=True)
