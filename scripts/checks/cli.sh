#!/usr/bin/env bash
# End-to-end checks of the built CLI: exit codes, stdout versus stderr, one-line errors.
# Usage: scripts/checks/cli.sh PATH_TO_CURVATURE
set -uo pipefail
curvature="$1"
cd "$(dirname "$0")/../.."
failures=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

matches() {  # matches FILE PATTERN: the pattern EMPTY means the file must be empty
  if [ "$2" = EMPTY ]; then [ ! -s "$1" ]; else grep -Eq "$2" "$1"; fi
}

check() {  # check NAME EXPECTED_EXIT STDOUT_PATTERN STDERR_PATTERN -- ARGS...   (stderr is a pipe: no progress)
  local name="$1" expected_exit="$2" out_pattern="$3" err_pattern="$4"
  shift 5
  "$curvature" "$@" 2>&1 >"$work/out" | cat >"$work/err"
  local status=${PIPESTATUS[0]}
  if [ "$status" -ne "$expected_exit" ] || ! matches "$work/out" "$out_pattern" || ! matches "$work/err" "$err_pattern"; then
    echo "CLI check failed: $name (exit $status)" >&2
    sed 's/^/  stdout: /' "$work/out" >&2
    sed 's/^/  stderr: /' "$work/err" >&2
    failures=$((failures + 1))
  fi
}

check "version" 0 '^[0-9]+\.[0-9]+\.[0-9]+$' EMPTY -- --version
check "info table" 0 '^x +float32 +\(1797, 64\) +115008$' EMPTY -- info Examples/data/digits.npz
check "info json" 0 '"tensor_count" : 2' EMPTY -- info Examples/data/digits.npz --format json
check "info csv" 0 '^y,int64,"\(1797,\)",1797$' EMPTY -- info Examples/data/digits.npz --format csv
check "missing file" 1 EMPTY '^Error: missing\.npz: no such file or directory$' -- info missing.npz
printf 'not a zip' >"$work/bad.npz"
check "corrupt npz" 1 EMPTY 'bad\.npz: not a valid \.npz \(zip\) archive$' -- info "$work/bad.npz"
fixtures=Tests/ModelFormatsTests/Fixtures
check "info safetensors" 0 '^bfloat16 +bfloat16 +\(2, 3\) +6$' EMPTY -- info "$fixtures/safetensors/all_dtypes.safetensors"
check "info sharded directory" 0 '9 tensors' EMPTY -- info "$fixtures/safetensors/sharded"
check "info torch.save" 0 '^views.transposed +float32 +\(8, 5\) +40$' EMPTY -- info "$fixtures/torch/checkpoint.pt"
check "info onnx" 0 '^operators: Conv x1, Relu x1, Flatten x1, Gemm x1$' EMPTY -- info "$fixtures/onnx/cnn.onnx"
check "info onnx json" 0 '"version" : 17' EMPTY -- info "$fixtures/onnx/cnn.onnx" --format json
check "malicious pickle" 1 EMPTY "global 'posix.system' is not on the allow-list" -- info "$fixtures/torch/evil_os_system.pt"
check "legacy torch" 0 '^9 tensors, 2627 elements' EMPTY -- info "$fixtures/torch/legacy_format.pt"
check "htsr table" 0 '^ +3  4 +256 +10 +1 +10 ' EMPTY -- htsr "$fixtures/torch/checkpoint.pt"
check "htsr onnx csv" 0 '^1,4,dense,,,,256,10,' EMPTY -- htsr "$fixtures/onnx/cnn.onnx" --format csv
check "htsr plots and spectra" 0 '^3 layers analysed' EMPTY -- htsr Examples/models/digits_mlp.safetensors --save-esd "$work/esd" --plot "$work/plots" --quiet
for file in esd/1_0.npy esd/3_4.npy plots/esd_1_0.svg plots/alpha.svg; do
  [ -s "$work/$file" ] || { echo "CLI check failed: htsr did not write $file" >&2; failures=$((failures + 1)); }
done
grep -q '<text class="x-label"[^>]*>eigenvalue</text>' "$work/plots/esd_1_0.svg" || { echo "CLI check failed: htsr ESD plot label" >&2; failures=$((failures + 1)); }
check "htsr fine-tuning delta" 0 'each layer minus its tensor in Examples/models/trajectory/digits_mlp_epoch00\.safetensors\)$' EMPTY -- htsr Examples/models/digits_mlp.safetensors --base-model Examples/models/trajectory/digits_mlp_epoch00.safetensors
check "htsr delta wrong base" 1 EMPTY "cnn\.pt: the base model does not match: '0\.weight' is not in the base model; '2\.weight' is not in the base model; '4\.weight' is not in the base model$" -- htsr Examples/models/digits_mlp.safetensors --base-model Tests/ModelImportTests/Fixtures/cnn.pt
check "htsr fingers and MP fit" 0 '^ +1  0 +64 +64 +1 +64 +1\.5417 +0\.3128 .* 39 +0 +12 +0\.033  over-trained$' EMPTY -- htsr Examples/models/digits_mlp.safetensors --fix-fingers clip-xmax --mp-fit --quiet
check "htsr truncated power law" 0 '^layer_id,.*,esd_method,Lambda$' EMPTY -- htsr Examples/models/digits_mlp.safetensors --fit E_TPL --format csv --quiet
check "htsr clip-xmax with TPL" 64 EMPTY 'clip-xmax refits a power law; it cannot be combined with --fit TPL' -- htsr Examples/models/digits_mlp.safetensors --fit TPL --fix-fingers clip-xmax
check "htsr compare" 0 '^ +1  0 +1\.542 +1\.65 +-0\.1086 ' EMPTY -- htsr compare Examples/models/digits_mlp.safetensors Examples/models/trajectory/digits_mlp_epoch05.safetensors
check "htsr compare unrelated" 1 EMPTY 'share no layer of the same name and shape' -- htsr compare Examples/models/digits_mlp.safetensors "$fixtures/torch/checkpoint.pt"
check "htsr bad regex" 1 EMPTY "^Error: --layers: '\(' is not a valid regular expression$" -- htsr "$fixtures/torch/checkpoint.pt" --layers "("
check "htsr hostile file" 1 EMPTY 'refused to unpickle' -- htsr "$fixtures/torch/evil_os_system.pt"
models=Tests/ModelImportTests/Fixtures
check "eval table" 0 '^n_samples +1797$' EMPTY -- eval "$models/cnn.onnx" --data digits --input-shape 1,8,8
check "eval json" 0 '"bn_mode" : "eval"' EMPTY -- eval "$models/mlp.onnx" --data digits --weights "$models/mlp.pt" --format json
check "eval folded batchnorm" 0 '^note: BatchNorm was folded' EMPTY -- eval "$fixtures/onnx/cnn.onnx" --data digits --input-shape 1,8,8 --limit 20
check "eval input shape" 1 EMPTY 'each sample has shape \[64\] but the model.s input .input. takes \[1, 8, 8\]' -- eval "$models/cnn.onnx" --data digits
check "eval wrong weights" 1 EMPTY "'conv1.weight' \[4, 1, 3, 3\] is not in the file" -- eval "$models/cnn.onnx" --data digits --input-shape 1,8,8 --weights "$models/mlp.pt"
check "eval bad number list" 64 EMPTY 'takes comma-separated numbers' -- eval "$models/cnn.onnx" --data digits --mean a,b
check "spectrum lanczos" 0 '^all +1482 +2\.313182 +0\.377603 0\.344669 +-0\.266192 ' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 200 --top-k 2 --bottom-k 1
check "spectrum json" 0 '"top_eigenvalues" : \[' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 50 --top-k 1 --method dense --format json
check "spectrum per layer" 0 '^,net\.4\.weight,160,' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 50 --top-k 1 --per-layer --parameters weight --format csv
check "spectrum per module" 0 '^,net\.4,170,' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 50 --top-k 1 --per-module --format csv
check "per-layer or per-module" 64 EMPTY 'alternatives' -- spectrum "$models/mlp.onnx" --data digits --top-k 1 --per-layer --per-module
check "spectrum no match" 1 EMPTY "^Error: --parameters 'nope' matches none of: net\.0\.weight" -- spectrum "$models/mlp.onnx" --data digits --parameters nope
check "spectrum mc-fisher" 0 '^ +"matrix" : "mc-fisher",' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 50 --top-k 1 --matrix mc-fisher --mc-samples 2 --format json
check "spectrum --operator alias" 0 '^ +"matrix" : "ggn",' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 50 --top-k 1 --operator ggn --format json
check "spectrum power bottom" 64 EMPTY 'largest-magnitude eigenvalues only' -- spectrum "$models/mlp.onnx" --data digits --method power --bottom-k 2
check "spectrum one batch" 0 '^ +"n_samples" : 32,' EMPTY -- spectrum "$models/mlp.onnx" --data digits --batch-size 32 --batch-index 3 --top-k 1 --format json
check "spectrum trace" 0 '^all: trace 2\.21555 \+- 1 \(standard error; xtrace, 20 products\)$' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 100 --top-k 0 --trace --trace-method xtrace --matvecs 20
check "spectrum density" 0 '^all: 0 outlier\(s\) above the bulk edge 0\.4234; re 0\.7483, Kh0\.5 0\.8746, negative mass 0\.135, condition 1\.025$' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 100 --top-k 1 --density slq --probes 2 --steps 20 --plot "$work/density.svg"
grep -Eq '<text class="x-label"[^>]*>eigenvalue</text>' "$work/density.svg" || { echo "CLI check failed: spectrum density plot" >&2; failures=$((failures + 1)); }
check "spectrum kpm json" 0 '"method" : "kpm"' EMPTY -- spectrum "$models/mlp.onnx" --data digits --limit 100 --top-k 0 --density kpm --steps 20 --log-spectrum --format json
check "spectrum plot without density" 64 EMPTY 'plot needs --density' -- spectrum "$models/mlp.onnx" --data digits --plot "$work/x.svg"
check "spectrum nothing to do" 64 EMPTY 'nothing to compute' -- spectrum "$models/mlp.onnx" --data digits --top-k 0
check "spectrum budget too small" 1 EMPTY '^Error: trace: --matvecs 2 is too few for xtrace' -- spectrum "$models/mlp.onnx" --data digits --limit 20 --top-k 0 --trace --trace-method xtrace --matvecs 2
check "landscape table" 0 '^5 x 3 grid \(values \[ny, nx\]\), a in \[-1, 1\], b in \[-0\.5, 0\.5\]; 15 of 15 points computed$' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 100 --grid 5x3 --range=-1:1,-0.5:0.5 --out "$work/full.csv" "$work/full.svg" "$work/full.vts"
grep -Eq '<text class="x-label"[^>]*>x \(\|\|d\|\| = [0-9.]+\)</text>' "$work/full.svg" || { echo "CLI check failed: landscape svg axis label" >&2; failures=$((failures + 1)); }
grep -q 'WholeExtent="0 4 0 2 0 0"' "$work/full.vts" || { echo "CLI check failed: landscape vts extent" >&2; failures=$((failures + 1)); }
# Hessian axes carry the eigenvalues that `spectrum` finds for the same model and data (see "spectrum lanczos").
check "landscape hessian axes" 0 '^direction norms: 1, 1; axis eigenvalues: 0\.377603, 0\.344669$' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 200 --axes hessian --grid 3x3
check "landscape eigenvalue map" 0 '"lambda_max" : \[' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 50 --points 3 --eigenvalues --eigenvalue-matvecs 30 --format json
check "landscape negative range" 0 '^5 points, a in \[-1, 1\]' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 100 --range -1:1 --points 5
# Two shards merged, and a shard resumed to the whole grid, equal the one-shot grid bit for bit (the CSV is exact).
for shard in 0 1; do
  check "landscape shard $shard" 0 'points computed \(shard' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 100 --grid 5x3 --range=-1:1,-0.5:0.5 --shard "$shard/2" --out "$work/part$shard.npz"
done
check "landscape merge" 0 '15 of 15 points computed$' EMPTY -- landscape merge "$work/part0.npz" "$work/part1.npz" --out "$work/merged.csv"
cmp -s "$work/full.csv" "$work/merged.csv" || { echo "CLI check failed: merged shards differ from the one-shot grid" >&2; failures=$((failures + 1)); }
check "landscape merge duplicate shard" 1 EMPTY 'part0\.npz and .*part0\.npz are both shard 0/2$' -- landscape merge "$work/part0.npz" "$work/part0.npz"
check "landscape merge missing shard" 1 EMPTY '^Error: shard 1/2 missing: give every shard.s file$' -- landscape merge "$work/part0.npz"
cp "$work/part0.npz" "$work/resume.npz"
check "landscape resume" 0 '15 of 15 points computed$' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 100 --grid 5x3 --range=-1:1,-0.5:0.5 --resume "$work/resume.npz" --out "$work/resumed.csv"
cmp -s "$work/full.csv" "$work/resumed.csv" || { echo "CLI check failed: resumed grid differs from the one-shot grid" >&2; failures=$((failures + 1)); }
check "landscape resume other settings" 1 EMPTY 'was written with other settings' -- landscape "$models/mlp.onnx" --data digits --limit 100 --grid 5x3 --range=-1:1,-0.5:0.5 --seed 3 --resume "$work/resume.npz"
check "landscape other seed" 0 'shard 1/2' EMPTY -- landscape "$models/mlp.onnx" --data digits --limit 100 --grid 5x3 --range=-1:1,-0.5:0.5 --seed 3 --shard 1/2 --out "$work/other.npz"
check "landscape merge other settings" 1 EMPTY 'computed with other settings' -- landscape merge "$work/part0.npz" "$work/other.npz"
check "landscape plane needs two" 64 EMPTY 'takes two --to checkpoints, got 1' -- landscape "$models/mlp.onnx" --data digits --axes plane --to "$models/mlp.pt"
check "landscape bad extension" 64 EMPTY "unknown extension '\.png'" -- landscape "$models/mlp.onnx" --data digits --out "$work/grid.png"
check "landscape identical models" 1 EMPTY 'the models are identical' -- landscape "$models/mlp.onnx" --data digits --limit 20 --axes interpolate --weights "$models/mlp.pt" --to "$models/mlp.pt"
check "landscape wrong checkpoint" 1 EMPTY "cnn\.pt: its weights do not fit" -- landscape "$models/mlp.onnx" --data digits --limit 20 --axes interpolate --to "$models/cnn.pt"
check "landscape not a landscape" 1 EMPTY "expected\.npz: not a landscape file written by curvature \(it has no 'metadata' array\)$" -- landscape merge "$fixtures/expected.npz"
check "batch index past the end" 1 EMPTY 'past the last batch' -- eval "$models/mlp.onnx" --data digits --batch-size 1000 --batch-index 2
check "bad option" 64 EMPTY 'xml' -- info Examples/data/digits.npz --format xml
check "negative limit" 64 EMPTY '^Error: --limit must be at least 1, got -1$' -- eval "$models/mlp.onnx" --data digits --limit -1
check "negative workers" 64 EMPTY '^Error: --workers must be at least 1$' -- landscape "$models/mlp.onnx" --data digits --workers -2
# A full disk behind stdout is an error, not exit status 0 over nothing written.
if [ -w /dev/full ]; then
  "$curvature" info Examples/data/digits.npz >/dev/full 2>"$work/err"; status=$?
  if [ "$status" -ne 1 ] || ! grep -q '^Error: cannot write the results to stdout: No space left on device$' "$work/err"; then
    echo "CLI check failed: stdout to /dev/full (exit $status)" >&2; cat "$work/err" >&2; failures=$((failures + 1))
  fi
fi
# Progress: lines per stage when stderr is a file, nothing with --quiet (and nothing into a pipe: every check above).
"$curvature" spectrum "$models/mlp.onnx" --data digits --limit 100 --top-k 1 --trace --matvecs 4 >/dev/null 2>"$work/progress"
for line in '^all: lanczos on 1482 parameters$' '^lanczos \(largest\): [0-9]+ products in ' '^trace: 4 probes in '; do
  grep -Eq "$line" "$work/progress" || { echo "CLI check failed: progress in a file lacks '$line'" >&2; cat "$work/progress" >&2; failures=$((failures + 1)); }
done
"$curvature" landscape "$models/mlp.onnx" --data digits --limit 50 --points 3 --quiet >/dev/null 2>"$work/progress"
[ ! -s "$work/progress" ] || { echo "CLI check failed: --quiet still wrote progress" >&2; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI checks failed" >&2
  exit 1
fi
echo "CLI checks passed" >&2
