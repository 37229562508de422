#!/usr/bin/env bash
# The test command: set-up, build, then every Boost.Test suite and end-to-end test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launchers/setup.sh --with-slurm  # the SLURM tests start a real local cluster
bash launchers/build.sh
cd build && ctest --output-on-failure -j "$(nproc)" "$@"
