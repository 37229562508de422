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
"$build/auxgrid" run good.toml --out damaged -q
"$build/auxgrid" plan good.toml --out damaged | grep -q "2 done, 0 to train" || fail "truncated result not re-run"
echo "e2e_bad_input: ok"
