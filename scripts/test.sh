#!/usr/bin/env bash
# The README's test command (and what .ci/run runs): installs what is missing, checks the CLI's behaviour
# end to end and under mpirun, runs the examples and every command the docs show, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
swift build --product curvature
bash scripts/cli-checks.sh "$(swift build --show-bin-path)/curvature"
OPENBLAS_NUM_THREADS=1 bash scripts/mpi-checks.sh "$(swift build --show-bin-path)/curvature"
bash scripts/run-examples.sh
OPENBLAS_NUM_THREADS=1 bash scripts/docs-check.sh "$(swift build --show-bin-path)/curvature"
# Swift Testing runs tests in parallel on every core; OpenBLAS threads on top of that oversubscribe the cores and
# make BLAS-heavy tests several times slower, so each BLAS call runs on the calling thread here.
OPENBLAS_NUM_THREADS=1 swift test
