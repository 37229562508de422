#!/usr/bin/env bash
# Every benchmark in one command, printing their tables (bench/README.md says
# what each measures). Run on an idle machine: nothing else may compete for
# the cores or the memory (the plain variant takes the throughput benchmark
# to 22 GB at batch 32; the fast kernels need 4).
#   bash bench/run.sh [BUILD_DIR=build] [--all]   (--all: every model, both corpora)
set -euo pipefail
build=${1:-build}
scope=(--models auxformer --corpora crema-d)
[ "${2:-}" = "--all" ] && scope=(--models all --corpora crema-d,msp-improv)
src=$(cd "$(dirname "$0")/.." && pwd)
threads=$(nproc)

echo "== training and evaluation throughput (bench/throughput.cpp)"
"$build/throughput" "${scope[@]}" --threads "$threads"

echo
echo "== gradient exchange of 2 data-parallel ranks (bench/allreduce.cpp)"
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$build/allreduce" --threads 1

echo
echo "== launcher overhead per cell (auxgrid run, 8 one-epoch cells of the tiny corpus)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/auxgrid" synth --preset tiny --out "$work/tiny.h5" > /dev/null
cat > "$work/grid.toml" <<TOML
[settings]
data.corpus = "$work/tiny.h5"
model.width = 16
model.heads = 2
model.layers = 1
train.epochs = 1
[axes]
seed = "0-7"
TOML
start=$(date +%s%N)
"$build/auxgrid" run "$work/grid.toml" --out "$work/res" -q --threads "$threads"
launch_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cells_ms=0
for f in "$work"/res/cells/*.h5; do
  s=$(h5dump -a /prov.wall_seconds "$f" | sed -n 's/.*(0): "\(.*\)".*/\1/p')
  cells_ms=$(awk -v total="$cells_ms" -v s="$s" 'BEGIN { printf "%d", total + s * 1000 }')
done
start=$(date +%s%N)
"$build/auxgrid" run "$work/grid.toml" --out "$work/res" -q
noop_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "launch ${launch_ms} ms for 8 cells whose training took ${cells_ms} ms: $(( (launch_ms - cells_ms) / 8 )) ms" \
  "of launcher per cell; a launch with nothing to train: ${noop_ms} ms"

echo
echo "== analysis of the paper's 1,000 result files (bench/analysis_scan.sh)"
bash "$src/bench/analysis_scan.sh" "$build" /tmp/auxgrid-bench-results 3
