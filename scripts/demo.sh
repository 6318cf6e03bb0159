#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release CLI, and runs every analysis on the
# example model (an MLP trained on the shipped digits data; scripts/fixtures/make_example_model.py).
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
run landscape Examples/models/digits_mlp.onnx --data digits --grid 31x31 \
  --out curvature-demo/landscape.npz curvature-demo/landscape.svg curvature-demo/landscape.vtp
run landscape Examples/models/digits_mlp.onnx --data digits --axes pca --trajectory 'Examples/models/trajectory/*.safetensors' \
  --grid 31x31 --log-scale --out curvature-demo/trajectory.svg
echo "(curvature-demo/landscape.svg: loss contours on a filter-normalised random plane; trajectory.svg: the PCA plane of training, path drawn)"
run htsr Examples/models/digits_mlp.safetensors
