#!/usr/bin/env bash
# Runs a PyTorch reference script (default dense_ae.py) with openblas-openmp.
#   bash bench/reference/run_reference.sh --data DIR --threads 2 --epochs 8 --warmup-epochs 3 --pca 16 --json
#   bash bench/reference/run_reference.sh --script variants_ae.py --model vae --data DIR --threads 2 --json
# An optional FIRST argument --script NAME.py picks a script in this folder;
# all other arguments go to that script unchanged.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed for this command only so
# OpenBLAS picks its own kernel (printed by dense_ae.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

script=dense_ae.py
if [ "${1:-}" = "--script" ]; then
  [ $# -ge 2 ] || { echo "run_reference.sh: --script needs a file name" >&2; exit 2; }
  script=$2
  shift 2
fi
case "$script" in
  */*|..*) echo "run_reference.sh: --script takes a file name in $here, not a path: $script" >&2; exit 2 ;;
esac
[ -f "$here/$script" ] || { echo "run_reference.sh: no such script: $here/$script" >&2; exit 2; }

blas_dir=$(bash "$here/setup.sh" | tail -n1)
echo "run_reference.sh: LD_LIBRARY_PATH prefix = $blas_dir; script $script" >&2

exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  LD_LIBRARY_PATH="${blas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  /usr/bin/python3 "$here/$script" "$@"
