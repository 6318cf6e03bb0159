#!/usr/bin/env bash
# Installs the Debian packages Curvature builds against, only when some are missing.
# Idempotent: a machine that has them all does nothing and needs no network.
set -euo pipefail

packages=(libopenblas-dev liblapacke-dev libfftw3-dev zlib1g-dev pkg-config libopenmpi-dev openmpi-bin libhdf5-dev python3)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# The package manager's log goes to a file, shown only when it fails, so the result stays readable.
log="$(mktemp -t curvature-apt.XXXXXX.log)"
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "Error: installing ${missing[*]} failed; apt's log follows ($log):" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "Installed ${missing[*]} (apt's log: $log)" >&2
