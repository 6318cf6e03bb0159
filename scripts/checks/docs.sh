#!/usr/bin/env bash
# Runs every command that README.md and docs/*.md show, in the order shown, from one scratch directory that sees
# the repository's Examples/ and Tests/ (so a later command can read what an earlier one wrote):
# - in a ```console block, each `$ COMMAND` line must exit 0 and print to stdout exactly the lines shown under it,
#   up to the next `$` line (trailing blanks ignored; a line `...` stands for any number of lines; numbers below
#   1e-12 in scientific notation, rounding-level residuals whose digits depend on the BLAS kernel, match each other);
# - in a ```sh block, each line that starts with `curvature` must exit 0 (a trailing `# comment` is dropped).
# Synopses and recorded benchmark output live in ```text blocks, which are not run.
# Usage: scripts/checks/docs.sh PATH_TO_CURVATURE [MARKDOWN_FILE...]   (default README.md and docs/*.md)
set -uo pipefail
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shift
cd "$(dirname "$0")/../.."
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(README.md docs/*.md)
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/run" "$work/cases"
ln -s "$binary" "$work/bin/curvature"
ln -s "$root/Examples" "$root/Tests" "$work/run/"
export PATH="$work/bin:$PATH"

# Each case is CASES/N.where (file:line), N.command and, for console commands, N.expected.
awk -v cases="$work/cases" '
  FNR == 1 { fence = "" }
  /^ *```/ {
    if (fence == "") { fence = $0; sub(/^ *```/, "", fence); if (fence == "") fence = "plain"; current = "" }
    else fence = ""
    next
  }
  fence == "console" && /^\$ / {
    current = cases "/" (++n)
    print FILENAME ":" FNR > (current ".where")
    print substr($0, 3) > (current ".command")
    printf "" > (current ".expected")
    next
  }
  fence == "console" && current != "" { print >> (current ".expected"); next }
  fence == "sh" && /^ *curvature / {
    line = $0
    sub(/^ */, "", line)
    sub(/[ \t]+#.*$/, "", line)
    current = cases "/" (++n)
    print FILENAME ":" FNR > (current ".where")
    print line > (current ".command")
  }
' "${files[@]}"

# Whether ACTUAL shows EXPECTED: line by line after trailing blanks are cut, `...` matching any run of lines.
shows() {
  awk '
    { sub(/[ \t]+$/, ""); gsub(/[0-9]+(\.[0-9]+)?e-(1[3-9]|[2-9][0-9]|[1-9][0-9][0-9])/, "<rounding>") }
    NR == FNR { expected[++ne] = $0; next }
    { actual[++na] = $0 }
    END {
      while (ne > 0 && expected[ne] == "") ne--
      while (na > 0 && actual[na] == "") na--
      i = 1; j = 1
      while (i <= ne) {
        if (expected[i] == "...") {
          if (++i > ne) exit 0
          while (j <= na && actual[j] != expected[i]) j++
          if (j > na) exit 1
          continue
        }
        if (j > na || expected[i] != actual[j]) exit 1
        i++; j++
      }
      exit (j <= na)
    }' "$1" "$2"
}

failures=0
count=0
for number in $(ls "$work/cases" | sed -n 's/\.command$//p' | sort -n); do
  case="$work/cases/$number"
  count=$((count + 1))
  (cd "$work/run" && bash -c "$(cat "$case.command")") >"$work/out" 2>"$work/err" </dev/null
  status=$?
  if [ "$status" -ne 0 ]; then
    echo "Docs check failed: $(cat "$case.where"): \`$(cat "$case.command")\` exited with $status" >&2
    sed 's/^/  stderr: /' "$work/err" | head -5 >&2
    failures=$((failures + 1))
  elif [ -f "$case.expected" ] && ! shows "$case.expected" "$work/out"; then
    echo "Docs check failed: $(cat "$case.where"): \`$(cat "$case.command")\` printed other output:" >&2
    diff "$case.expected" "$work/out" | head -20 | sed 's/^/  /' >&2
    failures=$((failures + 1))
  fi
done
if [ "$failures" -ne 0 ]; then
  echo "$failures of $count documented commands failed" >&2
  exit 1
fi
echo "Docs checks passed ($count documented commands)"
