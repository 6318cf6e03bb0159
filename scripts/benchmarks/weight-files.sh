#!/usr/bin/env bash
# `curvature info` and full reads on a ~100 MB safetensors file, beside the safetensors Python package, in one run.
# Prints versions and raw lines; see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-5}"
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-bench numpy safetensors)"
swift build -c release --product curvature >&2
(cd Benchmarks && swift build -c release --product CurvatureBenchmarks >&2)
file="${TMPDIR:-/tmp}/curvature-bench-100mb.safetensors"
"$python" Benchmarks/weight_files.py "$file" 1 >/dev/null  # creates the file once
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
curvature="$(swift build -c release --show-bin-path)/curvature"
for run in $(seq "$repeats"); do
  start=$(date +%s%N)
  "$curvature" info "$file" >/dev/null
  end=$(date +%s%N)
  echo "swift cli curvature_info_process_s=$(awk "BEGIN {printf \"%.4f\", ($end - $start) / 1e9}") run=$run"
done
Benchmarks/.build/release/CurvatureBenchmarks read "$file" --repeats "$repeats"
"$python" Benchmarks/weight_files.py "$file" "$repeats"
# Peak memory while reading a 1 GiB file tensor by tensor (16 tensors of 64 MiB).
big="${TMPDIR:-/tmp}/curvature-bench-1gb.safetensors"
[ -f "$big" ] || "$python" -c "
import numpy as np, safetensors.numpy
safetensors.numpy.save_file({f'layer{i}.weight': np.full((4096, 4096), i, dtype=np.float32) for i in range(16)}, '$big')"
Benchmarks/.build/release/CurvatureBenchmarks read-once "$big"
