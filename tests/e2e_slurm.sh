#!/usr/bin/env bash
# End to end on a real single-node SLURM cluster (tests/slurm_cluster.sh):
# `auxgrid sbatch` writes a job array that trains every cell of a tiny grid
# exactly once; a resubmission retrains nothing; two copies of an array running
# at once still train each cell once; and the script's preemption contract
# (signal forwarded, exit code 3 -> requeue) holds, with a stand-in for
# `auxgrid run`. Skips where slurm-wlm and munge are not installed
# (bash launchers/setup.sh --with-slurm installs them).
# Usage: tests/e2e_slurm.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
export PATH=$PATH:/usr/sbin:/sbin
for p in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$p" >/dev/null || { echo "SKIP: $p is not installed (bash launchers/setup.sh --with-slurm)"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the private SLURM cluster runs as root (SlurmUser=root)"; exit 0; }

source "$here/slurm_cluster.sh"
work=$(mktemp -d)
chmod 755 "$work"  # for munged, whose socket lies inside
trap 'slurm_stop; rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "FAIL: $*" >&2
  for f in res*/slurm/*.out; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done >&2
  slurm_logs >&2
  exit 1
}

# wait_arrays TASKS ID...: waits until the array jobs (of TASKS tasks each)
# have left the queue and every task has its final record in the job
# completion file, then checks that they all succeeded.
wait_arrays() {
  local tasks=$1 id deadline=$((SECONDS + 120))
  shift
  local expected=$((tasks * $#))
  while :; do
    local queued="" done_=0
    for id in "$@"; do
      queued+=$(squeue -h -j "$id" -o %i 2>/dev/null || true)
      done_=$((done_ + $(grep -c "ArrayJobId=$id " "$SLURM_DIR/jobcomp.txt" 2>/dev/null || true)))
    done
    [ -z "$queued" ] && [ "$done_" -ge "$expected" ] && break
    [ $SECONDS -lt $deadline ] || fail "array job(s) $* did not finish in 120 s: $(squeue)"
    sleep 0.5
  done
  for id in "$@"; do
    grep "ArrayJobId=$id " "$SLURM_DIR/jobcomp.txt" | grep -v "JobState=COMPLETED .*ExitCode=0:0" &&
      fail "a task of array job $id did not complete with exit code 0"
  done
  return 0
}

# Each cell of the grid has one complete result, was started once in all the
# given logs, and holds no lock any more.
check_cells_once() {
  local out=$1
  shift
  [ "$(ls "$out"/cells | wc -l)" -eq 6 ] || fail "expected 6 files in $out/cells: $(ls "$out"/cells)"
  "$build/auxgrid" plan grid.toml --out "$out" | grep -q "6 done, 0 to train" || fail "plan of $out"
  [ -z "$(find "$out/locks" -type f)" ] || fail "locks left: $(ls "$out/locks")"
  local started
  started=$(cat "$@" | grep ' started$' | grep -o '([0-9a-f]*)' | sort || true)
  [ "$(echo "$started" | wc -l)" -eq 6 ] && [ "$(echo "$started" | uniq | wc -l)" -eq 6 ] ||
    fail "cells were not started exactly once each: $(echo $started)"
}

start=$SECONDS
slurm_start "$work/slurm" || fail "the cluster did not start"
echo "cluster up: $(sinfo -h -o '%n %T, %c CPUs')"

"$build/auxgrid" synth --preset tiny --out corpus.h5 >/dev/null
cat > grid.toml <<TOML
[grid]
name = "e2e_slurm"
[settings]
data.corpus = "corpus.h5"
model.width = 8
model.heads = 2
model.layers = 1
train.epochs = 1
[axes]
model.name = ["auxformer", "baseline1"]
seed = "0-2"
TOML

# An array of 4 tasks for 6 cells.
"$build/auxgrid" sbatch grid.toml --out res --array-size 4 --cpus-per-task 1 > sbatch.txt || fail "auxgrid sbatch"
script=res/slurm/e2e_slurm.sbatch
grep -q "6 of 6 cells to train in 4 array task(s)" sbatch.txt || fail "sbatch output: $(cat sbatch.txt)"
grep -q "^  sbatch '$work/$script'$" sbatch.txt || fail "sbatch does not print the command: $(cat sbatch.txt)"
grep -q -- "--array=0-3" "$script" || fail "array size"
job1=$(sbatch --parsable "$script")
wait_arrays 4 "$job1"
for t in 0 1 2 3; do [ -f "res/slurm/${job1}_$t.out" ] || fail "no log of task $t"; done
check_cells_once res res/slurm/"${job1}"_*.out
echo "array $job1: 6 cells trained once by 4 tasks ($((SECONDS - start)) s)"

# A resubmission of the same script: every task finds nothing to do.
sums=$(md5sum res/cells/*.h5; stat -c '%n %Y' res/cells/*.h5)
job2=$(sbatch --parsable "$script")
wait_arrays 4 "$job2"
for t in 0 1 2 3; do
  grep -q "nothing to train" "res/slurm/${job2}_$t.out" || fail "task $t of the resubmission: $(cat "res/slurm/${job2}_$t.out")"
done
grep -q ' started$' res/slurm/"${job2}"_*.out && fail "the resubmission started a cell"
[ "$sums" = "$(md5sum res/cells/*.h5; stat -c '%n %Y' res/cells/*.h5)" ] || fail "the resubmission touched a result"
echo "resubmission $job2: nothing retrained ($((SECONDS - start)) s)"

# Two copies of a 3-task array at once on a fresh directory: shards overlap,
# the claims keep every cell to one training.
"$build/auxgrid" sbatch grid.toml --out res2 --array-size 3 --cpus-per-task 1 >/dev/null || fail "auxgrid sbatch (res2)"
script=res2/slurm/e2e_slurm.sbatch
job3=$(sbatch --parsable "$script")
job4=$(sbatch --parsable "$script")
wait_arrays 3 "$job3" "$job4"
check_cells_once res2 res2/slurm/*.out
grep -h -E "is being trained by .*; skipped|was completed by another launch; skipped" res2/slurm/*.out > skipped.txt ||
  fail "no task skipped a cell that another one held or had completed"
echo "overlapping arrays $job3 and $job4: 6 cells trained once, $(wc -l < skipped.txt) skip(s) ($((SECONDS - start)) s)"

# Preemption contract, with a stand-in for `auxgrid run`: USR1 reaches it
# through the script's trap; it exits 3; the script requeues the task, which
# runs again with SLURM_RESTART_COUNT=1.
cat > stand_in.sh <<'SH'
#!/bin/bash
echo "stand-in: restart ${SLURM_RESTART_COUNT:-0}"
[ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] && exit 0
trap 'echo "stand-in: USR1, checkpointed"; exit 3' USR1
touch "running.$SLURM_JOB_ID"
while :; do sleep 0.1; done
SH
chmod +x stand_in.sh
sed "s|^'$(readlink -f "$build/auxgrid")' run|'$work/stand_in.sh' run|" res/slurm/e2e_slurm.sbatch > preempt.sbatch
grep -q "^'$work/stand_in.sh' run" preempt.sbatch || fail "could not put the stand-in into the script"
job5=$(sbatch --parsable --array=0 --output="$work/preempt_%A_%a.out" preempt.sbatch)
for ((i = 0; i < 100; i++)); do compgen -G "running.*" >/dev/null && break; sleep 0.1; done
compgen -G "running.*" >/dev/null || fail "the stand-in did not start"
scancel --batch --signal=USR1 "${job5}_0"
for ((i = 0; i < 100; i++)); do [ "$(squeue -h -j "$job5" -o %T)" = PENDING ] && break; sleep 0.1; done
[ "$(squeue -h -j "$job5" -o %T)" = PENDING ] || fail "the task was not requeued: $(cat preempt_*.out)"
scontrol update JobId="${job5}_0" StartTime=now  # a requeued job waits ~120 s otherwise
for ((i = 0; i < 200; i++)); do [ -z "$(squeue -h -j "$job5" -o %i)" ] && break; sleep 0.1; done
log=$(cat preempt_"${job5}"_0.out)
for line in "stand-in: USR1, checkpointed" "requeueing job" "stand-in: restart 1"; do
  grep -q "$line" <<< "$log" || fail "preemption: no '$line' in the task's log: $log"
done
echo "preemption: USR1 forwarded, exit 3 requeued the task, it ran again ($((SECONDS - start)) s)"
echo "e2e_slurm: ok"
