#!/usr/bin/env bash
# The test command: set-up, build, then every Boost.Test suite and end-to-end test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launchers/setup.sh --for-tests  # a real local SLURM cluster and a headless browser for the tests
bash launchers/build.sh
cd build && ctest --output-on-failure -j "$(nproc)" "$@"
