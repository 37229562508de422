#!/usr/bin/env bash
# GPU smoke check (run by launchers/gpu/check.sh): nvidia-smi, `auxgrid
# version`, then a tiny grid (2 models x 1 seed, 2 epochs) trained on the GPU
# in fp32 and in bf16 under 2 MPI ranks, and its analysis.
#   10_cuda_smoke.sh BUILD_DIR OUT_DIR
# Without a CUDA device it prints SKIP and exits 0. AUXGRID_GPU_CHECK_DEVICE=cpu
# runs the same steps on the CPU (the rehearsal's test of this script).
set -euo pipefail
build=$(cd "$1" && pwd)
device=${AUXGRID_GPU_CHECK_DEVICE:-cuda}
if [ "$device" = cuda ]; then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi >/dev/null 2>&1; then
    echo "SKIP: no CUDA device (no working nvidia-smi)"; exit 0
  fi
  nvidia-smi
fi
"$build/auxgrid" version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$build/auxgrid" synth --preset tiny --seed 0 --out corpus.h5
cat > grid.toml <<TOML
[grid]
name = "gpu-smoke"
[settings]
data.corpus = "corpus.h5"
model.width = 16
model.heads = 2
model.layers = 1
train.epochs = 2
[axes]
model.name = ["auxformer", "baseline1"]
seed = [0]
TOML
ranks=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2)
for precision in fp32 bf16; do
  echo "== $precision on $device"
  set_precision=()
  [ "$precision" = bf16 ] && set_precision=(--set train.precision=bf16)
  t0=$SECONDS
  "${ranks[@]}" "$build/auxgrid" run grid.toml --out "res-$precision" --device "$device" --threads 1 "${set_precision[@]}"
  n=$(ls "res-$precision"/cells/*.h5 | wc -l)
  [ "$n" -eq 2 ] || { echo "FAIL: $precision: $n of 2 results"; exit 1; }
  echo "$precision: 2 cells in $((SECONDS - t0)) s"
  "$build/auxgrid-analyze" tables "res-$precision"
done
"$build/auxgrid-analyze" report res-bf16 --out report
[ -s report/index.html ] || { echo "FAIL: no report"; exit 1; }
echo "10_cuda_smoke: ok ($device)"
