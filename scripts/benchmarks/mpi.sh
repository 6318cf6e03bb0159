#!/usr/bin/env bash
# Data-parallel runs on this machine: the same spectrum (top-3 Lanczos + 20 Hutchinson probes, Double) with 1 and 2
# ranks, one BLAS thread each (and 1 rank with 2 threads, what a run without MPI gets), on the digits MLP over the
# 1797 digits and over 20000 synthetic samples; then the time of one sum of P doubles over 2 ranks. Medians of
# REPEATS runs (default 3). See docs/distributed.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
repeats="${1:-3}"
bash scripts/install-dependencies.sh
swift build -c release --product curvature >&2
(cd Benchmarks && swift build -c release --product CurvatureBenchmarks >&2)
curvature="$(swift build -c release --show-bin-path)/curvature"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $(mpirun --version | head -1)"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
timed() {  # timed LABEL COMMAND...: median wall time of REPEATS runs, and the range
  local label="$1" times=()
  shift
  for _ in $(seq "$repeats"); do
    local start end
    start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
  done
  printf '%s median_s=%s range_s=%s..%s\n' "$label" "$(printf '%s\n' "${times[@]}" | median)" \
    "$(printf '%s\n' "${times[@]}" | sort -n | head -1)" "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)"
}
for data in digits "synthetic:samples=20000,features=64,classes=10,seed=1"; do
  run=(spectrum Examples/models/digits_mlp.onnx --data "$data" --top-k 3 --trace --matvecs 20 --quiet)
  echo "# data $data: $("$curvature" "${run[@]}" --format json | grep -m 2 -E '"(matvecs|n_samples)"' | tr -d ' \n')"
  timed "np=1 blas_threads=2" env OPENBLAS_NUM_THREADS=2 "$curvature" "${run[@]}"
  timed "np=1 blas_threads=1" env OPENBLAS_NUM_THREADS=1 mpirun -q -np 1 "$curvature" "${run[@]}"
  timed "np=2 blas_threads=1" mpirun -q -np 2 -x OPENBLAS_NUM_THREADS=1 "$curvature" "${run[@]}"
done
mpirun -q -np 2 Benchmarks/.build/release/CurvatureBenchmarks allreduce --repeats 20
