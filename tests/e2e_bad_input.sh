#!/usr/bin/env bash
# Bad input through the real executables: each case must fail with a message
# naming the file, cell or key, exit non-zero, and leave complete results alone.
# Usage: tests/e2e_bad_input.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"

"$build/auxgrid" synth --preset tiny --out corpus.h5 >/dev/null
grid() {  # grid FILE [extra settings lines]
  cat > "$1" <<TOML
[settings]
data.corpus = "corpus.h5"
model.width = 8
model.heads = 2
model.layers = 1
train.epochs = 1
$2
[axes]
seed = [0, 1]
TOML
}

grid good.toml ""
"$build/auxgrid" run good.toml --out res -q
md5_before=$(md5sum res/cells/*.h5)

grid unknown_model.toml 'model.name = "transformer9"'
expect_failure "unknown model" "unknown_model.toml" "cell 'seed=0'" "unknown model 'transformer9'" "auxformer" -- \
  "$build/auxgrid" run unknown_model.toml --out res
grid unknown_key.toml 'train.lernrate = 0.1'
expect_failure "unknown setting" "unknown_key.toml:7" "train.lernrate" -- "$build/auxgrid" run unknown_key.toml --out res
grid bad_value.toml 'train.lambda_av = 2.0'
expect_failure "bad lambda" "bad_value.toml" "train.lambda_av" -- "$build/auxgrid" plan bad_value.toml --out res
grid zero_lambdas.toml $'train.lambda_av = 0.0\ntrain.lambda_a = 0.0\ntrain.lambda_v = 0.0'
expect_failure "all-zero lambdas" "zero_lambdas.toml" "all zero" -- "$build/auxgrid" run zero_lambdas.toml --out res
expect_failure "missing corpus" "nowhere.h5" -- "$build/auxgrid" run good.toml --out res2 --set data.corpus=nowhere.h5
echo "not hdf5" > broken.h5
expect_failure "malformed corpus" "broken.h5" -- "$build/auxgrid" run good.toml --out res2 --set data.corpus=broken.h5
expect_failure "width mismatch" "model.video_dim = 4096" "corpus.h5" "cell 'seed=0'" -- \
  "$build/auxgrid" run good.toml --out res2 --set model.video_dim=4096
# A corpus with NaN features (0xFF bytes over most of the feature data; issue
# 16, item 6): plan and run refuse it up front, naming the file and utterances.
cp corpus.h5 nan.h5
size=$(stat -c %s nan.h5)
head -c $((size * 7 / 10)) /dev/zero | tr '\0' '\377' | dd of=nan.h5 bs=64k seek=$((size / 10)) oflag=seek_bytes conv=notrunc status=none
expect_failure "NaN features (plan)" "nan.h5" "2 invalid cell(s)" "non-finite" "'spk" -- \
  "$build/auxgrid" plan good.toml --out res2 --set data.corpus=nan.h5
expect_failure "NaN features (run)" "nan.h5" "non-finite" "'spk" "cell 'seed=1'" -- \
  "$build/auxgrid" run good.toml --out res2 --set data.corpus=nan.h5
expect_failure "unknown CLI setting" "--set" "model.depth" -- "$build/auxgrid" run good.toml --out res --set model.depth=3
expect_failure "missing grid" "nogrid.toml" -- "$build/auxgrid" run nogrid.toml
expect_failure "no GPU" "--device cuda" "no usable CUDA device" -- "$build/auxgrid" run good.toml --out res2 --device cuda
grid bf16.toml 'train.precision = "bf16"'
if "$build/auxgrid" version | grep -q "bf16 on: CUDA, CPU"; then
  echo "ok: bf16 without a GPU runs on the CPU with this LibTorch (test_train trains it)"
else
  expect_failure "bf16 without a GPU" "bf16.toml" "cell 'seed=0'" "train.precision = bf16 needs a CUDA device" -- \
    "$build/auxgrid" run bf16.toml --out res2
fi

# Every number a user can type (issue 16, item 7): an absurd value is one
# line naming the option or the file and line, exit 2 for options (a usage
# error) and 1 for grid files; never a hang, a crash, "stoi" or a silent
# reinterpretation. expect_exit CODE NAME FRAGMENT... -- COMMAND...
expect_exit() {
  local code=$1 name=$2; shift 2
  local fragments=()
  while [ "$1" != "--" ]; do fragments+=("$1"); shift; done
  shift
  local rc=0
  timeout 60 "$@" > out.txt 2> err.txt || rc=$?
  [ "$rc" = "$code" ] || { cat err.txt; fail "$name: exit code $rc, expected $code"; }
  for f in "${fragments[@]}"; do
    grep -qF -- "$f" err.txt || { cat err.txt; fail "$name: '$f' not in the error"; }
  done
  ! grep -qE "stoi|stol|bad_alloc|terminate called" err.txt || { cat err.txt; fail "$name: a raw library error"; }
  echo "ok: $name"
}
for shard in 1/0 a/b 99999999999/2 1/100000000 3/2 -1/4 1/2x; do
  expect_exit 2 "--shard $shard" "--shard expects I/N" "'$shard'" -- "$build/auxgrid" run good.toml --out res2 --shard "$shard"
done
for bad in "threads -3" "threads 0" "threads 100000" "max-attempts 0" "max-attempts -1" "fail-fast -1" \
           "ranks-per-cell 0" "stale-lock -1" "stale-lock nan" "watchdog -5" "watchdog inf"; do
  set -- $bad
  expect_exit 2 "--$bad" "--$1 must be between" "got" -- "$build/auxgrid" run good.toml --out res2 --$1 $2
done
expect_exit 2 "--threads 2.5" "'2.5'" "--threads" -- "$build/auxgrid" run good.toml --out res2 --threads 2.5
expect_exit 2 "--threads overflow" "--threads" -- "$build/auxgrid" run good.toml --out res2 --threads 99999999999999999999
expect_exit 2 "synth --seed -1" "--seed must be between 0" -- "$build/auxgrid" synth --seed -1 --out s.h5
expect_exit 2 "synth --scale 0" "--scale must be between" -- "$build/auxgrid" synth --scale 0 --out s.h5
expect_exit 2 "models --classes 0" "--classes must be between 2" -- "$build/auxgrid" models --classes 0
expect_exit 2 "models --video-dim -1" "--video-dim must be between 1" -- "$build/auxgrid" models --video-dim -1
expect_exit 2 "sbatch --array-size 0" "--array-size must be between 1" -- "$build/auxgrid" sbatch good.toml --array-size 0
expect_exit 1 "splits --train-fraction 2" "--train-fraction" "data.train_fraction" -- \
  "$build/auxgrid" splits corpus.h5 --train-fraction 2
expect_exit 1 "splits --seeds overflow" "--seeds:2" "beyond 64 bits" -- \
  "$build/auxgrid" splits corpus.h5 --seeds 0-99999999999999999999
[ ! -e s.h5 ] || fail "synth wrote a corpus from a bad option"
printf '[axes]\nseed = "0-99999999999999999999"\n' > big.toml
expect_exit 1 "seed range overflow" "big.toml:2" "beyond 64 bits" -- "$build/auxgrid" plan big.toml --out res2
printf '[settings]\ndata.corpus = "corpus.h5"\n[axes]\nseed = "0-999999999"\n' > huge.toml
expect_exit 1 "huge seed range" "huge.toml:4" "1000000000 values" -- "$build/auxgrid" plan huge.toml --out res2
printf '[grid]\ninclude = ["self.toml"]\n' > self.toml
expect_exit 1 "self-include" "self.toml:2" "include cycle" -- "$build/auxgrid" plan self.toml --out res2
mkdir -p sub
printf '[grid]\ninclude = ["sub/b.toml"]\n' > a.toml
printf '[grid]\ninclude = ["../a.toml"]\n' > sub/b.toml
expect_exit 1 "include cycle" "b.toml:2" "include cycle" -- "$build/auxgrid" run a.toml --out res2
[ ! -e res2/cells ] || [ -z "$(ls res2/cells)" ] || fail "a failed validation trained something"
[ "$md5_before" = "$(md5sum res/cells/*.h5)" ] || fail "a complete result was touched"

# A truncated or incomplete result: the analysis skips it with a warning and
# does not count it; the launcher re-runs it.
cp -r res damaged
first=$(ls damaged/cells/*.h5 | head -1)
head -c 1500 "$first" > t && mv t "$first"
"$build/auxgrid-analyze" tables damaged > table.md 2> warn.txt || { cat warn.txt; fail "analysis of damaged dir"; }
grep -qF "$first" warn.txt || { cat warn.txt; fail "analysis did not name the truncated file"; }
grep -q "n=1" table.md || { cat table.md; fail "the truncated result was counted"; }
grep -q "truncated or damaged" warn.txt || { cat warn.txt; fail "the analysis speaks HDF5's jargon, not plain words"; }
grep -q "result rejected: seed" table.md || { cat table.md; fail "a rejected result is not named as rejected in the note"; }
"$build/auxgrid" run good.toml --out damaged -q
"$build/auxgrid" plan good.toml --out damaged | grep -q "2 done, 0 to train" || fail "truncated result not re-run"
# A launch refused for its options is a usage error (exit 2) and plans nothing:
# the manifest, which the tables count seeds from, is not written.
tiny_refused=refused_dir
for device in gpu cuda; do
  code=0
  "$build/auxgrid" run good.toml --out $tiny_refused --device $device > refused.log 2>&1 || code=$?
  [ "$device" = cuda ] && [ $code -eq 2 ] && fail "--device cuda without a GPU is not a usage error"
  [ "$device" = gpu ] && { [ $code -eq 2 ] || { cat refused.log; fail "--device gpu exited $code, expected 2"; }; }
  [ ! -e $tiny_refused/manifest.tsv ] || fail "a launch refused for --device $device recorded planned cells"
done
# Cells planned but never trained (here: a grid of seeds 0-3 planned into a
# directory where only seeds 0 and 1 were trained): the tables name the
# missing seeds and the way out; `auxgrid forget` takes the untrained cells
# off the plan, keeps the trained ones, and the tables are whole again.
sed 's/^seed = .*/seed = [0, 1, 2, 3]/' good.toml > wide.toml
"$build/auxgrid" run wide.toml --out wide_res -q
cp -r res planned && cp wide_res/manifest.tsv planned/
"$build/auxgrid-analyze" tables planned > table.md 2> warn.txt || { cat warn.txt; fail "tables of the planned dir"; }
grep -q "2 of 4 seeds; missing seeds 2, 3" table.md || { cat table.md; fail "the unplanned seeds are not named"; }
grep -q "auxgrid forget" table.md || { cat table.md; fail "the tables do not name the way out"; }
"$build/auxgrid" forget wide.toml --out planned > forget.txt || fail "auxgrid forget"
grep -q "2 planned cell(s) without a result taken off" forget.txt || { cat forget.txt; fail "forget: $(cat forget.txt)"; }
[ "$(wc -l < planned/manifest.tsv)" -eq 2 ] || fail "forget left $(wc -l < planned/manifest.tsv) planned cells, expected 2"
"$build/auxgrid-analyze" tables planned > table.md 2> warn.txt || { cat warn.txt; fail "tables after forget"; }
grep -q "missing seed" table.md && { cat table.md; fail "missing seeds after forget"; }
[ "$md5_before" = "$(md5sum planned/cells/*.h5 | sed 's|planned/|res/|')" ] || fail "forget touched a result"
# Options of `auxgrid run` only are refused by plan and status (a usage error).
expect_exit 2 "plan --threads" "unrecognised option '--threads' (--threads is an option of \`auxgrid run\`)" -- "$build/auxgrid" plan good.toml --out res --threads 4
expect_exit 2 "status --device" "unrecognised option '--device' (--device is an option of \`auxgrid run\`)" -- "$build/auxgrid" status good.toml --out res --device cpu
echo "e2e_bad_input: ok"
