#!/usr/bin/env bash
# curvature spectrum's trace and density beside PyHessian and hessian-eigenthings (PyPI), same model and data, one run,
# all scored against the dense Hessian.
set -euo pipefail
cd "$(dirname "$0")/../.."
samples="${1:-500}"
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy torch onnx pyhessian hessian-eigenthings==1.0.0a5)"
swift build -c release --product curvature >&2
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
"$python" Benchmarks/density_benchmark.py "$(swift build -c release --show-bin-path)/curvature" "$samples"
