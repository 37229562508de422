#!/usr/bin/env bash
# Writes that fail and locks that name no owner (issue 16, item 4). A full
# disk under the checkpoints, the results, the locks, and the error records
# themselves: each failure is an error record (or, where the records' own
# disk is full, a clear line on stderr) naming the path and the reason, never
# an abort or a crash; no temporary or empty file is left to be trusted; and
# once there is space again the next launch trains the cell. Then empty,
# garbage and directory locks: they hold nothing, so the launch trains their
# cells. The full disks are small tmpfs mounts in a private mount namespace
# (unshare -m, as root), which vanish with the test.
# Usage: tests/e2e_write_failures.sh BUILD_DIR
if [ -z "${AUXGRID_E2E_NAMESPACE:-}" ]; then
  if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
    echo "SKIP: needs root and unshare -m for private tmpfs mounts"
    exit 0
  fi
  exec env AUXGRID_E2E_NAMESPACE=1 unshare -m bash "$0" "$@"
fi
source "$(dirname "$0")/e2e_common.sh" "$1"
mounts=()
trap 'for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done; cleanup' EXIT

# disk DIR SIZE: DIR becomes an empty tmpfs of SIZE.
disk() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2" tmpfs "$1" || { echo "SKIP: cannot mount a tmpfs"; exit 0; }
  mounts+=("$work/$1")
}
# full DIR: DIR becomes a 4 KiB tmpfs holding a 4 KiB file, so any write there fails with ENOSPC.
full() {
  disk "$1" 4k
  head -c 4096 /dev/zero > "$1/filler" 2>/dev/null || true
}
# space DIR: the disk at DIR is gone (the empty directory beneath it shows again).
space() { umount "$1"; }

# No temporary, new or empty file anywhere in DIR.
no_leftovers() {
  local left
  left=$(find "$1" \( -name '*.tmp.*' -o -name '*.new.*' -o -name '*.stale.*' -o -empty -type f \) -print)
  [ -z "$left" ] || fail "$2: files left behind: $left"
}

# run NAME EXPECTED ARGS...: auxgrid run with the exit code expected; output in NAME.log.
run() {
  local name=$1 expected=$2 code=0
  shift 2
  "$build/auxgrid" run grid.toml --threads 1 "$@" > "$name.log" 2>&1 || code=$?
  [ "$code" -eq "$expected" ] || { cat "$name.log"; fail "$name: exit code $code, expected $expected"; }
}

"$build/auxgrid" synth --preset tiny --out corpus.h5 >/dev/null
cat > grid.toml <<TOML
[settings]
data.corpus = "$work/corpus.h5"
model.width = 8
model.heads = 2
model.layers = 1
train.epochs = 2
TOML
id=$("$build/auxgrid" plan grid.toml --out plan-only | grep -o '[0-9a-f]\{16\}' | head -1)
[ -n "$id" ] || { "$build/auxgrid" plan grid.toml --out plan-only; fail "no cell id in the plan"; }

# 1. A full disk under the checkpoint (written after epoch 1).
mkdir -p ckpt
full ckpt/checkpoints
run ckpt 1 --out ckpt
grep -q "cannot write checkpoint '.*checkpoints/$id.pt': No space left on device" ckpt/errors/$id.log ||
  { cat ckpt.log; fail "checkpoint: no error record naming the checkpoint and the reason"; }
no_leftovers ckpt "checkpoint"
space ckpt/checkpoints
run ckpt-rerun 0 --out ckpt
echo "ok: a full disk at a checkpoint is an error record, and the rerun trains the cell"

# 2. A disk that fills up while the result is written (HDF5 crashed in its
# destructors then, exit 139) or that is full from the start.
mkdir -p result
disk result/cells 16k
run result 1 --out result
grep -q "cannot write result '.*cells/$id.h5': No space left on device" result/errors/$id.log ||
  { cat result.log; fail "result: no error record naming the result and the reason"; }
grep -q "HDF5" result.log && { cat result.log; fail "result: HDF5 complains"; }
space result/cells
full result/cells
run result 1 --out result
grep -q "attempt=2 .*cannot write result '.*cells/$id.h5': No space left on device" result/errors/$id.log ||
  { cat result.log; fail "result: no error record naming the result and the reason"; }
grep -q "HDF5" result.log && { cat result.log; fail "result: HDF5 complains"; }
no_leftovers result "result"
space result/cells
run result-rerun 0 --out result
"$build/auxgrid" plan grid.toml --out result | grep -q "1 done, 0 to train" || fail "result: the rerun left no result"
echo "ok: a full disk at the result is an error record, and the rerun writes it"

# 3. A full disk under the locks: the claim fails, and leaves no empty lock.
mkdir -p lock
full lock/locks
run lock 1 --out lock
grep -q "cannot write lock '.*locks/$id.lock': No space left on device" lock/errors/$id.log ||
  { cat lock.log; fail "lock: no error record naming the lock and the reason"; }
rm lock/locks/filler
no_leftovers lock "lock"
space lock/locks
run lock-rerun 0 --out lock
grep -q "being trained by" lock-rerun.log && { cat lock-rerun.log; fail "lock: the rerun skipped the cell"; }
echo "ok: a full disk at the lock is an error record, no lock is left, and the rerun trains the cell"

# 4. The error records' own disk is full too: the failure goes to stderr, whole.
mkdir -p norecord
full norecord/checkpoints
full norecord/errors
run norecord 1 --out norecord
grep -q "cannot record the failure .*cannot write checkpoint '.*$id.pt': No space left on device" norecord.log ||
  { cat norecord.log; fail "no record: the failure is not on stderr"; }
echo "ok: when even the error record cannot be written, stderr says what failed and why"

# 5. Locks that name no owner hold nothing: an empty one (older than the few
# seconds an earlier auxgrid needed to write its owner line), garbage, a directory.
tiny_grid -- "seed = [0, 1, 2]"
ids=$("$build/auxgrid" plan grid.toml --out plan3 | grep -o '[0-9a-f]\{16\}' | sort -u)
[ "$(echo "$ids" | wc -l)" -eq 3 ] || fail "expected 3 cell ids in the plan"
set -- $ids
mkdir -p locks3/locks
: > "locks3/locks/$1.lock"
head -c 300 /dev/urandom > "locks3/locks/$2.lock"
mkdir "locks3/locks/$3.lock"
touch -d '-1 minute' locks3/locks/*.lock
run locks3 0 --out locks3
grep -q "being trained by" locks3.log && { cat locks3.log; fail "a lock without an owner kept its cell"; }
"$build/auxgrid" plan grid.toml --out locks3 | grep -q "3 done, 0 to train" || fail "the cells of ownerless locks"
[ -z "$(ls locks3/locks)" ] || fail "locks left: $(ls locks3/locks)"
echo "ok: empty, garbage and directory locks are taken over"
echo "e2e_write_failures: ok"
