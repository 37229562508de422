#!/usr/bin/env bash
# Results written by an earlier auxgrid stay complete: tests/data/legacy_v1
# holds a grid and the results directory that auxgrid a44eb44 wrote for it
# (four cells: AuxFormer optimized, Baseline 1, MulT, video only; every
# evaluation condition). Their cell ids, file format and completeness check
# must not change: plan and run find nothing to train, status counts them
# done, and the analysis reads every file.
# Usage: tests/e2e_legacy_results.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"
cp -r "$(dirname "$0")/data/legacy_v1/." .
chmod -R u+w .

"$build/auxgrid" plan grid.toml --out results > plan.txt || { cat plan.txt; fail "plan"; }
grep -q "4 done, 0 to train" plan.txt || { cat plan.txt; fail "the legacy results are not all complete"; }
"$build/auxgrid" run grid.toml --out results --threads 1 2> run.log || { cat run.log; fail "run"; }
grep -q "nothing to train, 4 of 4 cells are complete" run.log || { cat run.log; fail "run would train"; }
"$build/auxgrid" status grid.toml --out results | grep -qE "^  all +4 +0 +0 +0$" || fail "status"
"$build/auxgrid-analyze" tables results --format csv > tables.csv 2> tables.err || { cat tables.err; fail "tables"; }
grep -qi "invalid\|skipp" tables.err && { cat tables.err; fail "the analysis set a legacy file aside"; }
echo "ok: the results of a44eb44 are complete"
