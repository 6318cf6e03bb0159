"""Export a PyTorch model and its data the way `curvature eval|spectrum|landscape` read them.

A user's bridge, not part of Curvature (the `curvature` tool needs no Python). One call writes:

- MODEL.onnx with the TorchScript exporter (`dynamo=False`), in eval mode with BatchNorm kept as BatchNormalization
  nodes (the default dynamo exporter folds it into the convolutions, a different parameterisation), constant
  folding off (parameters stay initializers under their PyTorch names: `layer1.0.bn1.weight`), the graph's input and
  output named, and the batch axis dynamic;
- DATA.npz with the inputs as `x` (float32, or int64 token ids) and the integer class labels as `y`.

Then:

    curvature eval MODEL.onnx --data DATA.npz
    curvature spectrum MODEL.onnx --data DATA.npz --top-k 5
    curvature landscape MODEL.onnx --data DATA.npz --grid 21x21 --out surface.h5

The loss is classification cross-entropy (PyTorch's `CrossEntropyLoss`, the mean over samples): the model must return
logits `[batch, classes]`. Hugging Face models are exported with `return_dict=False`, so their first output is the
logits and parameters keep their names (`bert.encoder.layer.0.attention.self.query.weight`). Other models returning
a structure are wrapped, and their parameter names gain the prefix `model.`.

    from curvature_export import export
    export(model, loader, "model.onnx", "data.npz", loss=torch.nn.CrossEntropyLoss(), limit=512)   # a DataLoader
    export(model, (images, labels), "model.onnx", "data.npz")              # tensors
    export(bert, (input_ids, labels), "bert.onnx", "bert.npz", input_name="input_ids")

Command line, for a model saved whole with torch.save and data saved as a tuple (inputs, labels):

    python curvature_export.py model.pt data.pt model.onnx data.npz [--limit N]
"""
import argparse
import itertools

import numpy as np
import torch


class _Logits(torch.nn.Module):
    """The model with its output reduced to the logits tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        output = self.model(x)
        if isinstance(output, torch.Tensor):
            return output
        if hasattr(output, "logits"):
            return output.logits
        if isinstance(output, (tuple, list)):
            return output[0]
        raise TypeError(f"the model returned {type(output).__name__}; curvature needs logits [batch, classes]")


def _collect(data, limit):
    """(inputs, labels) tensors from a DataLoader (or any iterable of batches) or from a pair of tensors."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        inputs, labels = data
    else:
        xs, ys, count = [], [], 0
        for batch in data:
            x, y = batch[0], batch[1]
            xs.append(x)
            ys.append(y)
            count += len(y)
            if limit is not None and count >= limit:
                break
        inputs, labels = torch.cat(xs), torch.cat(ys)
    if limit is not None:
        inputs, labels = inputs[:limit], labels[:limit]
    if labels.dtype.is_floating_point or labels.dim() != 1:
        raise ValueError(f"labels must be integer class indices of shape [n], got {labels.dtype} {tuple(labels.shape)}")
    if len(inputs) != len(labels):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
    return inputs, labels


def _check_loss(loss):
    """Curvature's CLI computes PyTorch's default CrossEntropyLoss (mean over samples); refuse anything else by name."""
    if loss in ("cross_entropy", "cross-entropy"):
        return
    if isinstance(loss, torch.nn.CrossEntropyLoss):
        changed = [name for name, value in (("weight", loss.weight), ("label_smoothing", loss.label_smoothing or None))
                   if value is not None]
        if loss.reduction != "mean":
            changed.append(f"reduction={loss.reduction!r}")
        if loss.ignore_index != -100:
            changed.append(f"ignore_index={loss.ignore_index}")
        if not changed:
            return
        raise ValueError(f"curvature computes CrossEntropyLoss() with its defaults; this one sets {', '.join(changed)}")
    raise ValueError(f"curvature's CLI knows the classification cross-entropy only, not {loss!r}")


def export(model, data, onnx_path, data_path, loss="cross_entropy", limit=None, input_name="input", output_name="logits", opset=17):
    """Writes `onnx_path` and `data_path` as described above; returns PyTorch's mean cross-entropy on the data,
    which `curvature eval ONNX --data DATA` reproduces. `loss` is "cross_entropy" or a default
    `torch.nn.CrossEntropyLoss()`: what `curvature` computes (a ValueError says so for any other)."""
    _check_loss(loss)
    inputs, labels = _collect(data, limit)
    model = model.eval()
    config = getattr(model, "config", None)
    return_dict = getattr(config, "return_dict", None)
    if return_dict is not None:
        config.return_dict = False
    try:
        example = inputs[: min(2, len(inputs))]
        with torch.no_grad():
            output = model(example)
            first = output[0] if isinstance(output, (tuple, list)) else output
            traced = model if isinstance(first, torch.Tensor) else _Logits(model).eval()
            torch.onnx.export(
                traced, (example,), onnx_path, input_names=[input_name], output_names=[output_name],
                dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, opset_version=opset,
                training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False, dynamo=False)
            logits = _Logits(model)(inputs)
            loss = torch.nn.functional.cross_entropy(logits.double(), labels).item()
    finally:
        if return_dict is not None:
            config.return_dict = return_dict
    x = inputs.numpy() if not inputs.dtype.is_floating_point else inputs.float().numpy()
    np.savez(data_path, x=x, y=labels.numpy().astype(np.int64))
    return loss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model saved whole with torch.save(model, PATH)")
    parser.add_argument("data", help="torch.save((inputs, labels), PATH)")
    parser.add_argument("onnx", help="the ONNX file to write")
    parser.add_argument("npz", help="the .npz data file to write")
    parser.add_argument("--limit", type=int, help="at most this many samples")
    parser.add_argument("--input-name", default="input")
    args = parser.parse_args()
    model = torch.load(args.model, weights_only=False)
    inputs, labels = torch.load(args.data, weights_only=False)
    loss = export(model, (inputs, labels), args.onnx, args.npz, limit=args.limit, input_name=args.input_name)
    print(f"wrote {args.onnx} and {args.npz}; PyTorch's cross-entropy on the data: {loss:.8g}")


if __name__ == "__main__":
    main()
