#!/usr/bin/env bash
# Results written by an earlier auxgrid stay readable and are never mixed with
# this build's: tests/data/legacy_v1 holds a grid and the results directory
# that auxgrid a44eb44 wrote for it (four cells: AuxFormer optimized, Baseline
# 1, MulT, video only; every evaluation condition). Their file format,
# completeness check and cell ids still hold, but their models are of model
# revision 1 (before the released code's rules, docs/models.md): plan and
# status name them as such and count them pending, the analysis leaves them
# out unless asked for revision 1 and then reads every file, and run keeps
# each aside before it trains the cell again.
# Usage: tests/e2e_legacy_results.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"
cp -r "$(dirname "$0")/data/legacy_v1/." .
chmod -R u+w .
"$build/auxgrid" synth --preset tiny --out corpus.h5 > /dev/null  # for run to train the cells again
revision_1="trained with model revision 1, but this build trains revision 4"

"$build/auxgrid" plan grid.toml --out results > plan.txt || { cat plan.txt; fail "plan"; }
grep -q "0 done, 4 to train" plan.txt || { cat plan.txt; fail "plan counts a revision-1 result as done"; }
[ "$(grep -c "$revision_1" plan.txt)" = 4 ] || { cat plan.txt; fail "plan does not name the revision"; }
"$build/auxgrid" status grid.toml --out results > status.txt
grep -qE "^  all +0 +0 +0 +4$" status.txt || { cat status.txt; fail "status"; }
[ "$(grep -c "$revision_1" status.txt)" = 4 ] || { cat status.txt; fail "status does not name the revision"; }

expect_failure "the analysis leaves revision-1 results out" "$revision_1" "--model-revision 1" \
  "no complete result files" -- "$build/auxgrid-analyze" tables results --format csv
"$build/auxgrid-analyze" tables results --format csv --model-revision 1 > tables.csv 2> tables.err ||
  { cat tables.err; fail "tables --model-revision 1"; }
grep -qi "invalid\|skipp" tables.err && { cat tables.err; fail "the analysis set a legacy file aside"; }
grep -q "^table1,standard,Baseline 1,tiny,micro_f1," tables.csv || { cat tables.csv; fail "no Baseline 1 row"; }
echo "ok: the results of a44eb44 are read as revision 1"

"$build/auxgrid" run grid.toml --out results --threads 1 -q 2> run.log || { cat run.log; fail "run"; }
[ "$(ls results/cells/*.h5.rejected.* | wc -l)" = 4 ] || { ls -R results; fail "the revision-1 results were not kept"; }
"$build/auxgrid" plan grid.toml --out results | grep -q "4 done, 0 to train" || fail "run did not retrain"
"$build/auxgrid-analyze" tables results --format csv > /dev/null 2> tables.err || { cat tables.err; fail "tables"; }
echo "ok: run kept the revision-1 results aside and trained the cells with this build"
