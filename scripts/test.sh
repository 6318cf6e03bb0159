#!/usr/bin/env bash
# The README's test command (and what .ci/run runs): installs what is missing, checks the CLI's behaviour
# end to end, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
swift build --product curvature
bash scripts/cli-checks.sh "$(swift build --show-bin-path)/curvature"
swift test
