"""Exports the model families users bring (torchvision and Hugging Face, random init, small configs) with both of
PyTorch's ONNX exporters and checks `curvature` on each against PyTorch on the same weights and data:
  - `curvature eval --precision float` against the module's own loss in float32, to 1e-5 relative;
  - `curvature spectrum --top-k 1` (double) against a Lanczos run in PyTorch (double backward, float64), to 1e-4.
With --eval-only (the large torchvision families: Wide ResNet-50-2, MobileNetV2, EfficientNet-B0, ConvNeXt-Tiny),
only the loss is compared, with the parameter count.
Usage: python Benchmarks/real_models_crosscheck.py CURVATURE WORKDIR [--eval-only] [FAMILY...]   (scripts/crosschecks/real-models.sh)
"""
import collections, json, os, subprocess, sys, time, warnings
import numpy as np
import onnx, torch, torchvision, transformers
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(__file__))
from real_model_families import FAMILIES, SAMPLES, export, references  # noqa: E402

curvature, work = sys.argv[1], sys.argv[2]
eval_only = "--eval-only" in sys.argv
chosen = [a for a in sys.argv[3:] if a != "--eval-only"]
EVAL_ONLY_FAMILIES = ["wide_resnet50_2", "mobilenet_v2", "efficientnet_b0", "convnext_tiny"]


def run(args):
    result = subprocess.run([curvature] + args + ["--format", "json"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}")
    return json.loads(result.stdout)


print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}, transformers {transformers.__version__}, onnx {onnx.__version__}")
failures = 0
for name in chosen or [f for f in FAMILIES if (f in EVAL_ONLY_FAMILIES) == eval_only]:
    model, inputs, arrays, kind, loss, reference, top, n_torch = references(name, eigenvalue=not eval_only)
    np.savez(f"{work}/{name}.npz", **arrays)
    for exporter in ("dynamo=False", "dynamo=True"):
        path = f"{work}/{name}-{'dynamo' if exporter == 'dynamo=True' else 'torchscript'}.onnx"
        try:
            export(model, inputs, kind, path, dynamo=exporter == "dynamo=True")
            ops = collections.Counter(n.op_type for n in onnx.load(path, load_external_data=False).graph.node)
            common = [path, "--data", f"{work}/{name}.npz", "--loss", loss, "--batch-size", str(SAMPLES)]
            start = time.time()
            ours = run(["eval"] + common + ["--precision", "float"])
            loss_error = abs(ours["loss"] - reference) / abs(reference)
            ok = loss_error < 1e-5 and ours["n_parameters"] == n_torch
            top_text = ""
            if not eval_only:
                spectrum = run(["spectrum"] + common + ["--top-k", "1"])
                top_error = abs(spectrum["top_eigenvalues"][0] - top) / abs(top)
                ok = ok and top_error < 1e-4
                top_text = f"  top {spectrum['top_eigenvalues'][0]:.7g} vs {top:.7g} ({top_error:.1e})"
            seconds = time.time() - start
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'}  {name:18s} {exporter:12s} {sum(ops.values()):4d} nodes  n_parameters {ours['n_parameters']} "
                  f"(torch {n_torch})  loss {ours['loss']:.7f} vs {reference:.7f} ({loss_error:.1e}){top_text}  {seconds:.1f} s"
                  + ("  [BatchNorm folded]" if ours.get("batch_norm_folded") else ""))
        except Exception as error:
            failures += 1
            print(f"FAIL  {name:18s} {exporter:12s} {str(error)[:300]}")
print("agreement:", "yes" if failures == 0 else f"no ({failures} failed)")
sys.exit(1 if failures else 0)
