#!/usr/bin/env bash
# Data-parallel cells under real Open MPI. A cell's result does not depend on
# how many ranks train it (docs/design.md, "Training one cell"): with the
# default dropout, one rank, a group of 2 and a group of 4 (--ranks-per-cell)
# store the same bits (losses of every epoch, every prediction, F1), and so
# does a cell preempted under 2 ranks and finished under 1. The trainer itself
# checks after every epoch that the group's parameters are bit-identical.
# Usage: tests/e2e_data_parallel.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"
command -v h5dump >/dev/null || { echo "SKIP: h5dump (hdf5-tools) is not installed"; exit 0; }

"$build/auxgrid" synth --preset tiny --seed 2 --out corpus.h5 >/dev/null
cat > grid.toml <<TOML
[settings]
data.corpus = "corpus.h5"
model.width = 16
model.heads = 2
model.layers = 1
train.epochs = 3
train.batch_size = 16
train.procedure = "optimized"
eval.conditions = "ideal,audio_only,mask_video_p50"
[axes]
model.name = ["auxformer", "baseline1"]
TOML
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none)

"$build/auxgrid" run grid.toml --out one --threads 1 -q
"${mpi[@]}" -np 2 "$build/auxgrid" run grid.toml --out two --ranks-per-cell 2 --threads 1 2> two.log ||
  { cat two.log; fail "group run"; }
grep -q "2 ranks, mpi" two.log || { cat two.log; fail "the cells were not trained by a group of 2"; }
"${mpi[@]}" -np 4 "$build/auxgrid" run grid.toml --out four --ranks-per-cell 4 --threads 1 2> four.log ||
  { cat four.log; fail "group run of 4"; }
[ "$(ls two/cells | wc -l)" -eq 2 ] || fail "the group wrote $(ls two/cells | wc -l) results, expected 2"

# stored DIR: every cell's losses per epoch, predictions and F1, in full precision, by cell id.
stored() {
  local f
  for f in "$1"/cells/*.h5; do
    echo "== $(basename "$f")"
    for d in /train/train_loss /train/dev_loss /eval/ideal/predictions /eval/audio_only/predictions \
      /eval/mask_video_p50/predictions; do
      h5dump -m %.17g -d "$d" -y -w 0 "$f" | sed -n '/DATA {/,/}/p'
    done
    for a in /eval/ideal/micro_f1 /eval/ideal/macro_f1 /eval/mask_video_p50/micro_f1; do
      h5dump -m %.17g -a "$a" -y -w 0 "$f" | sed -n '/DATA {/,/}/p'
    done
  done
}
stored one > one.txt
[ "$(grep -c "==" one.txt)" -eq 2 ] || { cat one.txt; fail "expected 2 results of one rank"; }
for n in two four; do
  stored $n > $n.txt
  diff one.txt $n.txt > $n.diff || { head -40 $n.diff; fail "1 rank and the group of $n stored different results"; }
done
echo "ok: 1, 2 and 4 ranks per cell store the same bits"
h5dump -a /prov.ranks_per_cell two/cells/*.h5 | grep -q '"2"' || fail "provenance does not record 2 ranks per cell"

# Preempted under 2 ranks (USR1, which mpirun forwards), finished under 1: the
# same bits as the uninterrupted runs above.
"${mpi[@]}" -np 2 "$build/auxgrid" run grid.toml --out moved --ranks-per-cell 2 --threads 1 > moved.log 2>&1 &
launcher=$!
for _ in $(seq 3000); do grep -q "epoch 1/3" moved.log && break; sleep 0.01; done
kill -USR1 $launcher
code=0
wait $launcher || code=$?
[ $code -eq 3 ] || { cat moved.log; fail "the group, sent USR1, exited $code, expected 3"; }
ls moved/checkpoints/*.pt > /dev/null 2>&1 || { cat moved.log; fail "no checkpoint after USR1"; }
"$build/auxgrid" run grid.toml --out moved --threads 1 2> resumed.log || { cat resumed.log; fail "resume under 1 rank"; }
grep -q "resumed from checkpoint" resumed.log || { cat resumed.log; fail "the single rank did not resume"; }
stored moved > moved.txt
diff one.txt moved.txt > moved.diff || { head -40 moved.diff; fail "preempted under 2 ranks and finished under 1: other bits"; }
echo "ok: preempted under 2 ranks, finished under 1: the same bits"

# Watchdog: one rank of a group stops (SIGSTOP, as a hung peer would); the
# other, blocked in the gradient allreduce, aborts the launch after the
# timeout and records the failure instead of holding the allocation.
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  "$build/auxgrid" run grid.toml --out hang --ranks-per-cell 2 --threads 1 --watchdog 4 --set train.epochs=200 \
  > hang.log 2>&1 &
launcher=$!
for _ in $(seq 300); do grep -q "epoch 1/200" hang.log && break; sleep 0.1; done
victim=$(pgrep -f "^$build/auxgrid run grid.toml --out hang" | head -1)
kill -STOP "$victim"
for _ in $(seq 300); do kill -0 $launcher 2>/dev/null || break; sleep 0.2; done
kill -9 "$victim" 2>/dev/null || true
kill -0 $launcher 2>/dev/null && fail "the launch still hangs after the watchdog timeout"
grep -q "watchdog: rank .* made no progress" hang.log || { cat hang.log; fail "the watchdog did not fire"; }
grep -q "watchdog" hang/errors/*.log || fail "the watchdog did not record the failure"
# The watchdog watches ranks that train, not ranks that wait: under 2 ranks, one
# finishes its short cell and waits at the end of the run while the other
# trains a long one for longer than the timeout; the launch still succeeds.
cat > uneven.toml <<TOML
[settings]
data.corpus = "corpus.h5"
model.width = 16
model.heads = 2
model.layers = 1
eval.conditions = "ideal"
[[variants]]
label = "short"
train.epochs = 1
[[variants]]
label = "long"
train.epochs = 60
TOML
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  "$build/auxgrid" run uneven.toml --out uneven --threads 1 --watchdog 2 > uneven.log 2>&1 ||
  { cat uneven.log; fail "the watchdog aborted a launch in which a rank only waited for the other"; }
[ "$(ls uneven/cells/*.h5 | wc -l)" -eq 2 ] || fail "uneven: expected 2 results"
[ ! -d uneven/errors ] || fail "uneven: a failure was recorded"
long_seconds=$(h5dump -a /prov.wall_seconds uneven/cells/*.h5 | grep -o '"[0-9.]*"' | tr -d '"' | sort -n | tail -1)
awk -v s="$long_seconds" 'BEGIN { exit !(s > 3) }' || fail "uneven: the long cell took only $long_seconds s: no wait to test"

echo "e2e_data_parallel: ok"
