#!/usr/bin/env bash
# Builds the benchmark in Release and runs it.
#   bash bench/run.sh            # full run (~5-7 minutes on 2 cores)
#   bash bench/run.sh --quick    # smoke run (< 2 minutes)
#   bash bench/run.sh --threads 2 --epochs 8 --reps 5 --ref-reps 3
#   bash bench/run.sh --only g   # k-NN and t-SNE vs scikit-learn (~8 minutes; --quick: ~2)
#   bash bench/run.sh --only s   # where the scoring time goes: cursor, PredictionEngine, k-NN pipeline vs raw loops and Model.Predict
#   bash bench/run.sh --only h   # one-class anomaly detection vs RandomizedPca, sklearn PCA, PyTorch AE
#   bash bench/run.sh --only i --threads 1   # small data sets: default codes vs PCA (5-NN, 5-fold CV); no Fashion-MNIST download
#   bash bench/run.sh --only j   # default fits alone and next to a busy process (thread policy), vs PyTorch
#   bash bench/run.sh --only l   # LSTM autoencoder on ECG windows vs PyTorch: AUROC and Fit throughput (~6 minutes; --quick: ~1); no Fashion-MNIST download
#   bash bench/run.sh --only k   # fine-tuning with 100, 600, 6,000 labels: pretrained vs scratch vs L-BFGS on pixels, 3 seeds
#   bash bench/run.sh --only w   # character GRU token-sequence autoencoder on English words vs PyTorch: exact-word rate, Fit and Transform throughput (installs wamerican); no Fashion-MNIST download
#   bash bench/run.sh --soak     # memory soak: long Transform runs and many epochs on generated rows (no data, no reference)
#   bash bench/run.sh --stream   # Fit streaming a generated data view larger than this machine's memory (~3 minutes)
# Needs the full Fashion-MNIST (Debian package dataset-fashion-mnist, installed here if missing)
# and, for parts (c), (e), (f), (g), (h), (j), (l), (w), the PyTorch / scikit-learn reference (bench/reference/setup.sh
# installs it if missing).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

proj=bench/Ml.Autoencoders.Bench/Ml.Autoencoders.Bench.csproj
dll=bench/Ml.Autoencoders.Bench/bin/Release/net10.0/Ml.Autoencoders.Bench.dll
for a in "$@"; do
  if [ "$a" = "--soak" ] || [ "$a" = "--stream" ] || [ "$a" = "--gemm" ]; then
    # The soak and the streaming run generate their rows: no Fashion-MNIST, no Python reference.
    echo "run.sh: dotnet build -c Release $proj" >&2
    dotnet build -c Release "$proj" -nologo -v q -clp:ErrorsOnly >&2
    export BENCH_COMMAND="bash bench/run.sh $*"
    exec dotnet "$dll" "$@"
  fi
done

data_dir=/usr/share/datasets/fashion-mnist
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--data" ] && [ $((i + 1)) -lt ${#args[@]} ]; then data_dir=${args[$((i + 1))]}; fi
done

only=""
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--only" ] && [ $((i + 1)) -lt ${#args[@]} ]; then only=${args[$((i + 1))]}; fi
done
if [[ "$only" == *i* ]] && [ ! -f bench/small-data/satellite.csv ]; then
  bash bench/small-data/prepare.sh   # part (i)'s CSVs (installs python3-sklearn, r-base-core, r-cran-mlbench if missing)
fi
# Parts (i) and (l) alone read only their own data (bench/small-data and the shipped subset; SciPy's electrocardiogram,
# exported by data/ecg/export_electrocardiogram.py): no Fashion-MNIST download.
if [ -n "$only" ] && [[ "$only" =~ ^[ilw]+$ ]]; then data_dir=none; fi
# Part (w) reads Debian's English word list.
if [[ "$only" == *w* ]] && [ ! -f /usr/share/dict/american-english ]; then
  echo "run.sh: installing wamerican (benchmark only)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y wamerican >&2
fi

if [ "$data_dir" = /usr/share/datasets/fashion-mnist ] && [ ! -f "$data_dir/train-images-idx3-ubyte.gz" ]; then
  echo "run.sh: installing dataset-fashion-mnist (benchmark only)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist >&2
fi

echo "run.sh: dotnet build -c Release $proj" >&2
dotnet build -c Release "$proj" -nologo -v q -clp:ErrorsOnly >&2

export BENCH_COMMAND="bash bench/run.sh${*:+ $*}"
has_data=0
for a in "$@"; do [ "$a" = "--data" ] && has_data=1; done
extra=()
[ $has_data -eq 0 ] && extra=(--data "$data_dir")
exec dotnet "$dll" \
  --reference "$root/bench/reference/run_reference.sh" "${extra[@]}" "$@"
