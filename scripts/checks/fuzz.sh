#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader (safetensors, npy, npz, torch.save pickle, ONNX decoding, graph import and a
# forward pass) with libFuzzer, from the committed seed corpus in Fuzz/Corpus. A finding (trap, signal, leak of the
# time or memory limits) fails the check and leaves the input under .build/fuzz/findings/FORMAT/ to replay with
#   CURVATURE_FUZZ_FORMAT=FORMAT Fuzz/.build/debug/curvature-fuzz FILE
# Usage: scripts/checks/fuzz.sh [SECONDS_PER_FORMAT (default: $CURVATURE_FUZZ_SECONDS, else 20)] [FORMAT...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-${CURVATURE_FUZZ_SECONDS:-20}}"
shift || true
formats=("$@")
if [ ${#formats[@]} -eq 0 ]; then formats=(safetensors npy npz pt onnx); fi

log="$(mktemp)"
echo "Building the fuzzer (debug, -sanitize=fuzzer)..." >&2
if ! swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer >"$log" 2>&1; then cat "$log" >&2; exit 1; fi
fuzzer="Fuzz/.build/debug/curvature-fuzz"
status=0
for format in "${formats[@]}"; do
  findings=".build/fuzz/findings/$format"
  corpus=".build/fuzz/corpus/$format"
  mkdir -p "$findings" "$corpus"
  # New inputs go to a scratch corpus under .build; the committed seeds are read only.
  # Swift's own crash handler would end the process before libFuzzer saves the input: leave crashes to libFuzzer.
  if SWIFT_BACKTRACE=enable=no CURVATURE_FUZZ_FORMAT="$format" OPENBLAS_NUM_THREADS=1 "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 \
       -malloc_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "Fuzz/Corpus/$format" >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    coverage="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')"
    echo "fuzz $format: $runs inputs in ${seconds} s, $coverage coverage points, no finding" >&2
  else
    echo "fuzz $format: FINDING (inputs in $findings/); libFuzzer's report:" >&2
    grep -v "^#\|^INFO\|^MS:\|^base unit" "$log" | head -40 >&2
    status=1
  fi
done
rm -f "$log"
exit $status
