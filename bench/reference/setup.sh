#!/usr/bin/env bash
# Idempotent setup for the PyTorch reference benchmark (Debian 12).
# Installs the Debian packages if any is missing, then prints the
# openblas-openmp library directory to put in LD_LIBRARY_PATH as the LAST
# (and only) line on stdout. All other messages go to stderr.
#
#   dir=$(bash bench/reference/setup.sh | tail -n1)
#   eval "$(bash bench/reference/setup.sh --export)"   # prints an export line instead
#
# Benchmark-only: the C# library never needs this.
set -euo pipefail

PKGS=(python3-torch python3-sklearn python3-numpy libopenblas0-openmp dataset-fashion-mnist)

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for p in "${PKGS[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing missing packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup.sh: not root and no sudo; cannot install ${missing[*]}" >&2; exit 1
    fi
  fi
  $SUDO apt-get update >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${PKGS[@]}" >&2
else
  echo "setup.sh: all packages present (${PKGS[*]})" >&2
fi

# Folder holding openblas-openmp's libblas.so.3 (e.g. /usr/lib/x86_64-linux-gnu/openblas-openmp)
blas_so=$(dpkg -L libopenblas0-openmp | grep -E '/openblas-openmp/libblas\.so\.3$' | head -n1 || true)
if [ -z "$blas_so" ]; then
  blas_so=$(dpkg -L libopenblas0-openmp | grep -E '/libblas\.so\.3$' | head -n1 || true)
fi
if [ -z "$blas_so" ] || [ ! -e "$blas_so" ]; then
  echo "setup.sh: could not find libblas.so.3 of libopenblas0-openmp" >&2
  exit 1
fi
dir=$(dirname "$blas_so")

if [ "${1:-}" = "--export" ]; then
  echo "export LD_LIBRARY_PATH=${dir}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
else
  echo "$dir"
fi
