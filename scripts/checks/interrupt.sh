#!/usr/bin/env bash
# Kill -9 at random moments, then resume: spectrum (--resume), landscape (--resume) and HTSR (rerun) must end
# bit-identical to an uninterrupted run, and no output file may be left half-written under its final name.
# The moments are drawn from a seed, printed so a failure can be replayed: CURVATURE_INTERRUPT_SEED=N.
# Usage: scripts/checks/interrupt.sh PATH_TO_CURVATURE
set -uo pipefail
curvature="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$(dirname "$0")/../.."
root="$PWD"
seed="${CURVATURE_INTERRUPT_SEED:-$(date +%s)}"
RANDOM=$seed
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
export OPENBLAS_NUM_THREADS=1
failures=0
kills_delivered=0
fail() { echo "Interrupt check failed (seed $seed): $*" >&2; failures=$((failures + 1)); }

# Runs "$@" killed with SIGKILL after a random 0.2-2.2 s, again and again, until a run ends by itself (after `kills`
# kills it is left to finish). Its stdout is in last.out.
interrupted() {
  local kills=$1; shift
  for ((attempt = 1; ; attempt++)); do
    "$@" >last.out 2>last.err &
    local pid=$!
    if ((attempt <= kills)); then
      sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 200) / 100 }')"
      kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    local status=$?
    [ $status -eq 137 ] && kills_delivered=$((kills_delivered + 1))
    [ $status -eq 0 ] && return 0
    [ $status -ne 137 ] && { fail "$1 $2 exited $status: $(cat last.err)"; return 1; }
  done
}

model="$root/Tests/ModelImportTests/Fixtures/mlp.onnx"
spectrum=(spectrum "$model" --data digits --top-k 0 --trace --matvecs 200 --density slq --probes 16 --steps 40 --format json --quiet)
"$curvature" "${spectrum[@]}" --resume reference.json >spectrum.reference || fail "spectrum reference run"
interrupted 4 "$curvature" "${spectrum[@]}" --resume state.json && { cmp -s last.out spectrum.reference || fail "resumed spectrum differs from the uninterrupted one"; }

landscape=(landscape "$model" --data digits --grid 31x31 --workers 1 --quiet)
"$curvature" "${landscape[@]}" --out landscape.reference.csv >/dev/null || fail "landscape reference run"
interrupted 4 "$curvature" "${landscape[@]}" --resume state.npz --out landscape.csv && { cmp -s landscape.csv landscape.reference.csv || fail "resumed landscape differs from the uninterrupted one"; }

# Three 800 x 1000 Gaussian layers (seeded), so an HTSR run lasts long enough to be killed part way.
python3 - <<'PY'
import array, json, random, struct
rng, tensors, offset, blobs = random.Random(7), {}, 0, []
for k in range(3):
    blob = array.array("f", (rng.gauss(0, 0.03) for _ in range(800 * 1000))).tobytes()
    tensors[f"layer{k}.weight"] = {"dtype": "F32", "shape": [800, 1000], "data_offsets": [offset, offset + len(blob)]}
    offset += len(blob)
    blobs.append(blob)
header = json.dumps(tensors).encode()
with open("layers.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header + b"".join(blobs))
PY
htsr=(htsr layers.safetensors --randomize --detx --format json --quiet)
"$curvature" "${htsr[@]}" --report reference.html >htsr.reference || fail "htsr reference run"
interrupted 3 "$curvature" "${htsr[@]}" --report report.html && { cmp -s last.out htsr.reference && cmp -s report.html reference.html || fail "rerun HTSR differs from the uninterrupted one"; }

# Whatever was killed, every file under a final name is whole: the checkpoints read back, and no temporary is left
# where a reader would take it for the output.
for file in state.json state.npz landscape.csv report.html; do
  [ -s "$file" ] || fail "$file is missing or empty"
done
[ $failures -eq 0 ] && echo "Interrupt checks passed (seed $seed): spectrum, landscape and HTSR killed $kills_delivered times in all and resumed, bit-identical"
exit $((failures > 0))
