# A private single-node SLURM cluster for tests (source this file; see
# shared notes slurm-local.md). Everything lives in one state directory: the
# munge key and socket, slurm.conf, spool, state, logs and the job completion
# file; nothing under /etc or /run is touched. Needs root (SlurmUser=root).
#
#   slurm_start DIR   start munged, slurmctld and slurmd; export SLURM_CONF;
#                     return once the node is idle
#   slurm_stop        stop the daemons started by slurm_start (by their PIDs)
#
# DIR's parent directories must be searchable by all (munged checks), and
# the ports are fixed, so only one such cluster can run on a machine at a time.
# The node has 2 GPUs for the scheduler only (gres/gpu on fake device nodes).

SLURM_CTLD_PORT=16817
SLURM_D_PORT=16818
slurm_pids=()

# Prints the last lines of the daemons' logs (after a failure).
slurm_logs() {
  local d f
  [ -n "${SLURM_DIR:-}" ] || return 0
  for d in munged slurmctld slurmd; do
    # The daemon's own log, or its stderr when it failed before opening that.
    f=$SLURM_DIR/$d.log
    [ -s "$f" ] || f=$SLURM_DIR/$d.out
    [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
  done
  return 0
}

slurm_start() {
  SLURM_DIR=$1
  local host cpus i
  host=$(hostname -s)
  cpus=$(nproc)
  mkdir -p "$SLURM_DIR"/{spool,state}
  # munged wants every directory above its socket searchable by all and
  # writable by nobody else (mktemp -d makes 0700 directories).
  chmod 755 "$SLURM_DIR"

  dd if=/dev/urandom of="$SLURM_DIR/munge.key" bs=1024 count=1 status=none
  chmod 400 "$SLURM_DIR/munge.key"
  munged -F --socket="$SLURM_DIR/munge.sock" --key-file="$SLURM_DIR/munge.key" \
    --pid-file="$SLURM_DIR/munged.pid" --log-file="$SLURM_DIR/munged.log" \
    --seed-file="$SLURM_DIR/munged.seed" >> "$SLURM_DIR/munged.out" 2>&1 &
  slurm_pids+=($!)
  for ((i = 0; i < 100; i++)); do
    [ -S "$SLURM_DIR/munge.sock" ] || ! kill -0 "${slurm_pids[-1]}" 2>/dev/null && break
    sleep 0.1
  done
  [ -S "$SLURM_DIR/munge.sock" ] || { echo "slurm_start: munged did not start" >&2; slurm_logs >&2; return 1; }

  cat > "$SLURM_DIR/slurm.conf" <<CONF
ClusterName=auxgridtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$SLURM_CTLD_PORT
SlurmdPort=$SLURM_D_PORT
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge.sock
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# The default delay of 3 s makes every submission slower.
SchedulerParameters=batch_sched_delay=0
MpiDefault=pmix
ReturnToService=2
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Final job states (sacct needs a database).
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/jobcomp.txt
# Two GPUs that exist only for the scheduler: jobs that ask for GPUs are
# scheduled and get their GPU variables as on a GPU node.
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  # SLURM 22.05's gres/gpu drops a GPU without a device file ("Removing
  # file-less GPU" in slurmd's debug log), so each one is a character device
  # node of NVIDIA's major number (195) that nothing ever opens: no driver
  # behind it. Plain files are refused.
  mknod "$SLURM_DIR/fakegpu0" c 195 0 && mknod "$SLURM_DIR/fakegpu1" c 195 1 ||
    { echo "slurm_start: cannot make the fake GPU device nodes" >&2; return 1; }
  echo "Name=gpu File=$SLURM_DIR/fakegpu[0-1]" > "$SLURM_DIR/gres.conf"
  export SLURM_CONF=$SLURM_DIR/slurm.conf

  slurmctld -D -f "$SLURM_CONF" >> "$SLURM_DIR/slurmctld.out" 2>&1 &
  slurm_pids+=($!)
  slurmd -D -f "$SLURM_CONF" >> "$SLURM_DIR/slurmd.out" 2>&1 &
  slurm_pids+=($!)
  for ((i = 0; i < 300; i++)); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.1
  done
  echo "slurm_start: the node did not become idle in 30 s" >&2
  slurm_logs >&2
  return 1
}

slurm_stop() {
  local pid i
  [ ${#slurm_pids[@]} -eq 0 ] && return 0
  # Jobs left by a failed test: cancel them so that no job step outlives slurmd.
  if [ -n "$(squeue -h -o %A 2>/dev/null)" ]; then
    scancel --full -u "$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  # Stop all together (each takes about a second), then make sure they are gone.
  for pid in "${slurm_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${slurm_pids[@]}"; do
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  slurm_pids=()
}
