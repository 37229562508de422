#!/usr/bin/env bash
# The analysis end to end on a results directory shaped like the paper's grid
# (tests/synthetic_results: every cell of experiments/paper.toml for 4 seeds,
# some missing, one failed, one damaged): every table in every format, the
# figures with gnuplot (and a clear skip without it), the HTML report rendered
# in headless chromium with its figures visible, and the analysis's errors.
# Usage: tests/e2e_report.sh BUILD_DIR
src=$(cd "$(dirname "$0")/.." && pwd)  # before e2e_common.sh changes directory
source "$src/tests/e2e_common.sh" "$1"
analyze="$build/auxgrid-analyze"

"$build/tests/synthetic_results" res "$src/experiments/paper.toml" 4 300 2 1 > made.txt
grep -q "200 planned (3 missing, 1 of them failed)" made.txt || { cat made.txt; fail "synthetic results"; }
# A damaged result (AuxFormer, optimized, msp-improv, seed 3): skipped with a
# warning naming it, and counted as missing.
damaged=res/cells/$(sed -n 40p res/manifest.tsv | cut -f1).h5
head -c 2000 "$damaged" > t && mv t "$damaged"

"$analyze" tables res > tables.md 2> warn.txt || { cat warn.txt; fail "tables"; }
for title in "Table 1:" "Table 2:" "Table 3:" "Table 4:" "Table 5:"; do
  grep -q "### $title" tables.md || fail "no '$title' in the tables"
done
grep -qF "$damaged" warn.txt || { cat warn.txt; fail "the damaged file is not named"; }
grep -q "fewer seeds than planned" warn.txt || { cat warn.txt; fail "missing seeds are not reported"; }
grep -q "failed: seed 0 after 1 attempt (CUDA out of memory)" warn.txt || { cat warn.txt; fail "the failed cell is not reported"; }
grep -q "(n=3 of 4)" tables.md || fail "a value over fewer seeds does not say so"
grep -q "| AuxFormer (ours) | .*[0-9]\* (n=4)" tables.md || { cat tables.md; fail "Table 1 has no star"; }
grep -q "| Baseline 4 (video) | 4,364,354 | " tables.md || fail "Table 5 has no parameter count"
grep -q "measured on: GPU: synthetic" tables.md || fail "Table 5 does not name the device"
echo "ok: Markdown tables, missing and failed seeds, stars, Table 5"

"$analyze" tables res --table table1 --format latex --paper > t1.tex 2>/dev/null
# --paper on a corpus the paper has no values for says so.
"$analyze" tables res --table table4 --paper > /dev/null 2> t4.log || { cat t4.log; fail "tables --paper, table4"; }
grep -q "note: table4: --paper: the paper reports no values for msp-improv (it reports crema-d)" t4.log ||
  { cat t4.log; fail "--paper is silent about a corpus without paper values"; }
for rule in '\toprule' '\midrule' '\bottomrule' '\cmidrule(lr){3-8}' '\multicolumn{6}{c}{crema-d}' '0.769$^{*}$'; do
  grep -qF "$rule" t1.tex || { cat t1.tex; fail "LaTeX lacks $rule"; }
done
"$analyze" tables res --format csv --comparisons comparisons.csv > tables.csv 2>/dev/null
head -1 tables.csv | grep -q "^table,block,row,corpus,metric,mean,sd,n,expected,significant$" || fail "CSV header"
grep -q "^table1,standard,AuxFormer (ours),msp-improv,micro_f1,[0-9.]*,[0-9.e-]*,4,4,1$" tables.csv || fail "CSV row"
head -1 comparisons.csv | grep -q "^table,block,corpus,metric,reference,other,n,.*,t,df,p,significant,p_two_sided,p_holm,p_bh$" ||
  fail "comparisons header"
[ "$(grep -c '^table1,' comparisons.csv)" -eq 24 ] || fail "Table 1 needs 2 blocks x 3 others x 4 columns of t-tests"
"$analyze" tables res --table table2 --paper > t2.md 2>/dev/null
grep -q "| video only | AuxFormer (ours) | 0\.[0-9]*\*\? (n=4) | 0.622\* | [+-]0\.[0-9]* |" t2.md ||
  { cat t2.md; fail "--paper does not show the paper's value and the difference"; }
echo "ok: LaTeX, CSV, comparisons, --paper"

gnuplot_files() { ls figs/*.svg figs/*.png 2>/dev/null | wc -l; }
if command -v gnuplot >/dev/null; then
  "$analyze" figures res --out figs 2> figs.log || { cat figs.log; fail "figures"; }
  [ "$(gnuplot_files)" -eq 14 ] || { ls figs; fail "expected 7 figures as SVG and PNG"; }
  echo "ok: 7 figures as SVG and PNG"
  # One model of Figure 8's five: one category per corpus, skipped with a note.
  "$analyze" figures res --out figs1 --where model.name=mult_up 2> figs1.log || { cat figs1.log; fail "figures, one model"; }
  grep -q "figure figure8: its results make one category per corpus, which compares nothing; skipped" figs1.log ||
    { cat figs1.log; fail "a one-bar figure is drawn"; }
  [ ! -e figs1/figure8.svg ] || fail "figure8 drawn with one category"
  echo "ok: a figure of one category is skipped with a note"
fi
rm -rf figs figs1
AUXGRID_GNUPLOT=/nonexistent "$analyze" figures res --out figs 2> figs.log || fail "figures without gnuplot"
grep -q "figures skipped: no gnuplot" figs.log || { cat figs.log; fail "no clear message without gnuplot"; }
[ "$(gnuplot_files)" -eq 0 ] || fail "figures written without gnuplot"
echo "ok: without gnuplot, figures are skipped with a message"

"$analyze" report res --out report 2> report.log || { cat report.log; fail "report"; }
for part in 'id="status"' '196 of 200 planned cells complete' '4 missing, of which 1 failed' 'Failed cells' 'CUDA out of memory' \
  'Missing cells' 'id="table1"' 'id="table5"' 'Provenance' 'GPU: synthetic'; do
  grep -qF "$part" report/index.html || fail "the report lacks $part"
done
for f in tables/table1.md tables/table1.tex tables/table1.csv tables/comparisons.csv; do
  [ -s "report/$f" ] || fail "report/$f is missing"
done
echo "ok: report with status, failed and missing cells, tables, provenance"

# The page in a real browser: it renders, and every figure decodes.
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ] || ! command -v gnuplot >/dev/null; then
  echo "skip: the browser check needs chromium and gnuplot"
else
  headless=("$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/chromium")
  "${headless[@]}" --dump-dom "file://$work/report/index.html" > dom.html 2> chromium.log ||
    { cat chromium.log; fail "chromium could not load the report"; }
  grep -q 'data-figures="7/7"' dom.html || { grep -o 'data-figures="[^"]*"' dom.html; fail "not every figure rendered"; }
  # The whole page, figures included (about 12,000 px tall).
  "${headless[@]}" --window-size=1280,16000 --screenshot="$work/screenshot.png" "file://$work/report/index.html" \
    2>> chromium.log || { cat chromium.log; fail "chromium could not take a screenshot"; }
  # A PNG of the requested size, and not a blank page (a white one of this size is about 90 KB).
  [ "$(head -c 8 screenshot.png | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "the screenshot is no PNG"
  [ "$(od -An -tu1 -j16 -N8 screenshot.png | tr -s ' ')" = " 0 0 5 0 0 0 62 128" ] || fail "the screenshot is not 1280x16000"
  [ "$(stat -c %s screenshot.png)" -gt 500000 ] || fail "the screenshot looks blank ($(stat -c %s screenshot.png) bytes)"
  cp screenshot.png "$build/report-screenshot.png"
  echo "ok: chromium renders the report, 7 of 7 figures decode (screenshot: $build/report-screenshot.png)"
fi

# Errors name what is wrong and exit non-zero.
expect_failure "unknown table" "no table 'table9'" "table1" -- "$analyze" tables res --table table9
expect_failure "bad format" "--format must be md, latex or csv" -- "$analyze" tables res --format html
expect_failure "missing directory" "nodir" -- "$analyze" tables nodir
printf '[[table]]\nname = "mine"\nmetric = ["micro_f1"]\n' > bad_study.toml
expect_failure "bad study file" "bad_study.toml:3" "unknown key 'metric'" -- "$analyze" tables res --study bad_study.toml
printf '[[table]]\nname = "table1"\ncondition = "ideal"\n[[table.row]]\nlabel = "x"\n' > twice.toml
expect_failure "table defined twice" "table 'table1' is defined twice" "twice.toml" -- \
  "$analyze" tables res --study twice.toml
expect_failure "report without --out" "report needs --out" -- "$analyze" report res

# For reviewers: stars from adjusted p-values on request, and the seeds a difference needs.
"$analyze" tables res --table table1 --adjust holm > holm.md 2>/dev/null || fail "tables --adjust holm"
grep -qF "Holm-adjusted p < 0.05 over the table's 24 tests" holm.md || { cat holm.md; fail "--adjust holm: no note"; }
"$analyze" tables res --table table1 --adjust bh --format latex > bh.tex 2>/dev/null || fail "tables --adjust bh"
grep -qF "Benjamini-Hochberg-adjusted p" bh.tex || { cat bh.tex; fail "--adjust bh: no note"; }
expect_failure "bad --adjust" "--adjust must be none, holm or bh, got 'bonferroni'" -- \
  "$analyze" tables res --adjust bonferroni
rc=0; "$analyze" tables res --adjust bonferroni > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "a bad --adjust exits $rc, not 2 (usage)"
"$analyze" power res --table table1 > power.txt 2>/dev/null || fail "power"
grep -q "^table  *block  *corpus .* seeds now  *mean diff  *sd diff  *to detect  *seeds needed$" power.txt ||
  { cat power.txt; fail "power: no header"; }
grep -q "^table1  *standard  *crema-d  *micro_f1  *AuxFormer (ours)  *Baseline 3  *4 .* [0-9][0-9]*$" power.txt ||
  { cat power.txt; fail "power: no row for Baseline 3"; }
"$analyze" power res --format csv --difference 0.01 --power 0.9 > power.csv 2>/dev/null || fail "power --format csv"
head -1 power.csv | grep -q "^table,block,corpus,metric,reference,other,n,.*,seeds_needed,note$" || fail "power CSV header"
[ "$(wc -l < power.csv)" -eq "$(wc -l < comparisons.csv)" ] || fail "power has not a row per comparison"
grep -q "^table1,standard,crema-d,micro_f1,AuxFormer (ours),Baseline 3,4,[0-9.e-]*,[0-9.e-]*,0.01,0.9,[0-9]*,$" power.csv ||
  { cat power.csv; fail "power CSV row"; }
expect_failure "bad --power" "--power must be in (0, 1), got 1.5" -- "$analyze" power res --power 1.5
expect_failure "bad --difference" "--difference must be a positive number" -- "$analyze" power res --difference -0.01
echo "ok: p_holm and p_bh, --adjust holm|bh stars and note, power as text and CSV"
echo "e2e_report: ok"
