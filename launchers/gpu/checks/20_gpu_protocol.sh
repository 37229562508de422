#!/usr/bin/env bash
# The protocol on one GPU (run by launchers/gpu/check.sh after the smoke
# check): bf16 against fp32 over seeds, preemption and resume, several cells
# per GPU under mpirun (cells per hour and memory per rank for 1, 2, 4, 8
# ranks), an out-of-memory cell, and a data-parallel group that would put two
# ranks on the one GPU. Each part prints one "result:" line; the log is the
# measurement.
#   20_gpu_protocol.sh BUILD_DIR OUT_DIR
# Without a CUDA device it prints SKIP and exits 0. AUXGRID_GPU_CHECK_DEVICE=cpu
# runs the same steps on the CPU (the rehearsal of this script, on small sizes).
set -euo pipefail
build=$(cd "$1" && pwd)
device=${AUXGRID_GPU_CHECK_DEVICE:-cuda}
gpu=0
if [ "$device" = cuda ]; then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
    echo "SKIP: no CUDA device (no working nvidia-smi)"; exit 0
  fi
  gpu=1
fi
work=$(mktemp -d)
# With no job left kill fails; || true keeps set -e from making that the
# script's exit status.
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
mpirun_() { mpirun --allow-run-as-root --oversubscribe --bind-to none "$@"; }
"$build/auxgrid" synth --preset tiny --seed 0 --out corpus.h5 >/dev/null
width=${AUXGRID_GPU_CHECK_WIDTH:-$([ "$gpu" = 1 ] && echo 130 || echo 16)}
heads=$([ "$width" = 130 ] && echo 10 || echo 2)
grid() {  # grid NAME EPOCHS SEEDS [extra settings lines]
  printf '[grid]\nname = "%s"\n[settings]\ndata.corpus = "corpus.h5"\nmodel.width = %s\nmodel.heads = %s\n' \
    "$1" "$width" "$heads" > "$1.toml"
  printf 'train.epochs = %s\n%s\n[axes]\nseed = %s\n' "$2" "${4:-}" "$3" >> "$1.toml"
}
# F1 (ideal) per seed of a results directory, from the export.
ideal_f1() { "$build/auxgrid-analyze" export "$1" 2>/dev/null | awk -F, 'NR > 1 && $4 == "ideal" {print $5}'; }
mean_sd() { awk '{s += $1; q += $1 * $1; n++} END {m = s / n; printf "%.4f +- %.4f (n=%d)", m, sqrt((q - n * m * m) / (n - 1)), n}'; }

echo "== 1. fp32 against bf16 on $device, 4 seeds, AuxFormer width $width"
grid precision 6 '"0-3"'
"$build/auxgrid" run precision.toml --out fp32 --device "$device" -q
if "$build/auxgrid" run precision.toml --out bf16 --device "$device" -q --set train.precision=bf16 2> bf16.err; then
  echo "result: ideal micro-F1 fp32 $(ideal_f1 fp32 | mean_sd), bf16 $(ideal_f1 bf16 | mean_sd)"
  ideal_f1 bf16 | awk '$1 != $1 + 0 || $1 < 0 || $1 > 1 {exit 1}' || fail "bf16 F1 not finite"
else
  [ "$gpu" = 0 ] || { cat bf16.err; fail "bf16 on the GPU"; }
  echo "result: ideal micro-F1 fp32 $(ideal_f1 fp32 | mean_sd); bf16 refused here: $(tail -n 1 bf16.err | cut -c1-160)"
fi
"$build/auxgrid-analyze" report fp32 --out report >/dev/null 2>&1 || fail "report on the GPU results"
[ "$gpu" = 0 ] || grep -q "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)" report/index.html ||
  fail "the provenance does not name the GPU"

echo "== 2. preemption: SIGUSR1 mid-cell, resume, compare with an uninterrupted run"
grid preempt 8 '[0]'
"$build/auxgrid" run preempt.toml --out whole --device "$device" -q
"$build/auxgrid" run preempt.toml --out resumed --device "$device" > run1.log 2>&1 &
pid=$!
until grep -q "epoch 3/8" run1.log 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
kill -USR1 "$pid" 2>/dev/null || true
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || { tail run1.log; fail "the stopped run exited $rc, expected 3"; }
"$build/auxgrid" run preempt.toml --out resumed --device "$device" -q || fail "the resumed run"
columns() { "$build/auxgrid-analyze" export "$1" 2>/dev/null | cut -d, -f1,4-6,10,11 | sort; }
if [ "$(columns whole)" = "$(columns resumed)" ]; then
  echo "result: preemption: exit 3, resumed cell identical to the uninterrupted one (F1 of 21 conditions, losses)"
else
  diff <(columns whole) <(columns resumed) | head -n 6
  echo "result: preemption: exit 3, resumed; the resumed cell differs from the uninterrupted one (above)"
fi

echo "== 3. several cells on one $device: mpirun -np N, 8 cells of 3 epochs"
grid packing 3 '"0-7"'
for n in 1 2 4 8; do
  [ "$gpu" = 1 ] && { nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits -lms 500 \
    > "mem-$n.csv" 2>/dev/null & sampler=$!; }
  t0=$(date +%s.%N)
  mpirun_ -np "$n" "$build/auxgrid" run packing.toml --out "pack-$n" --device "$device" --threads 1 -q ||
    fail "mpirun -np $n"
  t1=$(date +%s.%N)
  memory=""
  if [ "$gpu" = 1 ]; then
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    memory=", at most $(awk -F', *' '$2 > m {m = $2} END {print m + 0}' "mem-$n.csv") MiB per rank"
  fi
  echo "result: np $n: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f cells/hour (%.1f s)", 8 * 3600 / (b - a), b - a}')$memory"
done

echo "== 4. an out-of-memory cell fails alone, and its rank trains the next cell"
grid oom 1 '[0]' ''
printf '[[variants]]\nlabel = "fits"\n[[variants]]\nlabel = "huge"\nmodel.width = %s\nmodel.heads = 8\n' \
  "$([ "$gpu" = 1 ] && echo 32768 || echo 64)" >> oom.toml
rc=0; "$build/auxgrid" run oom.toml --out oom --device "$device" --max-attempts 1 > oom.log 2>&1 || rc=$?
n=$(find oom/cells -name '*.h5' 2>/dev/null | wc -l)
errors=$(cat oom/errors/*.log 2>/dev/null | tail -n 1 | cut -c1-200 || true)
echo "result: oom: exit $rc, $n of 2 cells complete, error record: ${errors:-none}"
if [ "$gpu" = 1 ] && { [ "$rc" -ne 1 ] || [ "$n" -ne 1 ]; }; then fail "the huge cell should fail alone"; fi

echo "== 5. a data-parallel group of 2 ranks on one $device: an error or the MPI path, never a hang"
grid group 1 '[0]'
rc=0; timeout 300 mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$build/auxgrid" run group.toml --out group --device "$device" --ranks-per-cell 2 \
  --threads 1 > group.log 2>&1 || rc=$?
echo "result: group of 2 on one device: exit $rc ($([ "$rc" -eq 124 ] && echo HANG || echo no hang)); $(grep -m1 -iE 'nccl|communicator|error' group.log | cut -c1-200)"
[ "$rc" -ne 124 ] || fail "the group hung"
echo "20_gpu_protocol: ok ($device)"
