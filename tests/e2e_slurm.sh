#!/usr/bin/env bash
# End to end on a real single-node SLURM cluster (tests/slurm_cluster.sh):
# `auxgrid sbatch` writes a job array that trains every cell of a tiny grid
# exactly once; a resubmission retrains nothing; a GPU array is accepted; two copies of an array running
# at once still train each cell once; and a preempted task (USR1 forwarded,
# checkpoint, exit code 3 -> requeue) resumes and completes its cell. Skips
# where slurm-wlm and munge are not installed (launchers/setup.sh --for-tests).
# Usage: tests/e2e_slurm.sh BUILD_DIR
here=$(cd "$(dirname "$0")" && pwd)
source "$here/e2e_common.sh" "$1"
source "$here/slurm_cluster.sh"
chmod 755 "$work"  # for munged, whose socket lies inside
trap 'slurm_stop; cleanup' EXIT
fail() {  # with the tasks' and daemons' logs
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

# slurm/array.sbatch documents what `auxgrid sbatch` writes: with its
# placeholders filled in (and no plugin), it is the generated script. A GPU
# request trains with --device cuda, which a build without CUDA refuses to write.
every_option=(--out res0 --array-size 4 --throttle 2 --cpus-per-task 2 --time 4:00:00 --partition gpu --account lab
  --qos normal --constraint avx2 --setup 'module load cuda' --setup 'echo "set up on $(hostname)"'
  --set train.epochs=2 --sbatch=--reservation=lab --sbatch=--exclusive --script every_option.sbatch)
if "$build/auxgrid" version | grep -q "with CUDA"; then
  every_option+=(--gpus-per-task 1 --mem-per-gpu 8G) device=cuda unused='/@MEM@/d'
else
  expect_failure "a GPU request without CUDA" "--gpus-per-task 1" "without CUDA" "AUXGRID_WITH_CUDA" -- \
    "$build/auxgrid" sbatch grid.toml --out res0 --gpus-per-task 1
  [ -e res0/slurm ] && fail "the refused GPU request wrote something"
  every_option+=(--mem 4G) device=cpu unused='/@GPUS@/d; /@MEM_PER_GPU@/d'
fi
expect_failure "a CUDA device without a GPU" "--device cuda" "needs --gpus-per-task" -- \
  "$build/auxgrid" sbatch grid.toml --out res0 --device cuda
"$build/auxgrid" sbatch grid.toml "${every_option[@]}" >/dev/null || fail "auxgrid sbatch, every option"
dir=$(pwd -P)
grep -v '^##' "$here/../slurm/array.sbatch" | sed -z "s| \\\\\n  --plugin '@PLUGIN@'||" | sed -e "$unused" \
    -e "s|@AUXGRID@|$(readlink -f "$build/auxgrid")|; s|@GRID@|$dir/grid.toml|g; s|@OUT@|$dir/res0|g" \
    -e "s|@SUBMIT_DIR@|$dir|; s|@SCRIPT@|$dir/every_option.sbatch|; s|@GRID_NAME@|e2e_slurm|g" \
    -e "s|@PENDING@|6|; s|@CELLS@|6|; s|@LAST_TASK@|3|; s|@THROTTLE@|%2|; s|@CPUS@|2|; s|@GPUS@|1|" \
    -e "s|@MEM@|4G|; s|@MEM_PER_GPU@|8G|; s|@TIME@|4:00:00|; s|@PARTITION@|gpu|; s|@ACCOUNT@|lab|; s|@QOS@|normal|" \
    -e "s|@CONSTRAINT@|avx2|; s|@DEVICE@|$device|; s|@KEY=VALUE@|train.epochs=2|" \
    -e "s|^#SBATCH @SBATCH_LINE@\$|#SBATCH --reservation=lab\\n#SBATCH --exclusive|" \
    -e "s|^@SETUP@\$|module load cuda\\necho \"set up on \$(hostname)\"|" > template.sbatch
diff template.sbatch every_option.sbatch >&2 || fail "slurm/array.sbatch is not what auxgrid sbatch writes"
echo "slurm/array.sbatch matches the script of auxgrid sbatch"
# SLURM's formats are checked before a script is written.
expect_failure "a time SLURM does not read" "--time '4h'" "D-HH:MM:SS" -- "$build/auxgrid" sbatch grid.toml --out res0 --time 4h
expect_failure "a memory size SLURM does not read" "--mem '16GB'" "16G" -- "$build/auxgrid" sbatch grid.toml --out res0 --mem 16GB

export PATH=$PATH:/usr/sbin:/sbin
for p in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$p" >/dev/null || { echo "SKIP: $p is not installed (bash launchers/setup.sh --for-tests)"; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the private SLURM cluster runs as root (SlurmUser=root)"; exit 0; }
slurm_start "$work/slurm" || fail "the cluster did not start"
echo "cluster up: $(sinfo -h -o '%n %T, %c CPUs')"

# An array of 4 tasks for 6 cells.
"$build/auxgrid" sbatch grid.toml --out res --array-size 4 --cpus-per-task 1 --setup 'echo "setup ran in $PWD"' \
  > sbatch.txt || fail "auxgrid sbatch"
script=res/slurm/e2e_slurm.sbatch
grep -q "6 of 6 cells to train in 4 array task(s)" sbatch.txt || fail "sbatch output: $(cat sbatch.txt)"
grep -q "^  sbatch '$work/$script'$" sbatch.txt || fail "sbatch does not print the command: $(cat sbatch.txt)"
grep -q -- "--array=0-3" "$script" || fail "array size"
job1=$(sbatch --parsable "$script")
wait_arrays 4 "$job1"
for t in 0 1 2 3; do
  grep -q "^setup ran in $dir$" "res/slurm/${job1}_$t.out" || fail "task $t did not run --setup in the submit directory"
done
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
# Without --setup (or any optional line) a task's log holds no shell error.
grep -H -E "command not found|syntax error|No such file" res2/slurm/*.out && fail "a task's log shows a shell error"
grep -h -E "is being trained by .*; skipped|was completed by another launch; skipped" res2/slurm/*.out > skipped.txt ||
  fail "no task skipped a cell that another one held or had completed"
echo "overlapping arrays $job3 and $job4: 6 cells trained once, $(wc -l < skipped.txt) skip(s) ($((SECONDS - start)) s)"

# A GPU array on the cluster's two scheduler-only GPUs: SLURM accepts the
# script (--gpus-per-task needs its --ntasks=1) and gives each task one GPU.
# The tasks train on the CPU (--device cpu), as no GPU is really there.
"$build/auxgrid" sbatch grid.toml --out res_gpu --array-size 2 --cpus-per-task 1 --gpus-per-task 1 --device cpu \
  --setup 'echo "gpus: ${SLURM_GPUS_PER_TASK:-none} on ${CUDA_VISIBLE_DEVICES:-none}"' >/dev/null ||
  fail "auxgrid sbatch (GPU)"
job_gpu=$(sbatch --parsable res_gpu/slurm/e2e_slurm.sbatch) || fail "sbatch refused the GPU script"
wait_arrays 2 "$job_gpu"
for t in 0 1; do
  grep -q "^gpus: 1 on [01]$" "res_gpu/slurm/${job_gpu}_$t.out" || fail "GPU task $t got no GPU"
done
grep -H -E "command not found|syntax error|No such file|unbound variable" res_gpu/slurm/*.out &&
  fail "a GPU task's log shows a shell error"
"$build/auxgrid" plan grid.toml --out res_gpu | grep -q "6 done, 0 to train" || fail "the GPU array's cells"
echo "GPU array $job_gpu: accepted, one GPU per task, 6 cells ($((SECONDS - start)) s)"

# A model written in PyTorch (docs/torchscript.md): every task
# reads the scripted file, relative to the grid file, and trains its cells.
mkdir ts && cp "$here/data/torchscript/late_fusion_video64.pt" ts/model.pt
cat > ts/grid.toml <<TOML
[grid]
name = "e2e_slurm_ts"
[settings]
data.corpus = "corpus.h5"
model.name = "torchscript"
model.path = "model.pt"
train.epochs = 1
[axes]
seed = "0-1"
TOML
"$build/auxgrid" sbatch ts/grid.toml --out res_ts --array-size 2 --cpus-per-task 1 >/dev/null ||
  fail "auxgrid sbatch (torchscript)"
job5=$(sbatch --parsable res_ts/slurm/e2e_slurm_ts.sbatch)
wait_arrays 2 "$job5"
"$build/auxgrid" plan ts/grid.toml --out res_ts | grep -q "2 done, 0 to train" || fail "the scripted model's cells"
echo "array $job5: 2 cells of a scripted PyTorch model ($((SECONDS - start)) s)"

# Preemption: one cell long enough to be interrupted. USR1 (what SLURM sends
# 120 s before the time limit) reaches `auxgrid run` through the script's
# trap; it checkpoints and exits with code 3; the script requeues the task,
# which resumes from the checkpoint and completes the cell, in the same log.
sed -e 's/^name = .*/name = "e2e_long"/' -e 's/^train.epochs = .*/train.epochs = 30/' \
  -e 's/^model.name = .*/model.name = ["auxformer"]/' -e 's/^seed = .*/seed = [0]/' grid.toml > long.toml
# submit_long OUT: submits the one-cell array and waits until its cell trains.
submit_long() {
  "$build/auxgrid" sbatch long.toml --out "$1" --cpus-per-task 1 >/dev/null || fail "auxgrid sbatch (long)"
  job=$(sbatch --parsable "$1/slurm/e2e_long.sbatch")
  log=$1/slurm/${job}_0.out
  for ((i = 0; i < 300; i++)); do grep -q "epoch 2/30" "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q "epoch 2/30" "$log" || fail "the long cell did not get to epoch 2"
}
# wait_gone JOB SECONDS: waits until the job has left the queue. A squeue that
# fails (munge can refuse a credential now and then) says nothing about it.
wait_gone() {
  local queue
  for ((i = 0; i < $2 * 10; i++)); do
    if queue=$(squeue -h -o %i 2>/dev/null); then grep -q "^$1\(_\|$\)" <<< "$queue" || return 0; fi
    sleep 0.1
  done
  fail "job $1 is still queued after $2 s: $(squeue -j "$1")"
}
submit_long res3
scancel --batch --signal=USR1 "${job}_0"
for ((i = 0; i < 300; i++)); do [ "$(squeue -h -j "$job" -o %T)" = PENDING ] && break; sleep 0.1; done
[ "$(squeue -h -j "$job" -o %T)" = PENDING ] || fail "the task was not requeued: $(cat "$log")"
# A requeued job waits ~120 s unless told otherwise; restarted within the
# second it was requeued, slurmd kills it ("Job credential revoked").
sleep 2
scontrol update JobId="${job}_0" StartTime=now
wait_gone "$job" 60
for line in "exiting with code 3" "requeueing job $job" "resumed from checkpoint" "all 1 cells trained"; do
  grep -q "$line" "$log" || fail "no '$line' in the preempted task's log"
done
"$build/auxgrid" plan long.toml --out res3 | grep -q "1 done, 0 to train" || fail "the preempted cell is not complete"
[ -z "$(find res3/locks -type f)" ] || fail "locks left: $(ls res3/locks)"
echo "preemption: USR1 -> checkpoint, exit 3, requeue, resumed and completed ($((SECONDS - start)) s)"

# scancel (TERM) checkpoints too, but the task is not requeued: the user
# stops the array, and a later submission resumes from the checkpoint.
submit_long res4
scancel "$job"
wait_gone "$job" 30
sleep 1
[ -z "$(squeue -h -j "$job" -o %i)" ] || fail "the cancelled task came back: $(squeue -j "$job")"
grep -q "requeueing" "$log" && fail "the cancelled task requeued itself"
grep -q "exiting with code 3" "$log" || fail "the cancelled task did not checkpoint: $(cat "$log")"
[ -n "$(find res4/checkpoints -name '*.pt')" ] || fail "no checkpoint after scancel"
echo "scancel: checkpointed, not requeued ($((SECONDS - start)) s)"
echo "e2e_slurm: ok"
