#!/usr/bin/env bash
# End to end under real Open MPI: 2 ranks train a tiny grid, a rerun trains
# nothing, a lost and a truncated result are re-run and nothing else is touched,
# and the analysis prints Table 1.
# Usage: tests/e2e_mpirun.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"

"$build/auxgrid" synth --preset tiny --seed 1 --out corpus.h5 >/dev/null
cat > grid.toml <<TOML
[grid]
name = "e2e"
[settings]
data.corpus = "corpus.h5"
model.width = 16
model.heads = 2
model.layers = 1
train.epochs = 2
[axes]
model.name = ["auxformer", "baseline1"]
seed = [0, 1]
TOML

mpirun_ "$build/auxgrid" run grid.toml --out out --threads 1 2> run1.log || { cat run1.log; fail "first run"; }
[ "$(ls out/cells/*.h5 | wc -l)" -eq 4 ] || fail "expected 4 result files"
grep -q "rank 1" run1.log || fail "rank 1 did not log"
# Both ranks claimed cells: the shared counter spreads them.
for r in 0 1; do grep "\[rank $r\].*started" run1.log >/dev/null || fail "rank $r trained nothing"; done
"$build/auxgrid" plan grid.toml --out out | grep -q "4 done, 0 to train" || fail "plan after run"

# Rerun: nothing is trained.
mpirun_ "$build/auxgrid" run grid.toml --out out --threads 1 2> run2.log
grep -q "nothing to train, 4 of 4 cells are complete" run2.log || { cat run2.log; fail "rerun trained"; }
grep -q "started" run2.log && fail "rerun started a cell"

# Lose one result, truncate another: exactly those two are trained again.
files=(out/cells/*.h5)
rm "${files[0]}"
head -c 2000 "${files[1]}" > t && mv t "${files[1]}"
md5_before=$(md5sum "${files[2]}" "${files[3]}")
"$build/auxgrid" plan grid.toml --out out > plan.txt
grep -q "2 done, 2 to train" plan.txt || { cat plan.txt; fail "plan after damage"; }
grep -q "rerun" plan.txt || fail "plan does not flag the truncated file"
mpirun_ "$build/auxgrid" run grid.toml --out out --threads 1 2> run3.log
grep -q "2 to train" run3.log || { cat run3.log; fail "resume did not train exactly 2"; }
[ "$(grep -c 'started' run3.log)" -eq 2 ] || fail "resume started a number of cells other than 2"
[ "$md5_before" = "$(md5sum "${files[2]}" "${files[3]}")" ] || fail "a complete result was touched"
# The truncated result is kept aside for inspection, nothing else is left behind.
[ "$(ls out/cells | grep -c '\.h5\.rejected\.')" -eq 1 ] || fail "the truncated result was not set aside: $(ls out/cells)"
[ "$(ls out/cells | grep -vc '\.rejected\.')" -eq 4 ] || fail "stray files in out/cells: $(ls out/cells)"

"$build/auxgrid-analyze" tables out > table.md || fail "analysis"
grep -q "AuxFormer" table.md || { cat table.md; fail "table has no AuxFormer row"; }
grep -q "n=2" table.md || { cat table.md; fail "table does not show 2 seeds"; }
echo "e2e_mpirun: ok"
