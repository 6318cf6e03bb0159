#!/usr/bin/env bash
# The --report pages in a real browser: writes the spectrum, landscape, htsr and demo pages, checks that each is
# self-contained (no http(s) or protocol-relative references), renders each in headless Chromium (Debian's chromium,
# installed here when missing), checks that the DOM Chromium parsed holds the numbers the JSON reports give, and that
# the screenshot shows the page: mostly white with text and tables, and the coloured plots drawn. The screenshots
# are docs/images/report-*.png.
# Usage: scripts/checks/reports.sh CURVATURE_BINARY
set -euo pipefail
cd "$(dirname "$0")/../.."
curvature="$(realpath "$1")"
if ! command -v chromium >/dev/null; then
  echo "Installing Debian's chromium for the report check..." >&2
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
model=Examples/models/digits_mlp.onnx
mkdir -p docs/images
failures=0
fail() { echo "report check: $*" >&2; failures=$((failures + 1)); }

# Each page, and a number its JSON report holds that the page must show.
export OPENBLAS_NUM_THREADS=1
"$curvature" spectrum "$model" --data digits --limit 300 --top-k 3 --density slq --quiet --format json \
  --report "$work/spectrum.html" >"$work/spectrum.json"
"$curvature" landscape "$model" --data digits --limit 300 --grid 9x9 --quiet --format json \
  --report "$work/landscape.html" >"$work/landscape.json"
"$curvature" htsr Examples/models/digits_mlp.safetensors --quiet --format json --report "$work/htsr.html" >"$work/htsr.json"
"$curvature" demo --epochs 2 --quiet --out "$work/demo" --report "$work/demo.html" >"$work/demo.txt"
expect_spectrum="$(python3 -c 'import json,sys; print("%.6g" % json.load(open(sys.argv[1]))["rows"][0]["top_eigenvalues"][0])' "$work/spectrum.json")"
expect_landscape="$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["grid"]; print("%.6g" % g["loss"][4][4])' "$work/landscape.json")"
expect_htsr="$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["layers"][0]["alpha"])' "$work/htsr.json")"
expect_demo="$(grep -m1 -oE 'Training loss [0-9.]+' "$work/demo.txt")"
cmp -s "$work/demo/report.html" "$work/demo.html" || fail "demo: --out DIR/report.html and --report differ"

for page in spectrum landscape htsr demo; do
  html="$work/$page.html"
  expect_var="expect_$page"; expect="${!expect_var}"
  if grep -qE '(src|href)="(https?:)?//' "$html"; then fail "$page: the page references the network"; fi
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1800 \
    --screenshot="$PWD/docs/images/report-$page.png" --dump-dom "file://$html" >"$work/$page.dom" 2>/dev/null \
    || fail "$page: chromium could not load the page"
  grep -qF "$expect" "$work/$page.dom" || fail "$page: the rendered page does not show '$expect'"
  grep -q "<svg" "$work/$page.dom" || fail "$page: the rendered page has no plot"
  # What the screenshot shows: a white page, 1-60% of it drawn, and at least 1000 saturated (plot) pixels.
  python3 - "docs/images/report-$page.png" "$page" <<'EOF' || failures=$((failures + 1))
import struct, sys, zlib
path, page = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width = 8, b"", 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        channels = {2: 3, 6: 4}[colour]
        assert depth == 8
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
raw, stride = zlib.decompress(idat), width * channels
previous, drawn, saturated, counts = bytearray(stride), 0, 0, (0, 0)
zeros = bytes(stride)
low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
for row in range(height):
    start = row * (stride + 1)
    kind, filtered = raw[start], raw[start + 1:start + 1 + stride]
    if kind == 2 and filtered == zeros:  # the row above repeated: most of a page
        line = previous
    elif kind == 2:  # bytewise (filtered + above) mod 256 on whole rows at once
        a, b = int.from_bytes(filtered, "big"), int.from_bytes(previous, "big")
        line = bytearray((((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
    else:
        line = bytearray(filtered)
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1: line[i] = (line[i] + left) & 255
            elif kind == 2: line[i] = (line[i] + up) & 255
            elif kind == 3: line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
    if line is not previous and line != previous:
        pixels = [line[i:i + 3] for i in range(0, stride, 4 * channels)]  # every fourth pixel, counted four times
        counts = (4 * sum(min(p) < 235 for p in pixels), 4 * sum(max(p) - min(p) > 80 for p in pixels))
    drawn, saturated = drawn + counts[0], saturated + counts[1]
    previous = line
fraction = drawn / (width * height)
ok = 0.01 < fraction < 0.6 and saturated >= 1000
print(f"{page}: {width}x{height} screenshot, {100 * fraction:.1f}% drawn, {saturated} plot pixels" + ("" if ok else " (FAILED)"))
sys.exit(0 if ok else 1)
EOF
done
if [ "$failures" -ne 0 ]; then echo "report check: $failures failure(s)" >&2; exit 1; fi
echo "Report pages passed (chromium $(chromium --version 2>/dev/null | grep -oE '[0-9]+\.[0-9.]+' | head -1))"
