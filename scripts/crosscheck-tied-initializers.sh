#!/usr/bin/env bash
# Tied ONNX initializers on torchvision's ResNet-18 (random init, TorchScript exporter) against PyTorch in float64:
# parameter count, loss, the Hessian block of bn1.bias, --weights by name. See docs/real-models.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy onnx torch torchvision)"
swift build -c release --product curvature >&2
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" Benchmarks/tied_initializers_crosscheck.py "$(swift build -c release --show-bin-path)/curvature" "$work"
