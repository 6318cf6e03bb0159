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
mkdir -p curvature-demo
run spectrum Examples/models/digits_mlp.onnx --data digits --top-k 5 --trace --trace-method xtrace \
  --density slq --probes 4 --plot curvature-demo/density.svg
echo "(curvature-demo/density.svg: the Hessian's spectral density, outliers marked)"
run htsr Examples/models/digits_mlp.safetensors
