#!/usr/bin/env bash
# A result is trusted for what it proves, not for its name (issue 16, item 3).
# Another cell's result copied under a cell's name and a damaged result are
# named by plan, status and the analysis alike, and the next run sets them
# aside (kept as <id>.h5.rejected.<time>) and retrains those cells.
# Usage: tests/e2e_integrity.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"

tiny_grid -- "seed = [0, 1, 2]"
"$build/auxgrid" run grid.toml --out res --threads 1 2> run1.log || { cat run1.log; fail "first run"; }
ids=($(ls res/cells | sed 's/\.h5$//'))
[ ${#ids[@]} -eq 3 ] || fail "expected 3 results, got ${ids[*]}"
foreign=${ids[0]} damaged=${ids[1]}
cp "res/cells/${ids[2]}.h5" "res/cells/$foreign.h5"
truncate -s 4000 "res/cells/$damaged.h5"

"$build/auxgrid" plan grid.toml --out res > plan.txt || { cat plan.txt; fail "plan"; }
grep -q "1 done, 2 to train" plan.txt || { cat plan.txt; fail "plan counts the foreign or damaged result as done"; }
grep -q "$foreign .*rerun.*it holds cell '${ids[2]}'" plan.txt || { cat plan.txt; fail "plan does not name the foreign result"; }
"$build/auxgrid" status grid.toml --out res > status.txt
grep -Eq "^  all +1 +0 +0 +2$" status.txt || { cat status.txt; fail "status counts them done"; }
grep -q "$foreign .*it holds cell" status.txt || { cat status.txt; fail "status does not name the foreign result"; }
grep -q "$damaged " status.txt || { cat status.txt; fail "status does not name the damaged result"; }
"$build/auxgrid-analyze" tables res --format csv > tables.csv 2> tables.err || { cat tables.err; fail "tables"; }
grep -q "skipped .*$foreign.h5: it holds cell" tables.err || { cat tables.err; fail "the analysis does not name the foreign result"; }
grep -q "skipped .*$damaged.h5" tables.err || { cat tables.err; fail "the analysis does not name the damaged result"; }

"$build/auxgrid" run grid.toml --out res --threads 1 2> run2.log || { cat run2.log; fail "second run"; }
grep -q "result rejected (it holds cell '${ids[2]}'.*set aside as .*$foreign.h5.rejected" run2.log ||
  { cat run2.log; fail "the run does not set the foreign result aside"; }
[ "$(ls res/cells/*.rejected.* | wc -l)" -eq 2 ] || { ls res/cells; fail "expected 2 files set aside"; }
"$build/auxgrid" plan grid.toml --out res | grep -q "3 done, 0 to train" || fail "the cells were not retrained"
"$build/auxgrid-analyze" tables res --format csv > /dev/null 2> tables2.err
grep -q skipped tables2.err && { cat tables2.err; fail "the analysis still skips a file"; }
echo "e2e_integrity: ok"
