#!/usr/bin/env bash
# GEMM GFLOP/s of Curvature (Debian's OpenBLAS) beside numpy's (its bundled OpenBLAS) in one run, at 1 and 2
# threads, n = 1024 and 2048, Float and Double. Prints versions and raw lines; see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-10}"
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-bench numpy)"
(cd Benchmarks && swift build -c release --product CurvatureBenchmarks >&2)
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# $(swift --version 2>&1 | head -1); OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || dpkg-query -W -f='${Version}' libopenblas0)"
echo "# numpy $("$python" -c 'import numpy; print(numpy.__version__)'); $("$python" --version)"
Benchmarks/.build/release/CurvatureBenchmarks gemm --repeats "$repeats"
for threads in 1 2; do
  OPENBLAS_NUM_THREADS=$threads "$python" Benchmarks/gemm_numpy.py "$repeats"
done
