#!/usr/bin/env bash
# Curvature as a versioned dependency: clones this repository's committed HEAD, tags the clone 1.0.0, and builds and
# runs scripts/checks/consumer (a package that names Curvature by URL and version and uses its CurvatureSpectra and
# CurvatureHTSR products and the Curvature umbrella). SwiftPM refuses unsafe flags only in such dependencies, so this is the check that users
# can add Curvature to their Package.swift. Uncommitted changes are not part of the clone.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/Curvature"
git -C "$work/Curvature" -c user.name=check -c user.email=check@localhost tag -a 1.0.0 -m "consumer check"
cp -r scripts/checks/consumer "$work/Consumer"
sed -i "s|CURVATURE_URL|file://$work/Curvature|" "$work/Consumer/Package.swift"
sed -i "s|MODEL_PATH|$PWD/Examples/models/digits_mlp.onnx|" "$work/Consumer/Sources/Consumer/main.swift"
echo "Building a package that depends on Curvature 1.0.0 by URL (a tagged local clone)..." >&2
if ! (cd "$work/Consumer" && swift build >"$work/build.log" 2>&1); then
  cat "$work/build.log" >&2
  echo "consumer check failed: a package depending on Curvature by version does not build" >&2
  exit 1
fi
(cd "$work/Consumer" && OPENBLAS_NUM_THREADS=1 "$(swift build --show-bin-path)/Consumer")
