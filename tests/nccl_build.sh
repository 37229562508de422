#!/usr/bin/env bash
# CI check that the NCCL communicator backend compiles and links (no GPU
# needed): configures BUILD_DIR with AUXGRID_WITH_NCCL=ON, builds only
# auxgrid_dist and auxgrid_nccl_link_check (no LibTorch translation unit), and
# runs the check, which lists the registered backends.
# usage: tests/nccl_build.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2; exit 2; }
source_dir=$1
build_dir=$2
nccl_header=/usr/local/cuda/include/nccl.h

if [[ ! -f $nccl_header ]]; then
  echo "SKIP: $nccl_header not found (no CUDA toolkit with NCCL here)"
  exit 0
fi

mkdir -p "$build_dir"
log=$build_dir/configure.log
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DAUXGRID_WITH_NCCL=ON \
  -DAUXGRID_BUILD_TESTS=OFF >"$log" 2>&1 || { cat "$log" >&2; echo "FAIL: configure" >&2; exit 1; }
grep -F -- "-- NCCL:" "$log"

cmake --build "$build_dir" -j "${AUXGRID_BUILD_JOBS:-2}" --target auxgrid_dist auxgrid_nccl_link_check

# The dist library must stay free of LibTorch: the check links it alone.
check=$build_dir/auxgrid_nccl_link_check
if ldd "$check" | grep -E 'lib(torch|c10)'; then
  echo "FAIL: auxgrid_nccl_link_check pulls in LibTorch" >&2
  exit 1
fi
ldd "$check" | grep -E 'lib(nccl|cudart)' | sed 's/^[[:space:]]*/linked: /'

"$check"
echo "PASS: the nccl communicator backend compiles, links and registers"
