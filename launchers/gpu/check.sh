#!/usr/bin/env bash
# The one command a GPU session runs: builds auxgrid from this working tree
# against the GPU machine's pip PyTorch (LibTorch + CUDA) and NCCL, with Open
# MPI, HDF5, Boost, fmt, spdlog and toml++ from the Debian 12 bundle that
# launchers/gpu/bundle.sh fetched (the machine has no apt and no network), then
# runs the CPU test suites and the GPU checks (launchers/gpu/checks/*.sh).
#
#   bash launchers/gpu/check.sh [OUT_DIR]     default: $OUT, else ./gpu-check-out
#
# OUT_DIR receives at most 8 files: summary.txt (one line per stage: seconds
# and ok/FAILED/SKIPPED; test counts; torch, CUDA, GPU), prefix.log,
# build.log (configure and build), ctest.log and one <check>.log per check.
# Exits non-zero when a stage failed; the summary is always written.
#
# Environment: AUXGRID_GPU_BUNDLE (the .debs; <repo>/.gpu-bundle/debs),
# AUXGRID_GPU_PREFIX (where they are unpacked; /tmp/auxgrid-prefix),
# AUXGRID_GPU_BUILD (<repo>/build-gpu), AUXGRID_TORCH_PREFIX (LibTorch's cmake
# prefix when python3 has no torch), AUXGRID_GPU_CHECK_CUDA=0 (build and test
# without CUDA/NCCL even on a GPU machine), AUXGRID_GPU_JOBS (nproc).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${OUT:-$PWD/gpu-check-out}}
mkdir -p "$out" && out=$(cd "$out" && pwd)
bundle=${AUXGRID_GPU_BUNDLE:-$repo/.gpu-bundle/debs}
prefix=${AUXGRID_GPU_PREFIX:-/tmp/auxgrid-prefix}
build=${AUXGRID_GPU_BUILD:-$repo/build-gpu}
jobs=${AUXGRID_GPU_JOBS:-$(nproc)}
summary=$out/summary.txt
: > "$summary"
rm -f "$out"/{prefix,build,ctest}.log "$out"/[0-9]*.log  # logs of an earlier run
note() { echo "$*" | tee -a "$summary"; }
failed=0

# stage NAME LOG FUNCTION: runs FUNCTION in a fresh bash with errexit on, its
# output to LOG, and records its time and status. A fresh process, because in
# a function or subshell called from `if`, `&&` or `||` bash silently turns
# errexit off, and a failed command would not fail the stage.
stage() {
  local name=$1 log=$2 fn=$3 t0=$SECONDS rc
  echo "== stage $name (log: $(basename "$log"))"
  echo "== stage $name" >> "$log"
  set +e
  bash -euo pipefail -c "$(declare -f "$fn"); $fn" >> "$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    note "stage $name: $((SECONDS - t0)) s ok"
  else
    note "stage $name: $((SECONDS - t0)) s FAILED (exit $rc; see $(basename "$log"))"
    tail -n 30 "$log" | sed 's/^/  | /'
    failed=1
  fi
  return "$rc"
}
skip() { note "stage $1: 0 s SKIPPED ($2)"; }

# --- What the machine offers: LibTorch, CUDA, NCCL. -------------------------
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) ||
  torch_prefix=${AUXGRID_TORCH_PREFIX:-}
torch_version=$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null) || torch_version="no torch in python3"
cuda=0 cuda_why=""
if [ "${AUXGRID_GPU_CHECK_CUDA:-1}" = 0 ]; then
  cuda_why="AUXGRID_GPU_CHECK_CUDA=0"
elif ! command -v nvidia-smi >/dev/null; then
  cuda_why="no nvidia-smi"
elif ! python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  cuda_why="torch.cuda.is_available() is false"
else
  cuda=1
fi
gpu_name=none
[ "$cuda" = 1 ] && gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
# pip's nvidia-nccl-cu13: site-packages/nvidia/nccl/{include,lib} (a namespace package).
nccl_root=""
[ "$cuda" = 1 ] && nccl_root=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
# What the stages (separate bash processes) read.
export repo out bundle prefix build jobs cuda nccl_root torch_prefix
export multiarch=usr/lib/x86_64-linux-gnu
note "check: $(date -u +%FT%TZ) on $(hostname), $jobs jobs, repo $repo ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo no git))"
note "torch: $torch_version, cmake prefix: ${torch_prefix:-find_package default}"
note "cuda: $([ "$cuda" = 1 ] && echo "available, GPU: $gpu_name" || echo "not used ($cuda_why)")"
[ "$cuda" = 1 ] && note "nccl: ${nccl_root:-not found in python3 (nvidia-nccl-cu13)}"

# --- a. The bundle unpacked into a prefix that works where it lies. ---------
stage_prefix() {
  ls "$bundle"/*.deb >/dev/null || { echo "no .debs in $bundle: run launchers/gpu/bundle.sh"; exit 1; }
  # A prefix made from a different bundle is remade; the same one is reused.
  local stamp
  stamp=$(cd "$bundle" && ls -l ./*.deb | awk '{print $5, $9}' | md5sum | cut -c1-12)
  if [ "$(cat "$prefix/.bundle" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$prefix" && mkdir -p "$prefix"
    for deb in "$bundle"/*.deb; do dpkg -x "$deb" "$prefix"; done
    echo "$stamp" > "$prefix/.bundle"
  fi
  echo "prefix: $(ls "$bundle"/*.deb | wc -l) packages in $prefix ($(du -sm "$prefix" | cut -f1) MiB)"
  # update-alternatives would make these links at installation: mpirun,
  # mpicxx, ... -> *.openmpi (relative, so they work in the prefix).
  local f
  for f in "$prefix"/usr/bin/*.openmpi; do ln -sfn "$(basename "$f")" "${f%.openmpi}"; done
  # Links to absolute paths would leave the prefix: point them inside it.
  while IFS= read -r f; do
    local target
    target=$(readlink "$f")
    if [ -e "$prefix$target" ]; then ln -sfn "$prefix$target" "$f"; echo "relinked $f -> $prefix$target"
    else echo "dangling absolute link (left): $f -> $target"; fi
  done < <(find "$prefix" -type l -lname '/*')
  # Debian's Open MPI and PMIx are built for /usr with sysconfdir /etc: the
  # OPAL_* and PMIX_* variables move every directory they read into the
  # prefix, so neither touches (or mixes with) an Open MPI of the machine.
  cat > "$prefix/env.sh" <<ENV
# Made by launchers/gpu/check.sh: the Debian bundle in $prefix.
export AUXGRID_PREFIX=$prefix
export PATH=$prefix/usr/bin:\$PATH
export LD_LIBRARY_PATH=$prefix/$multiarch/openmpi/lib:$prefix/$multiarch:$prefix/$multiarch/hdf5/serial\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export OPAL_PREFIX=$prefix/usr
export OPAL_EXEC_PREFIX=$prefix/usr
export OPAL_BINDIR=$prefix/usr/bin
export OPAL_LIBDIR=$prefix/$multiarch/openmpi/lib
export OPAL_INCLUDEDIR=$prefix/$multiarch/openmpi/include
export OPAL_DATADIR=$prefix/usr/share
export OPAL_DATAROOTDIR=$prefix/usr/share
export OPAL_PKGDATADIR=$prefix/usr/share/openmpi
export OPAL_PKGLIBDIR=$prefix/$multiarch/openmpi/lib/openmpi3
export OPAL_SYSCONFDIR=$prefix/etc/openmpi
export PMIX_PREFIX=$prefix/$multiarch/pmix2
export PMIX_INSTALL_PREFIX=$prefix/$multiarch/pmix2
export PMIX_DATADIR=$prefix/$multiarch/pmix2/share
export PMIX_PKGDATADIR=$prefix/$multiarch/pmix2/share/pmix
export PMIX_SYSCONFDIR=$prefix/$multiarch/pmix2/share
export PMIX_LIBDIR=$prefix/$multiarch/pmix2/lib
export PMIX_PKGLIBDIR=$prefix/$multiarch/pmix2/lib/pmix
# Debian's pmix-mca-params.conf names /usr/lib/.../pmix2/lib/pmix (rewritten
# in the prefix too): this PMIx has its components built in, and must not
# load another PMIx's (a machine's PMIx 5) from /usr.
export PMIX_MCA_mca_base_component_path=$prefix/$multiarch/pmix2/lib/pmix
# Its zlib compression is one of those /usr components: quiet the warning.
export PMIX_MCA_pcompress_base_silence_warning=1
# mpirun opens its rsh launcher even on one node and stops when neither ssh
# nor rsh exists (as on the GPU image); ranks on this node never use it.
export OMPI_MCA_plm_rsh_agent=false
# Containers often forbid the cross-memory attach that vader would try first.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
ENV
  sed -i "s|^mca_base_component_path = /usr/|mca_base_component_path = $prefix/usr/|" "$prefix/$multiarch/pmix2/share/pmix-mca-params.conf"
  # shellcheck disable=SC1091
  source "$prefix/env.sh"
  # Open MPI's optional components whose libraries the bundle leaves out
  # (InfiniPath PSM, ...) are excluded by name: else every rank prints that it
  # cannot load them.
  local lib name unresolved
  local -A excluded=()
  echo "optional components with unresolved libraries (excluded in env.sh):"
  for lib in "$prefix/$multiarch"/openmpi/lib/openmpi3/mca_*.so; do
    unresolved=$(ldd "$lib" 2>/dev/null | awk '/not found/ {printf "%s ", $1}')
    [ -n "$unresolved" ] || continue
    echo "  $(basename "$lib"): $unresolved"
    name=$(basename "$lib" .so) && name=${name#mca_}  # FRAMEWORK_COMPONENT
    excluded[${name%%_*}]+="${excluded[${name%%_*}]:+,}${name#*_}"
  done
  if [ "${#excluded[@]}" -gt 0 ]; then
    echo "# Open MPI's components whose libraries the bundle leaves out." >> "$prefix/env.sh"
    for name in "${!excluded[@]}"; do echo "export OMPI_MCA_$name=^${excluded[$name]}" >> "$prefix/env.sh"; done
    # shellcheck disable=SC1091
    source "$prefix/env.sh"
  fi
  cat "$prefix/env.sh"
  # Every library the bundle's programs and libraries need must resolve
  # (ldd, with the prefix first); Fortran/Java bindings and Open MPI's optional
  # components may lack theirs.
  local missing=0
  for lib in "$prefix"/usr/bin/{orterun,orted,opal_wrapper,h5dump} "$prefix/$multiarch"/lib{mpi,mpi_cxx,open-pal,open-rte,pmix,hdf5_serial,hdf5_serial_cpp,boost_program_options,boost_unit_test_framework,fmt,spdlog}.so.*[0-9]; do
    [ -e "$lib" ] || { echo "MISSING: $lib"; missing=1; continue; }
    [ -L "$lib" ] && continue
    if ldd "$lib" | grep -q 'not found'; then echo "MISSING for $lib:"; ldd "$lib" | grep 'not found'; missing=1; fi
  done
  [ "$missing" = 0 ]
  # The prefix's libraries must come before any of the machine's (a Debian 13
  # root has Open MPI 5's libmpi.so.40 and PMIx 5's libpmix.so.2 in /usr).
  ldd "$prefix/$multiarch/libmpi_cxx.so.40" | grep -E 'lib(mpi|open-pal|open-rte|pmix|hwloc|event_core)\.' | tr -s ' \t' ' '
  if ldd "$prefix/$multiarch/libmpi_cxx.so.40" | grep -E 'lib(mpi|open-pal|open-rte|pmix)\.' | grep -v "=> $prefix/"; then
    echo "the libraries above resolve outside the prefix"; exit 1
  fi
  ompi_info --version | head -n 1
  mpicxx --showme
  mpirun --allow-run-as-root --oversubscribe -np 2 hostname
}
stage prefix "$out/prefix.log" stage_prefix || true  # recorded in the summary; later stages need it
prefix_ok=$([ -f "$prefix/env.sh" ] && [ "$failed" = 0 ] && echo 1 || echo 0)

# --- b. configure, c. build. --------------------------------------------------
stage_configure() {
  source "$prefix/env.sh"
  local args=(-S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_PREFIX_PATH=${torch_prefix:+$torch_prefix;}$prefix/usr"
    # MPI through the prefix's wrapper (OPAL_* from env.sh make it answer with
    # prefix paths), so FindMPI does not look for another Open MPI.
    "-DMPI_CXX_COMPILER=$prefix/usr/bin/mpicxx" "-DMPIEXEC_EXECUTABLE=$prefix/usr/bin/mpiexec"
    # HDF5 without h5cc (not bundled): FindHDF5 then searches HDF5_ROOT only;
    # Debian's lib/.../hdf5/serial holds libhdf5*.so and include/, lib/ links.
    "-DHDF5_ROOT=$prefix/$multiarch/hdf5/serial" -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON
    "-DBoost_ROOT=$prefix/usr" -DBoost_NO_SYSTEM_PATHS=ON)
  if [ "$cuda" = 1 ]; then
    # LibTorch's CMake files look for the CUDA toolkit (nvcc) and, without
    # TORCH_CUDA_ARCH_LIST, compile a probe for the GPU's architecture.
    command -v nvcc >/dev/null || [ ! -x /usr/local/cuda/bin/nvcc ] || export PATH=/usr/local/cuda/bin:$PATH
    local nvcc
    nvcc=$(command -v nvcc) || { echo "configure: no nvcc (CUDA toolkit) in PATH or /usr/local/cuda"; exit 1; }
    args+=("-DCUDAToolkit_ROOT=$(dirname "$(dirname "$(readlink -f "$nvcc")")")")
    if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
      TORCH_CUDA_ARCH_LIST=$(python3 -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability(0))')
      export TORCH_CUDA_ARCH_LIST
    fi
    echo "nvcc: $nvcc ($(nvcc --version | tail -n 1)), TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST"
    args+=(-DAUXGRID_WITH_CUDA=ON -DAUXGRID_WITH_NCCL=ON "-DNCCL_ROOT=$nccl_root")
  else
    args+=(-DAUXGRID_WITH_CUDA=OFF -DAUXGRID_WITH_NCCL=OFF)
  fi
  echo "cmake ${args[*]}"
  cmake "${args[@]}"
  grep -E '^(Torch_DIR|MPI_CXX_[A-Z_]*(LIB|INCLUDE|HEADER)[A-Z_]*|HDF5_(C|CXX)_(LIBRARY|INCLUDE_DIR)[A-Za-z_]*|Boost_DIR|fmt_DIR|spdlog_DIR|tomlplusplus_DIR|NCCL_[A-Z_]*|CUDAToolkit_[A-Z_]*DIR)[:=]' "$build/CMakeCache.txt"
  # These should all come from the prefix; a path in /usr is reported.
  if grep -E '^(MPI|HDF5|Boost|fmt|spdlog|tomlplusplus)[A-Za-z_]*:(FILEPATH|PATH|STRING)=' "$build/CMakeCache.txt" | grep -E '=/usr/' ; then
    echo "configure: WARNING: the lines above resolve outside the prefix"
  fi
}
stage_build() {
  source "$prefix/env.sh"
  cmake --build "$build" -j "$jobs"
}
built=0
if [ "$prefix_ok" != 1 ]; then
  skip configure "the prefix failed"; skip build "the prefix failed"
elif ! stage configure "$out/build.log" stage_configure; then
  skip build "configure failed"
elif stage build "$out/build.log" stage_build; then
  built=1
fi
if [ -z "$torch_prefix" ] && [ -f "$build/CMakeCache.txt" ]; then
  torch_dir=$(sed -n 's/^Torch_DIR:PATH=//p' "$build/CMakeCache.txt")
  v=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$torch_dir/TorchConfigVersion.cmake" 2>/dev/null | head -n 1)
  note "torch (LibTorch found by CMake): ${v:-unknown} in $torch_dir"
fi

# --- d. The CPU test suites. --------------------------------------------------
stage_ctest() {
  source "$prefix/env.sh"
  cd "$build"
  echo "the libraries auxgrid loads from outside the machine's LibTorch and C/C++ runtime:"
  ldd ./auxgrid | grep -E 'lib(mpi|open-pal|open-rte|pmix|hdf5|sz|curl|boost|fmt|spdlog|tomlplusplus)' | tr -s ' \t' ' '
  ctest --output-on-failure -j "$jobs" -E '^(nccl_build|e2e_slurm)$'
}
if [ "$built" = 1 ]; then
  stage ctest "$out/ctest.log" stage_ctest || true
  counts=$(grep -E 'tests passed, [0-9]+ tests failed out of' "$out/ctest.log" | tail -n 1)
  note "tests: ${counts:-no ctest result line}"
  grep -E '^\s+[0-9]+ - .* \((Failed|Timeout|Not Run|SEGFAULT|Subprocess aborted|Exception)' "$out/ctest.log" | sed 's/^ */  failed: /' | tee -a "$summary" || true  # listing only
else
  skip ctest "no build"
fi

# --- e. The GPU checks. ---------------------------------------------------------
checks=()
for c in "$repo"/launchers/gpu/checks/*.sh; do [ -x "$c" ] && checks+=("$c"); done
if [ "$cuda" != 1 ]; then
  echo "SKIP: no CUDA device ($cuda_why): GPU checks not run" | tee -a "$summary"
  for c in "${checks[@]}"; do skip "check $(basename "$c" .sh)" "no CUDA device"; done
elif [ "$built" != 1 ]; then
  for c in "${checks[@]}"; do skip "check $(basename "$c" .sh)" "no build"; done
else
  for c in "${checks[@]}"; do
    name=$(basename "$c" .sh)
    eval "run_$name() { source '$prefix/env.sh'; '$c' '$build' '$out'; }"  # a function, for stage
    stage "check $name" "$out/$name.log" "run_$name" || true
  done
fi

note "result: $([ "$failed" = 0 ] && echo ok || echo FAILED)"
exit "$failed"
