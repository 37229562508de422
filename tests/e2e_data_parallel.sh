#!/usr/bin/env bash
# Data-parallel cells under real Open MPI: one cell trained by a group of 2
# ranks (--ranks-per-cell 2) matches the same cell trained by one rank (same
# global batch, dropout off) to float tolerance. The trainer itself checks
# after every epoch that the group's parameters are bit-identical.
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
model.embed_dropout = 0.0
model.attn_dropout_self = 0.0
model.res_dropout = 0.0
model.relu_dropout = 0.0
model.out_dropout = 0.0
train.epochs = 3
train.batch_size = 16
train.procedure = "optimized"
eval.conditions = "ideal"
TOML

"$build/auxgrid" run grid.toml --out one --threads 1 -q
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  "$build/auxgrid" run grid.toml --out two --ranks-per-cell 2 --threads 1 2> two.log || { cat two.log; fail "group run"; }
grep -q "2 ranks, mpi" two.log || { cat two.log; fail "the cell was not trained by a group of 2"; }
[ "$(ls two/cells | wc -l)" -eq 1 ] || fail "the group wrote $(ls two/cells | wc -l) results, expected 1"

series() { h5dump -A 0 -m %.17g -d "/train/$2" -y -w 0 "$1"/cells/*.h5 | sed -n '/DATA {/,/}/p' | tr -d 'DATA{}(): ' | tr ',' '\n' | grep -v '^$'; }
for name in train_loss dev_loss; do
  paste <(series one "$name") <(series two "$name") > "$name.txt"
  [ "$(wc -l < "$name.txt")" -eq 3 ] || { cat "$name.txt"; fail "$name: expected 3 epochs"; }
  awk -v name="$name" '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-4 * ($1 < 0 ? -$1 : $1) + 1e-6) { print name, NR, $1, $2; bad = 1 } }
       END { exit bad }' "$name.txt" || fail "$name differs between 1 rank and a group of 2"
done
h5dump -a /prov.ranks_per_cell two/cells/*.h5 | grep -q '"2"' || fail "provenance does not record 2 ranks per cell"

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

echo "e2e_data_parallel: ok ($(tr '\n' ' ' < train_loss.txt))"
