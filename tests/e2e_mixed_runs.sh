#!/usr/bin/env bash
# A new user's first hour with two runs of one grid: a run with --set writes
# into a directory of its own; two runs mixed into one directory by --out make
# the analysis name both files and the --where that separates them; --where
# selects on every analysis command; `export` writes one CSV row per cell and
# condition with every setting a column (read back with Python's csv module,
# and pandas where installed); --set sweeps expand in `plan`.
# Usage: tests/e2e_mixed_runs.sh BUILD_DIR
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/e2e_common.sh" "$1"
analyze=$build/auxgrid-analyze
tiny_grid -- 'model.name = ["auxformer", "baseline1"]' 'seed = [0, 1]'

# Default directories: the grid's own, and one per --set override list.
"$build/auxgrid" run grid.toml -q --threads 1 || fail "run"
"$build/auxgrid" run grid.toml -q --threads 1 --set train.epochs=2 || fail "run --set"
[ "$(ls results/grid/cells/*.h5 | wc -l)" -eq 4 ] || fail "results/grid should hold the 4 cells of the plain run"
[ "$(ls results/grid+train.epochs=2/cells/*.h5 | wc -l)" -eq 4 ] || fail "run --set should write results/grid+train.epochs=2"
"$build/auxgrid" plan grid.toml --set train.epochs=2 > plan.txt || fail "plan --set"
grep -q "results in results/grid+train.epochs=2$" plan.txt && grep -q "^4 done, 0 to train" plan.txt ||
  { cat plan.txt; fail "plan --set should look in the run's directory"; }
echo "ok: run --set writes into results/grid+train.epochs=2, plan --set finds it"

# Both runs in one directory: the clash names both files and the --where.
cp -r results/grid mixed && cp results/grid+train.epochs=2/cells/*.h5 mixed/cells/
expect_failure "two runs in one directory" "two results for seed" "mixed/cells/" "differing settings: train.epochs=" \
  "--where train.epochs=" -- "$analyze" tables mixed
for epochs in 1 2; do
  "$analyze" tables mixed --where train.epochs=$epochs --format csv > t$epochs.csv 2> t.log ||
    { cat t.log; fail "tables --where train.epochs=$epochs"; }
  grep -q '^table1,standard,AuxFormer (ours),tiny,micro_f1,[0-9.]*,[0-9.e-]*,2,' t$epochs.csv ||
    { cat t$epochs.csv; fail "--where train.epochs=$epochs: AuxFormer should have 2 seeds"; }
done
cmp -s t1.csv t2.csv && fail "the two selections gave the same table"
"$analyze" tables mixed --where train.epochs=2 2>/dev/null | grep -q "^Results: mixed --where train.epochs=2$" ||
  fail "the table does not say which results it selected"
"$analyze" tables results/grid --format csv > plain.csv 2>/dev/null
cmp -s t1.csv plain.csv || fail "--where train.epochs=1 should give the plain run's table"
expect_failure "unknown --where key" "train.epoch" "unknown" -- "$analyze" tables mixed --where train.epoch=2
expect_failure "bad --where value" "train.epochs" -- "$analyze" tables mixed --where train.epochs=two
expect_failure "--where that matches nothing" "no complete result files" "--where train.epochs=3" -- \
  "$analyze" tables mixed --where train.epochs=3
echo "ok: --where selects, the clash suggests it"

# Export: a row per cell and condition, every setting a column.
"$analyze" export mixed --out all.csv 2> export.log || { cat export.log; fail "export"; }
"$analyze" export mixed --where model.name=baseline1 > baseline1.csv 2>/dev/null || fail "export --where to stdout"
conditions=21  # eval.conditions = "all": ideal, audio_only, video_only, mask_{audio,video}_p10..p90
python=$(command -v /usr/bin/python3 python3 | head -n 1 || true)
if [ -z "$python" ]; then  # the LibTorch 2.x root of tests/libtorch2.sh has no Python
  [ "$(tail -n +2 all.csv | wc -l)" -eq $((8 * conditions)) ] || fail "export: $(wc -l < all.csv) lines"
  head -n 1 all.csv | tr ',' '\n' | grep -qx "train.epochs" || fail "export: no train.epochs column"
  echo "no python3 here: the export is checked by its line count and header only"
else "$python" - "$conditions" <<'PY' || fail "export: the CSV does not read back"
import csv, sys
conditions = int(sys.argv[1])
rows = list(csv.DictReader(open("all.csv")))
assert len(rows) == 8 * conditions, (len(rows), conditions)
for key in ("cell_id", "corpus", "condition", "micro_f1", "macro_f1", "seed", "model.name", "train.epochs",
            "train.lr", "final_dev_loss", "file"):
    assert key in rows[0], key
assert {r["train.epochs"] for r in rows} == {"1", "2"}
assert {r["model.name"] for r in rows} == {"auxformer", "baseline1"}
assert all(0 <= float(r["micro_f1"]) <= 1 for r in rows)
assert len({(r["cell_id"], r["condition"]) for r in rows}) == len(rows)
selected = list(csv.DictReader(open("baseline1.csv")))
assert len(selected) == 4 * conditions and all(r["model.name"] == "baseline1" for r in selected)
try:
    import pandas
except ImportError:
    print("pandas is not installed: read with the csv module only")
else:
    frame = pandas.read_csv("all.csv")
    means = frame[frame.condition == "ideal"].groupby(["model.name", "train.epochs"]).micro_f1.mean()
    assert len(means) == 4, means
    print("pandas reads the export:", means.to_dict())
PY
fi
echo "ok: export (a row per cell and condition, every setting a column)"

# Sweeps from the command line: an axis per --set with several values.
"$build/auxgrid" plan grid.toml --set seed=0-3 --set train.lr=0.001,0.002 > sweep.txt || fail "plan with sweeps"
grep -q "16 cells" sweep.txt || { cat sweep.txt; fail "2 models x 4 seeds x 2 learning rates should be 16 cells"; }
grep -q "axes: .*seed.*train.lr\|axes: .*train.lr.*seed" sweep.txt || { cat sweep.txt; fail "plan should list the axes"; }
grep -q "results in results/grid+seed=0-3+train.lr=0.001,0.002$" sweep.txt || { cat sweep.txt; fail "sweep directory"; }
echo "ok: --set sweeps in plan"

# The report: training curves under each table, for the selected run only.
if command -v gnuplot >/dev/null; then
  "$analyze" report mixed --where train.epochs=2 --out report 2> report.log || { cat report.log; fail "report --where"; }
  grep -q "Training curves" report/index.html || fail "the report has no training curves"
  grep -qF "(--where train.epochs=2)" report/index.html || fail "the report does not say what it selected"
  grep -q "paper reports no values for these corpora (tiny)" report/index.html ||
    fail "the report should not claim the paper's values for the tiny corpus"
  ls report/figures/curves/table1-curves-*.svg >/dev/null 2>&1 || fail "no curve figures written"
  grep -q "^2 " report/figures/curves/table1-curves-1.dat || fail "the curves should have 2 epochs"
  echo "ok: report with training curves"
else
  echo "skip: the report's curves need gnuplot"
fi
echo "e2e_mixed_runs: ok"
