#!/usr/bin/env bash
# Configures and builds auxgrid (Release) into build/. Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# Each LibTorch translation unit needs about 1 GB at -O2: bound the jobs by memory too.
mem_gb=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
[ "$mem_gb" -lt "$jobs" ] && jobs=$((mem_gb > 0 ? mem_gb : 1))
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$jobs"
