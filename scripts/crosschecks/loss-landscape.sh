#!/usr/bin/env bash
# Curvature beside loss-landscape (Li et al. 2018) with loss-landscape's own code, and python/curvature_export.py
# beside PyTorch (Benchmarks/loss_landscape_crosscheck.py says what is compared; docs/landscape.md shows the output).
# loss-landscape is not a package: give a checkout as LOSS_LANDSCAPE_DIR, or this clones it (pinned commit).
# CURVATURE=PATH uses a curvature binary already built instead of building one.
# Usage: scripts/crosschecks/loss-landscape.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy h5py onnx torch torchvision transformers matplotlib seaborn scipy)"
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"  # absolute, not resolved: the venv's own python
curvature="${CURVATURE:-}"
if [ -z "$curvature" ]; then
  swift build -c release --product curvature >&2
  curvature="$(swift build -c release --show-bin-path)/curvature"
fi
curvature="$(realpath "$curvature")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
commit=64ef4d57f8dabe79b57a637819c44e48eda98f33
library="${LOSS_LANDSCAPE_DIR:-}"
if [ -z "$library" ]; then
  git clone -q https://github.com/tomgoldstein/loss-landscape "$work/loss-landscape"
  git -C "$work/loss-landscape" checkout -q "$commit"
  library="$work/loss-landscape"
fi
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
echo "# loss-landscape $(git -C "$library" rev-parse --short HEAD 2>/dev/null || echo "at $library"); $("$python" -c 'import torch, torchvision, transformers, h5py; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, transformers {transformers.__version__}, h5py {h5py.__version__}")')"
(cd "$work" && "$python" -W ignore "$OLDPWD/Benchmarks/loss_landscape_crosscheck.py" "$curvature" "$library" "$work")
