#!/usr/bin/env bash
# Losing nothing: (1) SIGUSR1 (SLURM's preemption warning) makes `auxgrid run`
# checkpoint and exit 3; the rerun resumes and its result is identical to an
# uninterrupted run. (2) Kill test: one rank of `mpirun -np 2` is SIGKILLed at
# a random moment, several times; each rerun completes every cell exactly once,
# no result file is corrupted, and the results equal a clean run's.
# Both signals are timed by the run's own log, not by the clock, so that they
# land mid-training however fast or loaded the machine is.
# Usage: tests/e2e_resilience.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"
trap 'pkill -9 -f "$work" 2>/dev/null || true; cleanup' EXIT  # no stray ranks
command -v h5dump >/dev/null || { echo "SKIP: h5dump (hdf5-tools) is not installed"; exit 0; }

# What must not change: every cell's losses and predictions, at full precision.
fingerprint() {
  for f in $(ls "$1"/cells/*.h5 | sort); do
    echo "$(basename "$f")"
    for d in /train/train_loss /train/dev_loss /eval/ideal/predictions /eval/mask_audio_p50/predictions; do
      h5dump -A 0 -m %.17g -d "$d" -y -w 0 "$f" | sed -n '/DATA {/,/}/p'
    done
  done | md5sum
}

"$build/auxgrid" synth --preset tiny --seed 3 --out corpus.h5 >/dev/null
cat > grid.toml <<TOML
[settings]
data.corpus = "$work/corpus.h5"
model.width = 16
model.heads = 2
model.layers = 1
train.epochs = 8
train.batch_size = 16
[axes]
model.name = ["auxformer", "baseline1"]
seed = [0, 1]
TOML

"$build/auxgrid" run grid.toml --out clean --threads 1 -q
clean=$(fingerprint clean)

# wait_for_lines FILE PATTERN N: until FILE has N lines matching PATTERN.
wait_for_lines() {
  for _ in $(seq 3000); do
    [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.02
  done
  fail "timed out waiting for $3 lines of '$2' in $1"
}

# (1) Preemption by signal.
"$build/auxgrid" run grid.toml --out pre --threads 1 2> pre.log &
pid=$!
wait_for_lines pre.log "epoch 1/8" 1
kill -STOP $pid  # held mid-cell while status looks at it, so the signal cannot miss the training
"$build/auxgrid" status grid.toml --out pre > status.txt
kill -USR1 $pid
kill -CONT $pid
grep -q "heartbeat" status.txt || { cat status.txt; fail "status does not show the running cell"; }
code=0; wait $pid || code=$?
[ $code -eq 3 ] || { cat pre.log; fail "preempted run exited $code, expected 3"; }
ls pre/checkpoints/*.pt >/dev/null 2>&1 || fail "no checkpoint after SIGUSR1"
grep -q "checkpointed at epoch" pre.log || fail "the log does not say where it checkpointed"
"$build/auxgrid" run grid.toml --out pre --threads 1 2> resume.log
grep -q "resumed from checkpoint" resume.log || { cat resume.log; fail "the rerun did not resume"; }
[ "$(fingerprint pre)" = "$clean" ] || fail "the resumed results differ from an uninterrupted run"
[ -z "$(ls pre/checkpoints 2>/dev/null)" ] || fail "checkpoints left after completion"
echo "ok: SIGUSR1 checkpoints, exits 3, resumes to identical results"

# (1b) Ctrl-C, on one cell: the same checkpoint, exit code 130, and a word on how to go on.
one=(--set model.name=auxformer --set seed=0 --out int --threads 1)
"$build/auxgrid" run grid.toml "${one[@]}" 2> int.log &
pid=$!
wait_for_lines int.log "epoch 1/8" 1
kill -INT $pid
code=0; wait $pid || code=$?
[ $code -eq 130 ] || { cat int.log; fail "interrupted run exited $code, expected 130"; }
grep -q "interrupted (Ctrl-C) after 0 cells; 1 checkpointed; rerun to continue" int.log ||
  { cat int.log; fail "Ctrl-C without a word"; }
ls int/checkpoints/*.pt >/dev/null 2>&1 || fail "no checkpoint after Ctrl-C"
"$build/auxgrid" run grid.toml "${one[@]}" 2> resume.log
grep -q "resumed from checkpoint" resume.log || { cat resume.log; fail "the rerun after Ctrl-C did not resume"; }
echo "ok: Ctrl-C checkpoints, exits 130, says so, and the rerun resumes"

# (2) Kill test: SIGKILL one rank at random moments.
for round in 1 2 3; do
  out="kill$round"
  mpirun_ "$build/auxgrid" run grid.toml --out "$out" --threads 1 > "$out.log" 2>&1 &
  launcher=$!
  # A random moment in the run: after 1 to 24 of its 32 epochs (4 cells x 8).
  after=$((1 + RANDOM % 24))
  wait_for_lines "$out.log" " epoch [0-9]*/8:" $after
  victim=$(pgrep -f "^$build/auxgrid run grid.toml --out $out " | shuf -n 1 || true)  # a rank, not mpirun
  [ -n "$victim" ] || { cat "$out.log"; fail "round $round: no rank left to kill"; }
  kill -9 "$victim"
  wait $launcher || true
  mpirun_ "$build/auxgrid" run grid.toml --out "$out" --threads 1 > "$out.rerun.log" 2>&1 ||
    { cat "$out.rerun.log"; fail "round $round: rerun failed"; }
  "$build/auxgrid" plan grid.toml --out "$out" | grep -q "4 done, 0 to train" || fail "round $round: cells missing"
  [ "$(ls "$out"/cells/*.h5 | wc -l)" -eq 4 ] || fail "round $round: not exactly 4 result files"
  "$build/auxgrid-analyze" tables "$out" > /dev/null 2> "$out.warn" || fail "round $round: analysis"
  [ ! -s "$out.warn" ] || { cat "$out.warn"; fail "round $round: a result file is corrupted"; }
  [ "$(fingerprint "$out")" = "$clean" ] || fail "round $round: results differ from a clean run"
  echo "ok: round $round (killed pid $victim after $after of 32 epochs; $(grep -c 'resumed from checkpoint' "$out.rerun.log" || true) cell(s) resumed)"
done
echo "e2e_resilience: ok"
