#!/usr/bin/env bash
# Writes the small tabular one-class data sets of bench part (h) as CSV (last column = class) into bench/data/tabular
# (not committed: the files are regenerated offline from Debian packages).
#   wine.csv        178 x 13, classes 0/1/2: scikit-learn's bundled copy of the UCI Wine data (python3-sklearn, load_wine)
#   ionosphere.csv  351 x 34, good/bad: R package mlbench, data(Ionosphere) (Debian r-cran-mlbench); V1 (a 0/1 factor) as a number
#   sonar.csv       208 x 60, M/R:      R package mlbench, data(Sonar)
#   glass.csv       214 x 9,  types 1,2,3,5,6,7: R package mlbench, data(Glass)
# Debian's python3 (/usr/bin/python3, with python3-sklearn) writes wine.csv. Installs r-base-core and r-cran-mlbench with apt-get if Rscript or mlbench is missing (benchmark only; the library
# and the tests never need them).
set -euo pipefail
out=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tabular
mkdir -p "$out"
if ! command -v Rscript >/dev/null || ! Rscript -e 'library(mlbench)' >/dev/null 2>&1; then
  echo "prepare_tabular.sh: installing r-base-core r-cran-mlbench (benchmark only)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y r-base-core r-cran-mlbench >&2
fi
/usr/bin/python3 - "$out" <<'PY'
import sys, csv
from sklearn.datasets import load_wine
d = load_wine()
with open(sys.argv[1] + "/wine.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(list(d.feature_names) + ["class"])
    for x, y in zip(d.data, d.target):
        w.writerow([repr(float(v)) for v in x] + [int(y)])
PY
Rscript - "$out" <<'R'
out <- commandArgs(trailingOnly = TRUE)[1]
suppressMessages(library(mlbench))
write1 <- function(df, label, file) {
  x <- df[, names(df) != label, drop = FALSE]
  for (n in names(x)) x[[n]] <- as.numeric(as.character(x[[n]]))
  x$class <- as.character(df[[label]])
  write.csv(x, file.path(out, file), row.names = FALSE, quote = FALSE)
}
data(Ionosphere); write1(Ionosphere, "Class", "ionosphere.csv")
data(Sonar); write1(Sonar, "Class", "sonar.csv")
data(Glass); write1(Glass, "Type", "glass.csv")
R
for f in wine ionosphere sonar glass; do echo "$out/$f.csv: $(($(wc -l < "$out/$f.csv") - 1)) rows"; done
