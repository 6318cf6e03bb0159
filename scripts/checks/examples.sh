#!/usr/bin/env bash
# Builds and runs every program in Examples/ (in the configuration given, one BLAS thread), each in a scratch directory for its
# files. Each example checks its own result against ground truth and exits non-zero if it disagrees, and its output
# must be the one docs/examples.md shows (the first ``` block under its "## NAME" heading), rounding-level
# residuals aside.
# Usage: scripts/checks/examples.sh [SWIFT BUILD OPTIONS...]   (scripts/test.sh passes -c release -Xswiftc -enable-testing)
set -euo pipefail
cd "$(dirname "$0")/../.."
configuration=("$@")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for example in SpectrumOfASwiftModel HTSROfSafetensors HessianLandscape SagunOutliers ResumableSpectrum; do
  swift build "${configuration[@]}" --product "$example" >&2
  echo "== $example"
  arguments=("$work")  # the output directory, for the examples that write files
  [ "$example" = HTSROfSafetensors ] && arguments=(Examples/models/digits_mlp.safetensors)
  OPENBLAS_NUM_THREADS=1 "$(swift build "${configuration[@]}" --show-bin-path)/$example" "${arguments[@]}" | tee "$work/output"
  awk -v heading="## $example:" 'index($0, heading) == 1 { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside' docs/examples.md >"$work/shown"
  # As in docs.sh: numbers below 1e-12 in scientific notation are rounding-level residuals whose digits depend on
  # the BLAS kernel the machine's CPU gets, so they match each other.
  normalised() { sed -E 's/[ \t]*$//; s/[0-9]+(\.[0-9]+)?e-(1[3-9]|[2-9][0-9]|[1-9][0-9][0-9])/<rounding>/g' "$1"; }
  if ! diff <(normalised "$work/shown") <(normalised "$work/output") >&2; then
    echo "$example: the output differs from docs/examples.md (above: < shown, > printed)" >&2
    exit 1
  fi
done
echo "Examples passed"
