#!/usr/bin/env bash
# Rehearses launchers/gpu/check.sh on a CPU machine, in a clean Debian 13
# root (tests/chroot.sh) that holds only what the GPU image holds: a LibTorch
# (Debian's libtorch-dev 2.6 for pip's 2.11, with OpenBLAS for its MKL),
# cmake, g++, ninja, make, python3 -- and none of the MPI/HDF5/Boost/fmt/
# spdlog/toml++ development packages, so the bundle (launchers/gpu/bundle.sh)
# is their only source.
# Python there has no torch: check.sh finds LibTorch with find_package's
# defaults, sees no CUDA and builds without CUDA/NCCL.
#   bash launchers/gpu/rehearse.sh        root, build and results in build-rehearsal/
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tests/chroot.sh"
bash "$repo/launchers/gpu/bundle.sh"

root=$repo/build-rehearsal/root
# Debian's LibTorch takes the system's BLAS, which without OpenBLAS is the
# reference BLAS (the rehearsal's cells ran 3 times slower on it); OpenBLAS's
# OpenMP build follows --threads (its pthread build starts a pool per rank).
make_root "$root" trixie libtorch-dev libopenblas0-openmp cmake g++ make ninja-build python3

in_root "$root" "$repo" /bin/bash -euo pipefail -c '
  cd /auxgrid
  echo "rehearsal: $(dpkg-query -W -f="libtorch-dev \${Version}" libtorch-dev), $(g++ --version | head -n 1), $(cmake --version | head -n 1)"
  # The bundle must be the only source of these: none may be installed here.
  present=$(dpkg-query -W -f="\${db:Status-Abbrev} \${Package}\n" 2>/dev/null | awk "\$1 == \"ii\" {print \$2}" |
    grep -E "^(libopenmpi-dev|openmpi-bin|libhdf5-dev|hdf5-tools|hdf5-helpers|libboost.*-dev|libfmt-dev|libspdlog-dev|libtomlplusplus-dev|libhdf5-.*|libboost.*|libspdlog.*|libtomlplusplus.*)$" || true)
  if [ -n "$present" ]; then echo "rehearsal: installed in the root, which the GPU image lacks:"; echo "$present"; exit 1; fi
  # libtorch2.6 brings runtimes of its own (other sonames, except libmpi.so.40
  # and libpmix.so.2, which the prefix puts first on LD_LIBRARY_PATH).
  echo "rehearsal: none of the MPI/HDF5/Boost/fmt/spdlog/toml++ development packages; runtimes from libtorch-dev: $(dpkg-query -W -f="\${Package} \${Version}, " libopenmpi40 libpmix2t64 libhwloc15 libfmt10 2>/dev/null)"
  export AUXGRID_GPU_BUILD=/auxgrid/build-rehearsal/build AUXGRID_GPU_JOBS=${AUXGRID_GPU_JOBS:-2}
  rc=0
  bash launchers/gpu/check.sh /auxgrid/build-rehearsal/out || rc=$?
  # The GPU check itself: its skip without a GPU, then its steps on the CPU.
  if [ -x "$AUXGRID_GPU_BUILD/auxgrid" ]; then
    source /tmp/auxgrid-prefix/env.sh
    launchers/gpu/checks/10_cuda_smoke.sh "$AUXGRID_GPU_BUILD" build-rehearsal/out | tail -n 1
    AUXGRID_GPU_CHECK_DEVICE=cpu launchers/gpu/checks/10_cuda_smoke.sh "$AUXGRID_GPU_BUILD" build-rehearsal/out \
      > build-rehearsal/out/10_cuda_smoke.cpu.log 2>&1 || { rc=1; echo "rehearsal: 10_cuda_smoke on the CPU FAILED"; }
    tail -n 1 build-rehearsal/out/10_cuda_smoke.cpu.log
    AUXGRID_GPU_CHECK_DEVICE=cpu launchers/gpu/checks/20_gpu_protocol.sh "$AUXGRID_GPU_BUILD" build-rehearsal/out \
      > build-rehearsal/out/20_gpu_protocol.cpu.log 2>&1 || { rc=1; echo "rehearsal: 20_gpu_protocol on the CPU FAILED"; }
    grep -E "^result:|ok \(" build-rehearsal/out/20_gpu_protocol.cpu.log
  fi
  echo "== build-rehearsal/out/summary.txt"; cat build-rehearsal/out/summary.txt
  exit $rc
'
