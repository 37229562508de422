#!/usr/bin/env bash
# From a fresh clone: set-up, build, a tiny synthetic corpus, the quickstart
# grid under mpirun with 2 ranks, the tables with significance stars, and the
# HTML report (tables, figures, provenance) in runs/quickstart/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash launchers/setup.sh
bash launchers/build.sh

[ -f corpora/tiny.h5 ] || ./build/auxgrid synth --preset tiny --seed 0 --out corpora/tiny.h5
# One thread per rank: two single-threaded ranks beat one two-threaded process here.
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  ./build/auxgrid run experiments/quickstart.toml --out runs/quickstart --threads 1
./build/auxgrid-analyze tables runs/quickstart --table table1 --comparisons runs/quickstart/comparisons.csv
./build/auxgrid-analyze report runs/quickstart --out runs/quickstart/report
echo "quickstart: done in $(( $(date +%s) - start )) s (t-tests in runs/quickstart/comparisons.csv," \
  "report in runs/quickstart/report/index.html)"
