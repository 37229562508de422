# Sourced by the end-to-end scripts as `source tests/e2e_common.sh BUILD_DIR`:
# strict mode, $build (absolute), a scratch directory $work that is the current
# directory and is removed on exit (kept with KEEP=1), and small helpers.
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d)
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_failure NAME FRAGMENT... -- COMMAND...: non-zero exit and every fragment in stderr.
expect_failure() {
  local name=$1; shift
  local fragments=()
  while [ "$1" != "--" ]; do fragments+=("$1"); shift; done
  shift
  if "$@" > out.txt 2> err.txt; then fail "$name: exited 0"; fi
  for f in "${fragments[@]}"; do
    grep -qF -- "$f" err.txt || { cat err.txt; fail "$name: '$f' not in the error"; }
  done
  echo "ok: $name"
}

# tiny_grid [SETTINGS...] [-- AXIS LINES...]: writes grid.toml over $work/corpus.h5
# (made once, the tiny synthetic preset): the tiny model for one epoch, but
# for the "key = value" SETTINGS lines, and seeds 0 and 1 unless AXIS LINES.
tiny_grid() {
  [ -f "$work/corpus.h5" ] || "$build/auxgrid" synth --preset tiny --out "$work/corpus.h5" >/dev/null
  local settings=("model.width = 8" "model.heads = 2" "model.layers = 1" "train.epochs = 1")
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    local key=${1%% *} kept=() line
    for line in "${settings[@]}"; do [ "${line%% *}" = "$key" ] || kept+=("$line"); done
    settings=("${kept[@]}" "$1")
    shift
  done
  [ $# -gt 0 ] && shift
  local axes=("$@")
  [ ${#axes[@]} -gt 0 ] || axes=("seed = [0, 1]")
  printf '[settings]\ndata.corpus = "%s"\n%s\n[axes]\n%s\n' "$work/corpus.h5" \
    "$(printf '%s\n' "${settings[@]}")" "$(printf '%s\n' "${axes[@]}")" > grid.toml
}

mpirun_() { mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$@"; }
