#!/usr/bin/env bash
# Builds the DocC documentation of every library module (the catalog in Sources/Curvature/Curvature.docc and each
# module's symbols) with swift-docc-plugin, combined into one archive, and fails on any DocC warning: a broken
# symbol link, an undocumented parameter.
# Usage: scripts/checks/docs-catalog.sh [OUTPUT_DIR]   (default .build/documentation)
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-.build/documentation}"
mkdir -p "$out"
targets=()
for target in LinearAlgebra Reporting ModelFormats Plotting HTSR Autodiff NeuralNetworks ModelImport Spectra \
              SpectrumAnalysis Landscape Distributed Curvature; do
  targets+=(--target "$target")
done
log="$(mktemp)"
if ! swift package --allow-writing-to-directory "$out" generate-documentation "${targets[@]}" \
     --enable-experimental-combined-documentation --warnings-as-errors --output-path "$out/Curvature.doccarchive" >"$log" 2>&1; then
  grep -E -A8 '^(warning|error)' "$log" | grep -v "zipfoundation" >&2 || tail -30 "$log" >&2
  echo "DocC catalog: build failed" >&2
  exit 1
fi
rm -f "$log"
echo "DocC catalog built without warnings ($out/Curvature.doccarchive)"
