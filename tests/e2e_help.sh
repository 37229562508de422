#!/usr/bin/env bash
# The command-line help a new user reads: `auxgrid --help` lists every
# command, `auxgrid COMMAND --help` prints its synopsis, an example and every
# option with a description (from the same description its parser uses), and
# `auxgrid settings [PREFIX]` lists the settings with their defaults and
# allowed values.
# Usage: tests/e2e_help.sh BUILD_DIR
src=$(cd "$(dirname "$0")/.." && pwd)
source "$src/tests/e2e_common.sh" "$1"

"$build/auxgrid" --help > all.txt || fail "auxgrid --help"
commands=(run plan sbatch status synth import corpus-info splits models settings version)
for c in "${commands[@]}"; do
  grep -qE "^  $c( |$)" all.txt || { cat all.txt; fail "auxgrid --help does not list '$c'"; }
  "$build/auxgrid" "$c" --help > "$c.txt" 2> err.txt || { cat err.txt; fail "auxgrid $c --help exited non-zero"; }
  grep -q "^usage: auxgrid $c" "$c.txt" || { cat "$c.txt"; fail "$c --help: no usage line"; }
  grep -q "^example:" "$c.txt" || { cat "$c.txt"; fail "$c --help: no example"; }
  # Every option has a description: text after the option's column.
  undocumented=$(grep -E '^  --' "$c.txt" | awk 'NF < 3 && $2 != "arg" || NF < 2' || true)
  [ -z "$undocumented" ] || { cat "$c.txt"; fail "$c --help: options without a description: $undocumented"; }
done
for option in --device --shard --ranks-per-cell --retry-failed --max-attempts --fail-fast --watchdog --stale-lock \
  --threads --set --plugin --out; do
  grep -q -- "^  $option" run.txt || { cat run.txt; fail "run --help does not list $option"; }
done
for option in --gpus-per-task --mem --mem-per-gpu --account --qos --constraint --throttle --setup --time --partition; do
  grep -q -- "^  $option" sbatch.txt || { cat sbatch.txt; fail "sbatch --help does not list $option"; }
done
grep -q -- "--scale" synth.txt && grep -q "crema-d" synth.txt || { cat synth.txt; fail "synth --help: --scale, presets"; }
echo "ok: auxgrid --help and the help of ${#commands[@]} commands"

"$build/auxgrid" settings > settings.txt || fail "auxgrid settings"
grep -q '^train.lr = 0.000725   (number in \[1e-09, 10\])$' settings.txt || { grep train.lr settings.txt; fail "train.lr"; }
grep -q '^model.positions = "nonzero_input"   (nonzero_input|valid_frames)$' settings.txt ||
  { grep -A1 model.positions settings.txt; fail "model.positions"; }
grep -q "models' own defaults: .*mult 30" settings.txt || fail "model.width's per-model defaults"
"$build/auxgrid" settings train. > train.txt || fail "auxgrid settings train."
grep -q "^model\." train.txt && fail "settings train. lists model settings"
grep -q "^train.epochs = 25" train.txt || { cat train.txt; fail "settings train. misses train.epochs"; }
expect_failure "unknown prefix" "no setting starts with 'trian.'" -- "$build/auxgrid" settings trian.

"$build/auxgrid-analyze" --help > analyze.txt || fail "auxgrid-analyze --help"
for part in "  tables DIR" "  figures DIR" "  report DIR" "  export DIR" "  study" "  --where" "  --format" "  --out" \
  "  --table" "  --paper" "  --comparisons" "  --study" "  --model-revision" "examples:"; do
  grep -qF -- "$part" analyze.txt || { cat analyze.txt; fail "auxgrid-analyze --help lacks '$part'"; }
done
echo "ok: auxgrid-analyze --help"
echo "e2e_help: ok"
