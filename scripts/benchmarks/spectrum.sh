#!/usr/bin/env bash
# curvature spectrum beside PyHessian (PyPI) on the same trained model and data, both against the dense truth.
set -euo pipefail
cd "$(dirname "$0")/../.."
samples="${1:-500}"
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy torch onnx pyhessian)"
swift build -c release --product curvature >&2
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
"$python" Benchmarks/spectrum_pyhessian.py "$(swift build -c release --show-bin-path)/curvature" "$samples"
