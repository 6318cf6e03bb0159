#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release CLI, and runs it on the shipped
# digits data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
swift build -c release --product curvature >&2
binary="$(swift build -c release --show-bin-path)/curvature"
"$binary" info Examples/data/digits.npz
