"""Curvature beside loss-landscape (Li et al. 2018), with loss-landscape's own code, and the export helper beside
PyTorch. Run by scripts/crosschecks/loss-landscape.sh; prints what it compared and exits non-zero on a disagreement.

1. Models exported from PyTorch by python/curvature_export.py (a CIFAR-sized CNN with BatchNorm, torchvision's
   ResNet-18, a Hugging Face BERT classifier, all at random init): `curvature eval` equals PyTorch's cross-entropy.
2. Directions made by loss-landscape's net_plotter.create_random_direction (filter-normalised, biases and BatchNorm
   zeroed) and written by its h5_util.write_list, as its setup_direction does, drive `curvature landscape --axes file`;
   every grid point's loss equals loss-landscape's evaluation.eval_loss after net_plotter.set_weights at the same
   coordinates (float32 on both sides).
3. loss-landscape's plot_2D.plot_2d_contour, plot_1D.plot_1d_loss_err and h52vtp.h5_to_vtp read our surface.h5 files
   and draw them.

Usage: python loss_landscape_crosscheck.py CURVATURE LOSS_LANDSCAPE_DIR WORK_DIR
"""
import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import torch

curvature, lib, work = sys.argv[1:4]
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
sys.path.insert(0, lib)
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from curvature_export import export  # noqa: E402
import evaluation  # noqa: E402  (loss-landscape's)
import h5_util  # noqa: E402
import h52vtp  # noqa: E402
import net_plotter  # noqa: E402
import plot_1D  # noqa: E402
import plot_2D  # noqa: E402
import h5py  # noqa: E402

failures = 0


def check(ok, message):
    global failures
    print(("ok    " if ok else "FAIL  ") + message)
    failures += 0 if ok else 1


def run(*arguments):
    result = subprocess.run([curvature, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"curvature {' '.join(arguments)} failed: {result.stderr}")
    return result.stdout


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(16, 10))


def randomize_batchnorm(net):
    """Running statistics and affine parameters away from their initial 0/1, so BatchNorm does something."""
    generator = torch.Generator().manual_seed(1)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.copy_(0.1 * torch.randn(module.num_features, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))
                module.weight.copy_(1 + 0.1 * torch.randn(module.num_features, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.num_features, generator=generator))
    return net


# 1. The export helper, then curvature eval.
torch.manual_seed(0)
images, labels = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
import torchvision  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

bert = BertForSequenceClassification(BertConfig(
    vocab_size=200, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
    max_position_embeddings=64, num_labels=3))
token_ids, classes = torch.randint(0, 200, (16, 24)), torch.randint(0, 3, (16,))
models = {
    "cnn": (randomize_batchnorm(cnn()), (images, labels), {}),
    "resnet18": (randomize_batchnorm(torchvision.models.resnet18(num_classes=10)), (images[:32], labels[:32]), {}),
    "bert": (bert, (token_ids, classes), {"input_name": "input_ids"}),
}
for name, (model, data, options) in models.items():
    onnx_path, data_path = os.path.join(work, f"{name}.onnx"), os.path.join(work, f"{name}.npz")
    torch_loss = export(model, data, onnx_path, data_path, **options)
    ours = json.loads(run("eval", onnx_path, "--data", data_path, "--precision", "float", "--format", "json"))["loss"]
    difference = abs(ours - torch_loss) / abs(torch_loss)
    check(difference <= 1e-5, f"export + eval, {name}: curvature {ours:.8f}, torch {torch_loss:.8f}, relative difference {difference:.1e}")


# 2. loss-landscape's direction file drives our grid; its eval_loss at the same points.
def landscape(name, model_name, counts):
    model, data, _ = models[model_name]
    onnx_path, data_path = os.path.join(work, f"{model_name}.onnx"), os.path.join(work, f"{model_name}.npz")
    dir_file = os.path.join(work, f"{name}_directions.h5")
    torch.manual_seed(3)
    xdirection = net_plotter.create_random_direction(model, dir_type="weights", ignore="biasbn", norm="filter")
    ydirection = net_plotter.create_random_direction(model, dir_type="weights", ignore="biasbn", norm="filter")
    with h5py.File(dir_file, "w") as f:
        h5_util.write_list(f, "xdirection", xdirection)
        if counts[1] > 1:
            h5_util.write_list(f, "ydirection", ydirection)
    surface = os.path.join(work, f"{name}_surface.h5")
    span = f"-1:1:{counts[0]}" + (f",-1:1:{counts[1]}" if counts[1] > 1 else "")
    record = json.loads(run("landscape", onnx_path, "--data", data_path, "--axes", "file", "--directions", dir_file,
                            "--range", span, "--precision", "float", "--quiet", "--out", surface, "--format", "json"))
    ours = np.array(record["grid"]["loss"], dtype=np.float64)
    # loss-landscape's side, as plot_surface.crunch does it: set_weights(net, w, d, coord) then eval_loss.
    directions = net_plotter.load_directions(dir_file)
    weights = [w.clone() for w in net_plotter.get_weights(model)]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*data), batch_size=32)
    xs = np.linspace(-1, 1, counts[0])
    ys = np.linspace(-1, 1, counts[1]) if counts[1] > 1 else [None]
    theirs = np.zeros((len(ys), len(xs)))
    for j, b in enumerate(ys):
        for i, a in enumerate(xs):
            net_plotter.set_weights(model, weights, directions, [a, b] if b is not None else a)
            theirs[j, i] = evaluation.eval_loss(model, torch.nn.CrossEntropyLoss(), loader)[0]
    net_plotter.set_weights(model, weights)
    theirs = theirs.reshape(ours.shape)
    difference = np.max(np.abs(ours - theirs) / np.maximum(1, np.abs(theirs)))
    check(difference <= 1e-5, f"landscape, {name}: {ours.size} points from loss-landscape's direction file, "
                              f"losses {theirs.min():.4f}..{theirs.max():.4f}, max relative difference {difference:.1e}")
    return surface


surface2d = landscape("cnn", "cnn", (5, 5))
landscape("resnet18", "resnet18", (3, 3))
surface1d = landscape("cnn_1d", "cnn", (7, 1))

# 3. loss-landscape's plotting and VTK conversion read our surface files.
with h5py.File(surface2d, "r") as f:
    check(sorted(f.keys()) == ["dir_file", "train_acc", "train_loss", "xcoordinates", "ycoordinates"] and f["train_loss"].shape == (5, 5),
          f"surface.h5 keys {sorted(f.keys())}, train_loss {f['train_loss'].shape}, seed attribute {f.attrs['seed'].decode()}")
quiet = contextlib.redirect_stdout(io.StringIO())  # loss-landscape's scripts print their arrays
with quiet:
    plot_2D.plot_2d_contour(surface2d, "train_loss", 0.1, 10, 0.5, False)
drawn = [p for p in os.listdir(work) if p.startswith("cnn_surface.h5_train_loss") and p.endswith(".pdf")]
check(len(drawn) == 4, f"plot_2D.plot_2d_contour drew {len(drawn)} PDFs from our surface.h5: {', '.join(sorted(drawn))}")
with contextlib.redirect_stdout(io.StringIO()):
    plot_1D.plot_1d_loss_err(surface1d, -1.0, 1.0, 5, False, False)
drawn = [p for p in os.listdir(work) if p.startswith("cnn_1d_surface.h5") and p.endswith(".pdf")]
check(len(drawn) >= 2, f"plot_1D.plot_1d_loss_err drew {len(drawn)} PDFs from our 1-D surface.h5")
with contextlib.redirect_stdout(io.StringIO()):
    h52vtp.h5_to_vtp(surface2d, "train_loss", log=True)
check(os.path.exists(surface2d + "_train_loss_log.vtp"), "h52vtp.h5_to_vtp wrote the ParaView file from our surface.h5")

print("agreement: " + ("yes" if failures == 0 else f"no ({failures} failed)"))
sys.exit(1 if failures else 0)
