#!/usr/bin/env bash
# Data-parallel runs under Open MPI against the single-process run: eval, spectrum (Lanczos, trace, SLQ and KPM
# densities), landscape (with a resume across a different rank count) and htsr, each under mpirun -np 2 and -np 3,
# must print what one process prints, numbers to 1e-10 relative (Double); a failure on one rank must end the run
# with one line naming that rank. See docs/distributed.md.
# Usage: scripts/checks/mpi.sh PATH_TO_CURVATURE
set -uo pipefail
curvature="$1"
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
checks=0
# As root (CI, containers) Open MPI wants to be told; more ranks than cores need oversubscription.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi() { local ranks="$1"; shift; timeout 300 mpirun -q --oversubscribe -np "$ranks" "$curvature" "$@"; }

number='-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?'
# Lanczos residuals ||H v - lambda v|| are error bounds below the tolerance, not results: rounding in the products
# moves them, so they are left out of the comparison.
# A density's values are one function, compared on its own scale: each is divided by the array's largest magnitude,
# since near a zero crossing an element's own size says nothing of the rounding in it (KPM's sums cancel there).
results() {
  awk '/"residuals" : \{/ { skip = 1 } skip && /^ *\},?$/ { skip = 0; next } skip { next }
    /"values" : \[$/ { print; inside = 1; n = 0; scale = 0; next }
    inside && /^ *\],?$/ { for (i = 1; i <= n; i++) printf "%.17g\n", (scale > 0 ? v[i] / scale : v[i]); print; inside = 0; next }
    inside { x = $1; sub(/,$/, "", x); v[++n] = x + 0; a = v[n] < 0 ? -v[n] : v[n]; if (a > scale) scale = a; next }
    { print }' "$1"
}
# same FILE_A FILE_B: the same text once numbers are masked, and every number within 1e-10 relative (1e-12 absolute).
same() {
  results "$1" >"$1.results"
  results "$2" >"$2.results"
  set -- "$1.results" "$2.results"
  diff <(sed -E "s/$number/#/g" "$1") <(sed -E "s/$number/#/g" "$2") >/dev/null || { echo "  the text differs"; return 1; }
  paste <(grep -oE -- "$number" "$1") <(grep -oE -- "$number" "$2") | awk '
    { a = $1 + 0; b = $2 + 0; d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); n = (b < 0 ? -b : b); if (n > m) m = n
      if (d > 1e-10 * m + 1e-12) { bad++; if (bad <= 5) printf "  %s vs %s\n", $1, $2 } }
    END { exit bad > 0 }'
}

# check NAME ARGS...: one process, then 2 and 3 ranks, each compared with the first.
check() {
  local name="$1"; shift
  checks=$((checks + 1))
  if ! "$curvature" "$@" >"$work/one" 2>"$work/err"; then
    echo "MPI check failed: $name: the single-process run failed: $(cat "$work/err")" >&2
    failures=$((failures + 1)); return
  fi
  for ranks in 2 3; do
    if ! mpi "$ranks" "$@" >"$work/many" 2>"$work/err"; then
      echo "MPI check failed: $name: -np $ranks exited non-zero: $(cat "$work/err")" >&2
      failures=$((failures + 1)); continue
    fi
    if ! same "$work/one" "$work/many" >"$work/why"; then
      echo "MPI check failed: $name: -np $ranks differs from one process:" >&2
      cat "$work/why" >&2
      failures=$((failures + 1))
    fi
  done
}

model=Examples/models/digits_mlp.onnx
check "eval" eval "$model" --data digits --format json
check "spectrum: Lanczos top and bottom, Hutchinson trace, SLQ density" \
  spectrum "$model" --data digits --limit 600 --batch-size 128 --top-k 3 --bottom-k 1 --trace --matvecs 20 --density slq --probes 3 --steps 20 --format json
check "spectrum: GGN, KPM density, per layer" \
  spectrum "$model" --data digits --limit 400 --operator ggn --top-k 2 --density kpm --probes 3 --steps 20 --per-layer --format json
check "landscape: Hessian axes" landscape "$model" --data digits --limit 300 --grid 7x5 --axes hessian --format json
check "htsr" htsr Examples/models/digits_mlp.safetensors --format csv
check "htsr with randomisation" htsr Examples/models/digits_mlp.safetensors --randomize --seed 3 --format json

# A landscape checkpoint written by 2 ranks (one shard of a single run) is finished by 3 ranks.
checks=$((checks + 1))
"$curvature" landscape "$model" --data digits --limit 300 --grid 9x5 --format json >"$work/full.json" 2>/dev/null
"$curvature" landscape "$model" --data digits --limit 300 --grid 9x5 --shard 0/2 --resume "$work/part.npz" >/dev/null 2>&1
if ! mpi 3 landscape "$model" --data digits --limit 300 --grid 9x5 --resume "$work/part.npz" --format json >"$work/resumed.json" 2>"$work/err" \
   || ! same "$work/full.json" "$work/resumed.json" >"$work/why"; then
  echo "MPI check failed: landscape resumed by 3 ranks: $(cat "$work/err" "$work/why")" >&2
  failures=$((failures + 1))
fi

# A fault on one rank (a NaN in the last sample, which only the last rank reads) ends every rank with one line naming
# it; so does a missing file (every rank fails alike: one line, from rank 0).
checks=$((checks + 1))
{
  printf 'f%d,' $(seq 0 63); echo label
  for row in $(seq 1 9); do printf '0.5,%.0s' $(seq 1 64); echo 1; done
  printf '0.5,%.0s' $(seq 1 63); echo nan,1
} >"$work/nan_tail.csv"
mpi 2 eval "$model" --data "$work/nan_tail.csv" >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -eq 0 ] || [ "$(wc -l <"$work/err")" -ne 1 ] || ! grep -q "^Error: rank 1 of 2: .*NaN" "$work/err"; then
  echo "MPI check failed: a NaN on rank 1: exit $status, stderr: $(cat "$work/err")" >&2
  failures=$((failures + 1))
fi
checks=$((checks + 1))
mpi 2 eval "$model" --data "$work/missing.npz" >"$work/out" 2>"$work/err"
status=$?
if [ "$status" -eq 0 ] || [ "$(wc -l <"$work/err")" -ne 1 ] || ! grep -q "^Error: rank 0 of 2: .*missing.npz" "$work/err"; then
  echo "MPI check failed: a missing data file: exit $status, stderr: $(cat "$work/err")" >&2
  failures=$((failures + 1))
fi

echo "$checks MPI checks, $failures failed"
[ "$failures" -eq 0 ]
