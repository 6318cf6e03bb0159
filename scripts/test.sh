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
bash scripts/checks/cli.sh "$curvature"
python3 scripts/checks/hostile.py "$curvature"
bash scripts/checks/interrupt.sh "$curvature"
# A bounded run per reader keeps CI within its budget; CURVATURE_FUZZ_SECONDS=60 (or more) fuzzes longer.
bash scripts/checks/fuzz.sh
OPENBLAS_NUM_THREADS=1 bash scripts/checks/mpi.sh "$curvature"
bash scripts/checks/examples.sh "${build[@]}"
OPENBLAS_NUM_THREADS=1 bash scripts/checks/docs.sh "$curvature"
bash scripts/checks/consumer.sh
bash scripts/checks/docs-catalog.sh .build/symbol-graphs
bash scripts/checks/reports.sh "$curvature"
# Swift Testing runs tests in parallel on every core; OpenBLAS threads on top of that oversubscribe the cores and
# make BLAS-heavy tests several times slower, so each BLAS call runs on the calling thread here.
OPENBLAS_NUM_THREADS=1 swift test "${build[@]}" --skip-build
