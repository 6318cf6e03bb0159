#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release CLI, and runs `curvature demo`: a small
# CNN trained on the shipped digits (seeded, seconds), then its Hessian spectrum, HTSR table and loss landscape,
# with the plots and the grid written to ./curvature-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
swift build -c release --product curvature >&2
"$(swift build -c release --show-bin-path)/curvature" demo "$@"
