#!/usr/bin/env bash
# A results directory on shared scratch, as a hostile user or a flaky cluster
# would leave it (docs/reliability.md): links planted where auxgrid writes,
# an output directory that cannot be written, a lock from a node whose clock
# runs a day ahead, inputs that are not files, a huge setting value.
# Usage: tests/e2e_shared_filesystem.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"

# A cell that fails (the test plugin's model diverges) and one that trains.
tiny_grid "model.width = 8" -- 'model.name = ["diverges", "auxformer"]' "seed = [0]"
sed -i "1i [grid]\nplugins = [\"$build/tests/plugins/libtest_diverges.so\"]" grid.toml
ids=($("$build/auxgrid" plan grid.toml --out res 2>&1 | grep -o "[0-9a-f]\{16\}" | awk '!seen[$0]++'))
[ ${#ids[@]} -eq 2 ] || { "$build/auxgrid" plan grid.toml --out res; fail "expected 2 cell ids in the plan"; }

# Links where auxgrid writes: a result, an error record (appended to), the
# manifest. The files they point at stay as they were; the links are set aside.
mkdir -p res/cells res/errors outside
echo "precious" > outside/result; echo "precious" > outside/log; echo "precious" > outside/manifest
for id in "${ids[@]}"; do
  ln -s "$work/outside/result" "res/cells/$id.h5"
  ln -s "$work/outside/log" "res/errors/$id.log"
done
ln -s "$work/outside/manifest" res/manifest.tsv
"$build/auxgrid" run grid.toml --out res --threads 1 > run.log 2>&1 && fail "the diverging cell did not fail"
for f in result log manifest; do [ "$(cat outside/$f)" = precious ] || fail "auxgrid wrote through the link to outside/$f"; done
grep -q "was a link" run.log || { cat run.log; fail "a link was not named"; }
[ "$(find res/cells -name '*.h5' -type f | wc -l)" -eq 1 ] || { ls -l res/cells; fail "no regular result"; }
[ -f res/manifest.tsv ] && [ ! -L res/manifest.tsv ] || fail "the manifest is not a regular file after the run"
[ "$(find res/errors -name '*.log' -type f | wc -l)" -eq 1 ] || { ls -l res/errors; fail "no regular error record"; }
ls res/cells/*.h5.rejected.* res/errors/*.log.link.* res/manifest.tsv.link.* > /dev/null || fail "a link was not set aside"
echo "ok: links where auxgrid writes are set aside and named, never written through"

# No temporary name can be guessed: every temporary file is <name>.tmp.<16 random hex>.
grep -rq "tmp\.$$" res 2>/dev/null && fail "a temporary name with the pid"
echo "ok: temporary names"

# An output directory that cannot be written fails before anything trains (as
# root no permission bit stops a write: a file stands where the directory goes).
tiny_grid "model.width = 8" -- "seed = [1]"
mkdir -p blocked && touch blocked/cells
expect_failure "a file where the cells directory goes" "the results' directory 'blocked/cells' cannot be written" \
  "is not a directory" -- "$build/auxgrid" run grid.toml --out blocked --threads 1
[ ! -e blocked/checkpoints ] || fail "something trained before the probe"
[ "$(wc -l < err.txt)" -le 2 ] || { cat err.txt; fail "the probe's failure is not one line"; }

# A lock whose heartbeat lies a day ahead (another node's clock): status and
# run say so, with both times and what to do.
tiny_grid "model.width = 8" -- "seed = [2]"
held=$("$build/auxgrid" plan grid.toml --out skew | grep -o "[0-9a-f]\{16\}" | head -1)
mkdir -p skew/locks
echo "othernode 4242 77" > "skew/locks/$held.lock"
touch -d "+1 day" "skew/locks/$held.lock"
"$build/auxgrid" status grid.toml --out skew > status.txt
grep -q "ahead of this host's clock" status.txt || { cat status.txt; fail "status does not name the clock skew"; }
grep -q "remove .*$held.lock" status.txt || { cat status.txt; fail "status does not say what to do"; }
code=0
"$build/auxgrid" run grid.toml --out skew --threads 1 --stale-lock 5 > skew.log 2>&1 || code=$?
[ $code -eq 5 ] || { cat skew.log; fail "run under a skewed lock exited $code, expected 5"; }
grep -q "ahead of this host's clock" skew.log || { cat skew.log; fail "run does not name the clock skew"; }
echo "ok: a heartbeat a day ahead is named as clock skew"

# A garbage lock is taken over, and the log says so.
tiny_grid "model.width = 8" -- "seed = [3]"
garbage=$("$build/auxgrid" plan grid.toml --out garbage | grep -o "[0-9a-f]\{16\}" | head -1)
mkdir -p garbage/locks && printf 'not a lock' > "garbage/locks/$garbage.lock" && touch -d "-1 hour" "garbage/locks/$garbage.lock"
"$build/auxgrid" run grid.toml --out garbage --threads 1 > garbage.log 2>&1 || { cat garbage.log; fail "run over a garbage lock"; }
grep -q "took over its lock" garbage.log || { cat garbage.log; fail "the take-over of a garbage lock was not logged"; }
echo "ok: a taken-over lock is logged"

# Inputs that are not regular files fail at once, naming what they are.
mkfifo pipe.pt
tiny_grid "model.width = 8" "model.name = \"torchscript\"" "model.path = \"pipe.pt\"" -- "seed = [0]"
timeout 20 "$build/auxgrid" plan grid.toml --out fifo > fifo.log 2>&1 && fail "plan took a named pipe as model.path"
grep -q "is a named pipe" fifo.log || { cat fifo.log; fail "a named pipe as model.path is not named (or plan hung)"; }
mkfifo pipe.toml
expect_failure "a named pipe as the grid" "grid file 'pipe.toml' is a named pipe" -- timeout 20 "$build/auxgrid" plan pipe.toml
echo "ok: inputs that are not files"

# A 1 MB value is echoed cut, with its size.
tiny_grid "model.width = 8" "eval.conditions = \"$(head -c 1048576 /dev/zero | tr '\0' 'x')\"" -- "seed = [0, 1]"
"$build/auxgrid" plan grid.toml --out big > big.log 2>&1 && fail "a 1 MB condition was taken"
[ "$(wc -c < big.log)" -lt 20000 ] || fail "a 1 MB value was echoed: $(wc -c < big.log) bytes of output"
grep -q "1048576 bytes in all" big.log || { head -c 2000 big.log; fail "the cut value does not give its size"; }
echo "ok: a long value is echoed cut"
echo "e2e_shared_filesystem: ok"
