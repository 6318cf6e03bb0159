#!/usr/bin/env bash
# curvature landscape beside loss-landscape's PyTorch evaluation loop: same ONNX CNNs, data, directions and grid, one run.
# Usage: scripts/benchmarks/landscape.sh [POINTS_PER_AXIS] [MODELS]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-tools numpy torch onnx)"
swift build -c release --product curvature >&2
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
"$python" Benchmarks/landscape_benchmark.py "$(swift build -c release --show-bin-path)/curvature" "$@"
