#!/usr/bin/env bash
# A baseline written in PyTorch, end to end through the real executables, as
# docs/torchscript.md walks it: the example
# (experiments/plugins/late_fusion.py) is scripted with python3-torch where it
# is installed (tests/run.sh installs it; else the copy that
# tests/data/torchscript/make_modules.py made is used), `models --plugin`
# lists it, the example grid trains it beside AuxFormer (both procedures, 5
# seeds), a changed file makes new cells, a group of 2 MPI ranks trains one of
# its cells, and its study regenerates a table with significance marks. Bad
# files fail naming themselves before anything trains.
# Usage: tests/e2e_torchscript.sh BUILD_DIR
src=$(cd "$(dirname "$0")/.." && pwd)  # before e2e_common.sh changes directory
source "$src/tests/e2e_common.sh" "$1"

mkdir exp corpora
cp "$src/experiments/plugins/late_fusion.toml" "$src/experiments/plugins/late_fusion_study.toml" exp/
python=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c "import torch" 2>/dev/null; then python=$p; break; fi
done
if [ -n "$python" ]; then
  "$python" "$src/experiments/plugins/late_fusion.py" --audio-dim 130 --video-dim 64 --classes 4 --hidden 16 \
    --out exp/late_fusion.pt || fail "scripting the example"
  echo "ok: scripted with $("$python" -c 'import torch; print("PyTorch", torch.__version__)')"
else
  cp "$src/tests/data/torchscript/late_fusion_video64.pt" exp/late_fusion.pt
  echo "note: no python3 with torch here; the checked-in tests/data/torchscript/late_fusion_video64.pt"
fi
"$build/auxgrid" synth --preset tiny --out corpora/tiny.h5 >/dev/null

"$build/auxgrid" models --plugin exp/late_fusion.pt > models.txt || fail "models --plugin FILE.pt"
grep -qE "^late_fusion.pt +[0-9,]+  TorchScript LateFusion: audio 130, video 64, 4 classes, heads av, a, v" models.txt ||
  { cat models.txt; fail "the scripted model is not listed"; }
echo "ok: models --plugin lists it"

# The example grid, as docs/torchscript.md runs it (2 epochs instead of 6).
"$build/auxgrid" run exp/late_fusion.toml --out res --set train.epochs=2 -q || fail "run of the example grid"
[ "$(ls res/cells/*.h5 | wc -l)" = 20 ] || { ls res/cells; fail "expected 20 result files"; }
"$build/auxgrid" plan exp/late_fusion.toml --out res --set train.epochs=2 | grep -q "20 done, 0 to train" ||
  fail "the results are not found again"
for scripted in res/cells/*.h5; do h5dump -a /config/model.name "$scripted" | grep -q torchscript && break; done
h5dump -a /config/model.file_hash "$scripted" | grep -qE '"[0-9a-f]{16}"' || fail "$scripted records no model.file_hash"
# `models --plugin` prints the hash a study matches the file's results by.
hash=$(grep -oE 'model.file_hash = "[0-9a-f]{16}"' models.txt | cut -d'"' -f2)
h5dump -a /config/model.file_hash "$scripted" | grep -q "\"$hash\"" || { cat models.txt; fail "models prints another hash"; }
"$build/auxgrid-analyze" tables res --study exp/late_fusion_study.toml --table late_fusion > table.md 2> warn.txt ||
  { cat warn.txt; fail "the study's table"; }
grep -q "| standard, ideal | late fusion (TorchScript) | .*(n=5)" table.md || { cat table.md; fail "TorchScript row"; }
grep -qE "^\|  \| AuxFormer \| [0-9.]+ \(n=5\)" table.md || { cat table.md; fail "AuxFormer row"; }
grep -q "one-tailed paired t-test" table.md || { cat table.md; fail "no significance note"; }
echo "ok: the example grid trains both models and its study makes the table"

# Without a study file the scripted model has rows of its own beside the paper's models.
"$build/auxgrid-analyze" tables res --table table1 > default.md 2> warn.txt || { cat warn.txt; fail "default tables"; }
for block in standard optimized; do
  grep -qE "^\| $block? *\| late_fusion \(TorchScript\) \| [0-9.]+ \(n=5\)|^\|  \| late_fusion \(TorchScript\) \| [0-9.]+ \(n=5\)" default.md ||
    { cat default.md; fail "no row of the scripted model in table1 without a study"; }
done
[ "$(grep -c "late_fusion (TorchScript)" default.md)" -eq 2 ] || { cat default.md; fail "one row per procedure expected"; }
echo "ok: the scripted model is in the paper's tables without a study file"

# The same bytes elsewhere are the same model: its results are found.
mkdir moved && cp exp/late_fusion.toml exp/late_fusion.pt moved/
"$build/auxgrid" plan moved/late_fusion.toml --out res --set train.epochs=2 | grep -q "20 done, 0 to train" ||
  fail "the same model file in another folder is not the same model"

# A changed file is a new model: its cells are pending, AuxFormer's are not.
if [ -n "$python" ]; then
  "$python" "$src/experiments/plugins/late_fusion.py" --audio-dim 130 --video-dim 64 --classes 4 --hidden 8 \
    --out exp/late_fusion.pt >/dev/null
else
  printf 'x' >> exp/late_fusion.pt  # the zip reader ignores bytes after the archive
fi
"$build/auxgrid" plan exp/late_fusion.toml --out res --set train.epochs=2 | grep -q "10 done, 10 to train" ||
  fail "a changed model file did not make new cells"
"$build/auxgrid" run exp/late_fusion.toml --out res --set train.epochs=2 -q || fail "run of the changed model's cells"
# Two files of one name: two rows, told apart by their bytes' hash, not a clash.
"$build/auxgrid-analyze" tables res --table table1 > changed.md 2> warn.txt || { cat warn.txt; fail "tables after the change"; }
[ "$(grep -cE "late_fusion \(TorchScript, file [0-9a-f]{8}\) \| [0-9.]+ \(n=5\)" changed.md)" -eq 4 ] ||
  { cat changed.md; fail "the two versions of the file are not two rows per procedure"; }
echo "ok: a changed file makes 10 new cells, and a row of its own"

# A group of 2 ranks trains a cell of the scripted model (data parallel).
cat > exp/group.toml <<TOML
[settings]
data.corpus = "corpora/tiny.h5"
model.name = "torchscript"
model.path = "late_fusion.pt"
train.epochs = 2
train.procedure = "optimized"
TOML
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$build/auxgrid" run exp/group.toml --out group \
  --ranks-per-cell 2 --threads 1 2> group.log || { cat group.log; fail "group run"; }
grep -q "2 ranks, mpi" group.log || { cat group.log; fail "the cell was not trained by a group of 2"; }
[ "$(ls group/cells/*.h5 | wc -l)" = 1 ] || fail "the group wrote $(ls group/cells | wc -l) results, expected 1"
echo "ok: a group of 2 MPI ranks trains a scripted cell"

# Bad files fail naming themselves, and nothing trains (every other kind of bad
# module: tests/test_models.cpp).
grid_with() {  # grid_with FILE MODEL_PATH
  sed -e "s|^model.path = .*|model.path = \"$2\"|" exp/late_fusion.toml > "exp/$1"
}
echo "not a model" > exp/notes.pt
grid_with notes.toml notes.pt
expect_failure "not TorchScript" "notes.pt" "is not a TorchScript module" -- \
  "$build/auxgrid" run exp/notes.toml --out bad
grid_with missing.toml nowhere.pt
expect_failure "missing file" "missing.toml" "nowhere.pt" "cannot read" -- "$build/auxgrid" run exp/missing.toml --out bad
cp "$src/tests/data/torchscript/late_fusion.pt" exp/video16.pt
grid_with video16.toml video16.pt
expect_failure "width mismatch" "video16.pt" "built for audio width 130 and video width 16" -- \
  "$build/auxgrid" run exp/video16.toml --out bad
[ ! -e bad/cells ] || [ -z "$(ls bad/cells)" ] || fail "a grid with a bad model file trained something"
echo "e2e_torchscript: ok"
