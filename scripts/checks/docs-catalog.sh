#!/usr/bin/env bash
# Builds the DocC documentation of every library module (the catalog in Sources/Curvature/Curvature.docc and each
# module's public symbols) with the toolchain's docc, combined into one archive, and fails on any DocC warning: a
# broken symbol link, an undocumented parameter. The symbol graphs come from the test build (scripts/test.sh builds
# with -emit-symbol-graph), so no second, debug build of the package is needed; without them this builds them.
# `swift package generate-documentation` (swift-docc-plugin) gives users the same pages.
# Usage: scripts/checks/docs-catalog.sh [SYMBOL_GRAPH_DIR [OUTPUT_DIR]]   (defaults .build/symbol-graphs, .build/documentation)
set -euo pipefail
cd "$(dirname "$0")/../.."
graphs="${1:-.build/symbol-graphs}"
out="${2:-.build/documentation}"
modules=(LinearAlgebra Reporting ModelFormats Plotting HTSR Autodiff NeuralNetworks ModelImport Spectra SpectrumAnalysis
         Landscape Distributed Curvature)
if [ ! -f "$graphs/Curvature.symbols.json" ]; then
  echo "Building the symbol graphs into $graphs..." >&2
  swift build -c release -Xswiftc -enable-testing -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir \
    -Xswiftc "$(realpath -m "$graphs")" >/dev/null
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for module in "${modules[@]}"; do
  cp "$graphs/$module.symbols.json" "$work/"
  cp "$graphs/$module"@*.symbols.json "$work/" 2>/dev/null || true
done
mkdir -p "$out"
if ! docc convert Sources/Curvature/Curvature.docc --additional-symbol-graph-dir "$work" --warnings-as-errors \
     --fallback-display-name Curvature --fallback-bundle-identifier curvature \
     --output-path "$out/Curvature.doccarchive" >"$work/log" 2>&1; then
  grep -E -A8 '^(warning|error)' "$work/log" >&2 || tail -30 "$work/log" >&2
  echo "DocC catalog: build failed" >&2
  exit 1
fi
echo "DocC catalog built without warnings: ${#modules[@]} modules ($out/Curvature.doccarchive)"
