#!/usr/bin/env bash
# Stop signals under mpirun (issue 16, item 8). Open MPI's mpirun takes
# SIGTERM as an abort: it passes TERM on, SIGKILLs the ranks 1 s later and
# exits 1 whatever they return, so a TERMed `mpirun auxgrid run` cannot exit
# with the preempted code 3. It forwards SIGUSR1 instead, and exits with the
# ranks' 3. slurm/mpi.sbatch therefore passes a TERM on as USR1: run here with
# mpirun as its launcher, a TERM to the batch script checkpoints every rank's
# cell and the script exits 3.
# Usage: tests/e2e_mpirun_signals.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"
source_dir=$(cd "$(dirname "$0")/.." && pwd)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; cleanup' EXIT

tiny_grid "model.width = 16" "train.epochs = 200"

# wait_for_lines FILE PATTERN N: until FILE has N lines matching PATTERN.
wait_for_lines() {
  for _ in $(seq 3000); do
    [ "$(grep -c "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.02
  done
  cat "$1"
  fail "timed out waiting for $3 lines of '$2' in $1"
}

# stop SIGNAL OUT COMMAND...: starts COMMAND, sends SIGNAL once both ranks
# train, and sets $code to its exit code; the output is in OUT.log.
stop() {
  local signal=$1 out=$2
  shift 2
  "$@" > "$out.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_for_lines "$out.log" " epoch 1/200:" 2
  kill -s "$signal" "$pid"
  code=0
  wait "$pid" || code=$?
}

# slurm/mpi.sbatch with mpirun as its launcher, outside SLURM.
sed -e "s|@AUXGRID@|$build/auxgrid|g" -e "s|@GRID@|$work/grid.toml|g" -e "s|@OUT@|$work/job|g" \
  -e "s|@SUBMIT_DIR@|$work|g" -e "s|srun --mpi=pmix|mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2|" \
  "$source_dir/slurm/mpi.sbatch" > job.sh
stop TERM job bash job.sh
[ $code -eq 3 ] || fail "mpi.sbatch with mpirun, TERMed, exited $code, expected 3: $(cat job.log)"
[ "$(ls job/checkpoints/*.pt 2>/dev/null | wc -l)" -eq 2 ] || fail "expected a checkpoint per rank: $(cat job.log)"
[ "$(grep -c "exiting with code 3" job.log)" -eq 2 ] || fail "not every rank checkpointed: $(cat job.log)"
grep -q requeueing job.log && fail "a TERMed job requeued itself"
echo "ok: mpi.sbatch under mpirun: TERM -> every rank checkpoints, exit 3, no requeue"

# mpirun itself: USR1 gives 3; TERM gives mpirun's own code (documented in docs/cluster.md).
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
stop USR1 usr1 "${mpirun[@]}" "$build/auxgrid" run grid.toml --out usr1 --threads 1
[ $code -eq 3 ] || fail "mpirun, sent USR1, exited $code, expected 3: $(cat usr1.log)"
[ "$(ls usr1/checkpoints/*.pt 2>/dev/null | wc -l)" -eq 2 ] || fail "expected a checkpoint per rank after USR1"
stop TERM term "${mpirun[@]}" "$build/auxgrid" run grid.toml --out term --threads 1
[ $code -ne 0 ] || fail "mpirun, sent TERM, exited 0"
echo "ok: mpirun: USR1 -> exit 3; TERM -> exit $code (Open MPI's own code for an aborted job)"
echo "e2e_mpirun_signals: ok"
