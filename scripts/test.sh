#!/usr/bin/env bash
# The README's test command (and what .ci/run runs): installs what is missing, checks the CLI's behaviour
# end to end, against several hundred hostile inputs, killed and resumed, under a bounded fuzz run of every reader
# and under mpirun,
# runs the examples and every command the docs show, then runs the whole test suite.
# Everything is built once, optimised with testing enabled: the package has no unsafe flags (it must build as a
# versioned dependency), and unoptimised tensor loops would make the checks crawl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
# The symbol graphs for the DocC check come out of the same build.
build=(-c release -Xswiftc -enable-testing -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$PWD/.build/symbol-graphs")
mkdir -p .build/symbol-graphs
echo "Building (release, testing enabled; several minutes from a clean clone)..." >&2
log="$(mktemp)"
if ! swift build "${build[@]}" --build-tests >"$log" 2>&1; then cat "$log" >&2; exit 1; fi
tail -1 "$log" >&2
rm -f "$log"
curvature="$(swift build "${build[@]}" --show-bin-path)/curvature"
# Each step's time is summed up at the end, to keep the whole run within CI's budget.
times=()
step() { local name="$1" start=$SECONDS; shift; "$@"; times+=("$name $((SECONDS - start)) s"); }
step cli bash scripts/checks/cli.sh "$curvature"
step hostile python3 scripts/checks/hostile.py "$curvature"
step interrupt bash scripts/checks/interrupt.sh "$curvature"
# The fuzzer runs one process on one core: it goes alongside the mostly single-threaded checks that follow, and its
# report comes after them. A bounded run per reader keeps CI within its budget; CURVATURE_FUZZ_SECONDS=60 (or more)
# fuzzes longer.
fuzz_log="$(mktemp)"
fuzz_start=$SECONDS
bash scripts/checks/fuzz.sh >"$fuzz_log" 2>&1 &
fuzz_pid=$!
trap 'kill "$fuzz_pid" 2>/dev/null || true; rm -f "$fuzz_log"' EXIT
step mpi env OPENBLAS_NUM_THREADS=1 bash scripts/checks/mpi.sh "$curvature"
step examples bash scripts/checks/examples.sh "${build[@]}"
step docs env OPENBLAS_NUM_THREADS=1 bash scripts/checks/docs.sh "$curvature"
fuzz_status=0
wait "$fuzz_pid" || fuzz_status=$?
cat "$fuzz_log" >&2
[ $fuzz_status -eq 0 ] || exit 1
times+=("fuzz (alongside) $((SECONDS - fuzz_start)) s")
step consumer bash scripts/checks/consumer.sh
step docs-catalog bash scripts/checks/docs-catalog.sh .build/symbol-graphs
step reports bash scripts/checks/reports.sh "$curvature"
# Swift Testing runs tests in parallel on every core; OpenBLAS threads on top of that oversubscribe the cores and
# make BLAS-heavy tests several times slower, so each BLAS call runs on the calling thread here.
step unit-tests env OPENBLAS_NUM_THREADS=1 swift test "${build[@]}" --skip-build
(IFS=,; echo "All checks passed. Times:${times[*]/#/ }" >&2)
