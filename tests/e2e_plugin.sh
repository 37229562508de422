#!/usr/bin/env bash
# Model plugins through the real executables: the example plugin (bilstm)
# loads from a grid file and from --plugin, trains, and its results analyse;
# a broken plugin fails with a message naming the file, exits non-zero and
# trains nothing.
# Usage: tests/e2e_plugin.sh BUILD_DIR
src=$(cd "$(dirname "$0")/.." && pwd)  # before e2e_common.sh changes directory
source "$src/tests/e2e_common.sh" "$1"

bilstm="$build/plugins/libauxgrid_bilstm.so"
broken="$build/tests/plugins"
for lib in "$bilstm" "$broken"/libbroken_{undefined_symbol,duplicate_name,no_model,throws_on_load,exits_on_load,crashes_on_load}.so; do
  [ -f "$lib" ] || fail "$lib is not built"
done

"$build/auxgrid" synth --preset tiny --out corpus.h5 >/dev/null
grid() {  # grid FILE PLUGINS (a TOML list)
  cat > "$1" <<TOML
[grid]
plugins = $2

[settings]
data.corpus = "corpus.h5"
model.name = "bilstm"
model.width = 8
train.epochs = 2

[axes]
seed = [0, 1]
TOML
}

# The example plugin, from the grid file: plan, run, plan again, analyse.
grid good.toml "[\"$bilstm\"]"
"$build/auxgrid" plan good.toml --out res > plan.txt || { cat plan.txt; fail "plan of the plugin grid"; }
grep -q "0 done, 2 to train" plan.txt || { cat plan.txt; fail "plan did not list 2 pending cells"; }
"$build/auxgrid" run good.toml --out res -q || fail "run of the plugin grid"
[ "$(ls res/cells/*.h5 | wc -l)" = 2 ] || { ls res/cells; fail "expected 2 result files"; }
"$build/auxgrid" plan good.toml --out res | grep -q "2 done, 0 to train" || fail "results of the plugin grid not complete"
# The plugin's table comes from a study file, not from C++.
study="$src/experiments/plugins/bilstm_study.toml"
"$build/auxgrid-analyze" tables res --study "$study" --table plugin > table.md 2> warn.txt ||
  { cat warn.txt; fail "analysis of the plugin results"; }
grep -q "| BiLSTM (plugin) | .*(n=2)" table.md || { cat table.md; fail "bilstm not in the plugin table with 2 seeds"; }
md5_before=$(md5sum res/cells/*.h5)
echo "ok: grid with plugins = [bilstm] plans, runs and analyses"

# --plugin: `models` lists it with its parameter count (the formula in
# experiments/plugins/bilstm.cpp: 404,612 at its default width 64, C = 4,
# audio 130, video 4096); `plan` takes it instead of grid.plugins.
"$build/auxgrid" models --plugin "$bilstm" > models.txt || fail "models --plugin"
grep -qE "^bilstm +404,612 " models.txt || { cat models.txt; fail "bilstm not listed with 404,612 parameters"; }
grep -q "^auxformer " models.txt || { cat models.txt; fail "built-in models missing next to the plugin"; }
grid plain.toml "[]"
"$build/auxgrid" plan plain.toml --out res --plugin "$bilstm" | grep -q "2 done, 0 to train" ||
  fail "plan with --plugin does not find the grid's results"
"$build/auxgrid" plan good.toml --out res --plugin "$bilstm" | grep -q "2 done, 0 to train" ||
  fail "the same plugin from --plugin and grid.plugins"
echo "ok: models and plan with --plugin"

# Without the plugin, bilstm is an unknown model (plan validates pending cells only).
expect_failure "no plugin" "plain.toml" "unknown model 'bilstm'" -- "$build/auxgrid" plan plain.toml --out res_none

# Broken plugins: each names the file.
grid missing.toml '["nowhere/libmissing.so"]'
expect_failure "missing plugin (grid)" "nowhere/libmissing.so" -- "$build/auxgrid" plan missing.toml --out res
expect_failure "missing plugin (run)" "nowhere/libmissing.so" -- "$build/auxgrid" run missing.toml --out res
expect_failure "missing plugin (--plugin)" "nowhere/libmissing.so" -- \
  "$build/auxgrid" models --plugin nowhere/libmissing.so
expect_failure "undefined symbol" "libbroken_undefined_symbol.so" "undefined symbol" -- \
  "$build/auxgrid" models --plugin "$broken/libbroken_undefined_symbol.so"
expect_failure "duplicate name" "libbroken_duplicate_name.so" "'auxformer'" -- \
  "$build/auxgrid" plan plain.toml --out res --plugin "$broken/libbroken_duplicate_name.so"
expect_failure "no model" "libbroken_no_model.so" "registers no model" -- \
  "$build/auxgrid" models --plugin "$broken/libbroken_no_model.so"
# A plugin whose static initialiser throws, exits or crashes while loading is
# loaded in a child process first: an error naming it, exit 1, not an abort,
# a segfault or a silent exit with the plugin's code (issue 16, item 7).
for kind in "throws_on_load:threw while loading:configuration file is missing" \
            "exits_on_load:ended the process while loading:exit(7)" \
            "crashes_on_load:crashed while loading:signal 11"; do
  IFS=: read -r lib what detail <<< "$kind"
  rc=0
  timeout 120 "$build/auxgrid" models --plugin "$broken/libbroken_$lib.so" > out.txt 2> err.txt || rc=$?
  [ "$rc" = 1 ] || { cat err.txt; fail "$lib: exit code $rc, expected 1"; }
  for f in "libbroken_$lib.so" "$what" "$detail"; do
    grep -qF -- "$f" err.txt || { cat err.txt; fail "$lib: '$f' not in the error"; }
  done
  echo "ok: plugin that $what"
done
grid crashing.toml "[\"$broken/libbroken_crashes_on_load.so\"]"
expect_failure "crashing plugin (grid)" "crashing.toml" "libbroken_crashes_on_load.so" "crashed while loading" -- \
  "$build/auxgrid" run crashing.toml --out res2
grid broken.toml "[\"$bilstm\", \"$broken/libbroken_no_model.so\"]"
expect_failure "broken plugin (run)" "libbroken_no_model.so" "registers no model" -- \
  "$build/auxgrid" run broken.toml --out res2
[ ! -e res2/cells ] || [ -z "$(ls res2/cells)" ] || fail "a run with a broken plugin trained something"
[ "$md5_before" = "$(md5sum res/cells/*.h5)" ] || fail "a complete result was touched"
echo "e2e_plugin: ok"
