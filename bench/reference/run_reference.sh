#!/usr/bin/env bash
# Runs the PyTorch dense-autoencoder reference with openblas-openmp.
#   bash bench/reference/run_reference.sh --data DIR --threads 2 --epochs 8 --warmup-epochs 3 --pca 16 --json
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed for this command only so
# OpenBLAS picks its own kernel (printed by dense_ae.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

blas_dir=$(bash "$here/setup.sh" | tail -n1)
echo "run_reference.sh: LD_LIBRARY_PATH prefix = $blas_dir" >&2

exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  LD_LIBRARY_PATH="${blas_dir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  /usr/bin/python3 "$here/dense_ae.py" "$@"
