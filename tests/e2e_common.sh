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

mpirun_() { mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$@"; }
