#!/usr/bin/env bash
# From a fresh clone: set-up, build, a tiny synthetic corpus, the quickstart
# grid under mpirun with 2 ranks, and Table 1 with significance stars.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash launchers/setup.sh
bash launchers/build.sh

[ -f corpora/tiny.h5 ] || ./build/auxgrid synth --preset tiny --seed 0 --out corpora/tiny.h5
# One thread per rank: two single-threaded ranks beat one two-threaded process here.
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  ./build/auxgrid run experiments/quickstart.toml --out runs/quickstart --threads 1
./build/auxgrid-analyze tables runs/quickstart --comparisons runs/quickstart/comparisons.csv
echo "quickstart: done in $(( $(date +%s) - start )) s (comparisons in runs/quickstart/comparisons.csv)"
