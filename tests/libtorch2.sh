#!/usr/bin/env bash
# auxgrid against LibTorch 2.x: builds it in a Debian 13 root (tests/chroot.sh)
# against Debian 13's libtorch-dev 2.6 (CPU), then runs the test suites there:
# every Boost.Test suite and the end-to-end tests (not the NCCL build, which
# needs the CUDA toolkit, nor SLURM, which the root does not start).
# Called by .ci/run; by hand: bash tests/libtorch2.sh [ctest arguments].
# The root and the build live in build-libtorch2/ and are reused.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tests/chroot.sh"

# libopenblas0-openmp: LibTorch's matrix products go through the system's
# BLAS, and without it that is the reference BLAS. The OpenMP build, as on
# Debian 12, follows --threads; the pthread one starts a pool per rank.
packages=(libtorch-dev libopenblas0-openmp cmake g++ make ninja-build ccache git libdnnl-dev
  libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools
  libboost-program-options-dev libboost-test-dev libboost-dev
  libfmt-dev libspdlog-dev libtomlplusplus-dev)
root=$repo/build-libtorch2/root
make_root "$root" trixie "${packages[@]}"

# Inside: the repository is /auxgrid; the build and ccache go to build-libtorch2/.
in_root "$root" "$repo" /bin/bash -euo pipefail -c '
  cd /auxgrid
  export CCACHE_DIR=/auxgrid/build-libtorch2/ccache
  build=build-libtorch2/build
  jobs=$(nproc)
  mem_gb=$(awk "/MemAvailable/ {print int(\$2 / 1048576)}" /proc/meminfo)
  [ "$mem_gb" -lt "$jobs" ] && jobs=$((mem_gb > 0 ? mem_gb : 1))
  echo "libtorch2: $(dpkg-query -W -f="libtorch-dev \${Version}" libtorch-dev), $(g++ --version | head -n 1), $jobs jobs"
  cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release >$build.configure.log 2>&1 || { cat $build.configure.log; exit 1; }
  grep -E "auxgrid:|Torch" $build.configure.log || true
  cmake --build $build -j "$jobs"
  cd $build && ctest --output-on-failure -j "$jobs" -E "^(nccl_build|e2e_slurm)$" "$@"
' libtorch2 "$@"
