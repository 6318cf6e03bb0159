#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release CLI, and runs the analyses that exist so
# far on the example model (an MLP trained on the shipped digits data; scripts/fixtures/make_example_model.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
swift build -c release --product curvature >&2
curvature="$(swift build -c release --show-bin-path)/curvature"
run() {
  echo
  echo "\$ curvature $*"
  "$curvature" "$@"
}
run info Examples/data/digits.npz
run eval Examples/models/digits_mlp.onnx --data digits
run spectrum Examples/models/digits_mlp.onnx --data digits --top-k 5
run htsr Examples/models/digits_mlp.safetensors
