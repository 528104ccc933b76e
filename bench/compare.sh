#!/usr/bin/env bash
# Before/after comparison of the benchmark: runs bench/run.sh of an earlier commit and of this working tree,
# part by part and interleaved (before, after, before, after, ...), and prints their summary ratios side by side.
#
#   bash bench/compare.sh <before-commit> [compare options] [run.sh options...]
#   bash bench/compare.sh e963929 --quick --only abcdefgh
#   bash bench/compare.sh e963929 --only a --reps 5          # one part, five repetitions on each side
#
# compare options (not passed to run.sh):
#   --log-dir DIR        keep the logs there (default: a new /tmp/bench-compare-logs.XXXXXX, kept)
#   --noise-band PCT     band for throughput/time ratios when the runs give no repetition spread (default 10, a judgment)
#   --noise-floor PCT    smallest band taken from the runs' repetition spread (default 3, a judgment)
#   --quality-band PCT   band for quality ratios (losses, MSE, AUROC, PSNR, accuracy, ...; default 1, a judgment)
#   --max-band PCT       a measured band above this gives "too noisy to judge" instead of a verdict (default 50)
#
# The before-tree is a clean `git worktree add --detach` of <before-commit> in a temporary directory outside the
# repository; it is removed at the end, also on failure or Ctrl-C. Generated, git-ignored benchmark inputs of this tree
# (bench/data/tabular, bench/small-data CSVs) are copied into it when it lacks them, so that both sides read the same
# files. Each tree's own run.sh builds its own bench project and installs the data / Python reference when missing.
# Parts: the letters of --only (default abcde, as run.sh); each part runs as `run.sh <options> --only <letter>`, before
# first, then after. The logs (build-*.log, <letter>-before.log, <letter>-after.log) stay in the log folder;
# `python3 bench/compare_summary.py LOGDIR` prints the comparison again from them.
set -euo pipefail
# The whole script is one function, read before it runs: editing or checking out this file during a run is safe.
main() {

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

die() { echo "compare.sh: $*" >&2; exit 1; }
usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
before_ref=$1
shift

log_dir=""
noise_band=10
noise_floor=3
quality_band=1
max_band=50
only=""
run_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --log-dir) [ $# -ge 2 ] || die "--log-dir needs a value"; log_dir=$2; shift 2 ;;
    --noise-band) [ $# -ge 2 ] || die "--noise-band needs a value"; noise_band=$2; shift 2 ;;
    --noise-floor) [ $# -ge 2 ] || die "--noise-floor needs a value"; noise_floor=$2; shift 2 ;;
    --quality-band) [ $# -ge 2 ] || die "--quality-band needs a value"; quality_band=$2; shift 2 ;;
    --max-band) [ $# -ge 2 ] || die "--max-band needs a value"; max_band=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || die "--only needs a value"; only=$2; shift 2 ;;
    --soak|--stream) die "$1 prints another summary; compare.sh compares the parts (a)-(j), (t)" ;;
    -h|--help) usage; exit 0 ;;
    *) run_opts+=("$1"); shift ;;
  esac
done

# Parts in the order given, each once; default = what run.sh runs without --only.
[ -n "$only" ] || only=abcde
parts=""
for ((i = 0; i < ${#only}; i++)); do
  c=${only:$i:1}
  [[ "$c" =~ [a-z] ]] || continue
  [[ "$parts" == *"$c"* ]] || parts+=$c
done
[ -n "$parts" ] || die "--only '$only' names no part"

command -v python3 >/dev/null || die "python3 is needed to parse the summary tables"
before_sha=$(git -C "$root" rev-parse --verify --quiet "${before_ref}^{commit}") \
  || die "'$before_ref' is not a commit of $root"
after_sha=$(git -C "$root" rev-parse HEAD)
dirty=""
[ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] || dirty=" + uncommitted changes"

# Temporary directory outside the repository tree.
tmp_base=${TMPDIR:-/tmp}
tmp_real=$(cd "$tmp_base" 2>/dev/null && pwd -P || echo /tmp)
case "$tmp_real/" in "$(cd "$root" && pwd -P)/"*) tmp_base=/tmp ;; esac
tmp=$(mktemp -d "$tmp_base/bench-compare.XXXXXX")
before_tree="$tmp/before"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -d "$before_tree" ]; then
    git -C "$root" worktree remove --force "$before_tree" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  git -C "$root" worktree prune >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$log_dir" ]; then
  log_dir=$(mktemp -d /tmp/bench-compare-logs.XXXXXX)
else
  mkdir -p "$log_dir"
  log_dir=$(cd "$log_dir" && pwd)
fi

stamp() { date -u +%H:%M:%S; }
echo "compare.sh: before = $before_ref ($before_sha), after = $root (HEAD $after_sha$dirty)"
echo "compare.sh: parts $parts, run.sh options: ${run_opts[*]:-(none)}"
echo "compare.sh: logs in $log_dir"

git -C "$root" worktree add --detach --quiet "$before_tree" "$before_sha" \
  || die "could not make a worktree of $before_sha in $before_tree"

# Generated, git-ignored benchmark inputs (written by prepare scripts): give the before-tree the same files.
while IFS= read -r f; do
  case "$f" in */bin/*|*/obj/*) continue ;; esac
  if [ ! -e "$before_tree/$f" ]; then
    mkdir -p "$(dirname "$before_tree/$f")"
    cp -p "$root/$f" "$before_tree/$f"
    echo "compare.sh: copied generated input $f into the before-tree"
  fi
done < <(git -C "$root" ls-files --others --ignored --exclude-standard -- bench/data bench/small-data 2>/dev/null)

# Build both trees first (what run.sh builds), so that a broken build fails here with a clear message.
build() {  # side tree what
  local side=$1 tree=$2 what=$3 proj log=$log_dir/build-$1.log
  proj=$(sed -n 's/^proj=//p' "$tree/bench/run.sh" | head -n1)
  [ -n "$proj" ] || proj=bench/Ml.Autoencoders.Bench/Ml.Autoencoders.Bench.csproj
  [ -f "$tree/$proj" ] || die "the $side-tree has no $proj (is bench/run.sh there?)"
  echo "[$(stamp)] build $side: dotnet build -c Release $proj (log $log)"
  if ! (cd "$tree" && dotnet build -c Release "$proj" -nologo -v q -clp:ErrorsOnly) >"$log" 2>&1; then
    echo "----- last lines of $log -----" >&2
    tail -n 30 "$log" >&2
    die "the $side-tree ($what) failed to build $proj; see $log"
  fi
}
build before "$before_tree" "commit $before_sha"
build after "$root" "$root, HEAD $after_sha$dirty"

declare -A run_rc
start=$(date +%s)
for ((i = 0; i < ${#parts}; i++)); do
  p=${parts:$i:1}
  for side in before after; do
    tree=$root
    [ "$side" = before ] && tree=$before_tree
    log=$log_dir/$p-$side.log
    t0=$(date +%s)
    echo "[$(stamp)] ($p) $side: bash bench/run.sh ${run_opts[*]} --only $p"
    set +e
    (cd "$tree" && bash bench/run.sh "${run_opts[@]}" --only "$p") >"$log" 2>&1
    rc=$?
    set -e
    run_rc[$p-$side]=$rc
    echo "[$(stamp)] ($p) $side: exit $rc after $(( $(date +%s) - t0 ))s, log $log"
    if [ $rc -ne 0 ]; then
      echo "----- last lines of $log -----"
      tail -n 15 "$log"
      echo "-----"
    fi
  done
done
elapsed=$(( $(date +%s) - start ))

{
  echo "before=$before_ref ($before_sha)"
  echo "after=$root (HEAD $after_sha$dirty)"
  echo "options=${run_opts[*]}"
  echo "parts=$parts"
} >"$log_dir/compare.info"

echo
python3 "$here/compare_summary.py" "$log_dir" --parts "$parts" \
  --noise-band "$noise_band" --noise-floor "$noise_floor" --quality-band "$quality_band" --max-band "$max_band"
echo "runs: $(( elapsed / 60 ))m$(( elapsed % 60 ))s for ${#parts} part(s) x 2 sides (builds not counted); logs: $log_dir"
failed=0
for k in "${!run_rc[@]}"; do [ "${run_rc[$k]}" -eq 0 ] || failed=1; done
[ $failed -eq 0 ] || { echo "compare.sh: some runs failed (see the logs above)" >&2; exit 1; }
}
main "$@"
exit
