#!/usr/bin/env bash
# Writes the small public data sets of bench part (i) as CSV files beside this script:
# first column the class label, then the numeric features, one header line.
#   wine        178 x 13, 3 classes   scikit-learn's bundled copy (sklearn.datasets.load_wine, Debian python3-sklearn, run with /usr/bin/python3)
#   sonar       208 x 60, 2 classes   R package mlbench (Debian r-cran-mlbench): data(Sonar)
#   ionosphere  351 x 33, 2 classes   mlbench: data(Ionosphere); V2 (constant 0) dropped, V1 (0/1 factor) as a number
#   glass       214 x 9,  6 classes   mlbench: data(Glass)
#   vehicle     846 x 18, 4 classes   mlbench: data(Vehicle)
#   satellite  2000 x 36, 6 classes   mlbench: data(Satellite), 2,000 of its 6,435 rows drawn with set.seed(0)
# The mlbench copies come from the UCI Machine Learning Repository. The CSVs are generated, not committed.
# Installs python3-sklearn, r-base-core and r-cran-mlbench when missing (benchmark only; the library needs none).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
need=()
/usr/bin/python3 -c "import sklearn" 2>/dev/null || need+=(python3-sklearn)
command -v Rscript >/dev/null || need+=(r-base-core)
[ -n "$(command -v Rscript)" ] && Rscript -e 'library(mlbench)' >/dev/null 2>&1 || need+=(r-cran-mlbench)
if [ ${#need[@]} -gt 0 ]; then
  echo "prepare.sh: installing ${need[*]} (benchmark only)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
fi

/usr/bin/python3 - "$here/wine.csv" <<'PY'
import sys
from sklearn.datasets import load_wine
d = load_wine()
with open(sys.argv[1], "w") as f:
    f.write(",".join(["label"] + [n.replace(",", "_") for n in d.feature_names]) + "\n")
    for x, y in zip(d.data, d.target):
        f.write(",".join([str(int(y))] + [repr(float(v)) for v in x]) + "\n")
PY

Rscript --vanilla - "$here" <<'R'
suppressMessages(library(mlbench))
out <- commandArgs(trailingOnly = TRUE)[1]
write_set <- function(df, label, file) {
  y <- df[[label]]
  x <- df[, setdiff(names(df), label), drop = FALSE]
  x[] <- lapply(x, function(v) as.numeric(as.character(v)))
  write.csv(data.frame(label = as.character(y), x), file.path(out, file), row.names = FALSE, quote = TRUE)
}
data(Sonar); write_set(Sonar, "Class", "sonar.csv")
data(Ionosphere); write_set(Ionosphere[, names(Ionosphere) != "V2"], "Class", "ionosphere.csv")
data(Glass); write_set(Glass, "Type", "glass.csv")
data(Vehicle); write_set(Vehicle, "Class", "vehicle.csv")
data(Satellite); set.seed(0); write_set(Satellite[sort(sample(nrow(Satellite), 2000)), ], "classes", "satellite.csv")
R
for f in wine sonar ionosphere glass vehicle satellite; do
  echo "prepare.sh: $here/$f.csv $(($(wc -l < "$here/$f.csv") - 1)) rows" >&2
done
