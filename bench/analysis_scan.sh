#!/usr/bin/env bash
# Benchmark: auxgrid-analyze over a results directory shaped like the paper's
# whole grid (experiments/paper.toml, 20 seeds: 1,000 cells of 1,077 test
# utterances, 21 conditions, 25 epochs), made by the test helper
# tests/synthetic_results (written once, not timed). Times `tables` (all five
# tables) and `report` (tables, figures with gnuplot, HTML), best of REPEATS,
# with a warm page cache, and `tables` once with a cold one when root may drop
# caches.
#   bash bench/analysis_scan.sh [BUILD_DIR=build] [DIR=/tmp/auxgrid-bench-results] [REPEATS=3]
set -euo pipefail
build=${1:-build}
dir=${2:-/tmp/auxgrid-bench-results}
repeats=${3:-3}
src=$(cd "$(dirname "$0")/.." && pwd)

"$build/tests/synthetic_results" "$dir" "$src/experiments/paper.toml" 20 1077
echo "results: $(ls "$dir/cells" | wc -l) files, $(du -sh "$dir/cells" | cut -f1)"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
best() {  # best NAME COMMAND...: the fastest of $repeats runs
  local name=$1 fastest=0 start took
  shift
  for _ in $(seq "$repeats"); do
    start=$(ms)
    "$@" > /dev/null 2>&1
    took=$(( $(ms) - start ))
    if [ "$fastest" -eq 0 ] || [ "$took" -lt "$fastest" ]; then fastest=$took; fi
  done
  printf '%-24s %6d ms (best of %d, warm cache)\n' "$name" "$fastest" "$repeats"
}

best "auxgrid-analyze tables" "$build/auxgrid-analyze" tables "$dir"
best "auxgrid-analyze report" "$build/auxgrid-analyze" report "$dir" --out "$dir.report"
if sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
  start=$(ms)
  "$build/auxgrid-analyze" tables "$dir" > /dev/null 2>&1
  printf '%-24s %6d ms (cold cache)\n' "auxgrid-analyze tables" $(( $(ms) - start ))
fi
