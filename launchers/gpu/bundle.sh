#!/usr/bin/env bash
# Fetches the Debian 12 (bookworm) packages that a GPU machine lacks to build
# and run auxgrid: Open MPI, HDF5 (C and C++), Boost (program_options,
# unit_test_framework and the headers), fmt, spdlog, toml++ and the
# shared libraries they load. The GPU machine brings LibTorch (pip torch),
# CUDA, NCCL, CMake, ninja, g++ and python3, and has no apt and no network, so
# launchers/gpu/check.sh unpacks these .debs into a prefix there.
#
#   bash launchers/gpu/bundle.sh [DIR]    DIR: default <repo>/.gpu-bundle/debs (git-ignored)
#
# The list is computed: the SEEDS below plus their Depends/Pre-Depends,
# followed recursively (first alternative of each "a | b"; a virtual package's
# first provider), minus EXCLUDE, which is neither fetched nor followed.
# Re-running reuses the .debs already in DIR and removes ones no longer listed.
# Run on Debian 12 (amd64) with its apt sources; apt-get update first if the
# lists are missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$repo/.gpu-bundle/debs}
mkdir -p "$dir"

# What auxgrid finds with find_package (CMakeLists.txt, tests/CMakeLists.txt)
# and what its tests run (mpirun; h5dump for tests/e2e_data_parallel.sh).
SEEDS=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common
  libhdf5-dev libhdf5-103-1 libhdf5-cpp-103-1 hdf5-tools
  libboost1.74-dev
  libboost-program-options1.74-dev libboost-program-options1.74.0
  libboost-test1.74-dev libboost-test1.74.0
  libfmt-dev libfmt9 libspdlog-dev libspdlog1.10 libtomlplusplus-dev
)

EXCLUDE=(
  # In every Debian/Ubuntu base image, or brought by what the GPU image has
  # (python3 3.12: libssl3, libffi, libexpat, sqlite; apt: gnutls and its
  # libraries; g++: libgomp1, libatomic1, libquadmath0).
  libc6 libgcc-s1 libstdc++6 zlib1g libzstd1 liblzma5 libbz2-1.0 liblz4-1
  libssl3 libcrypt1 libselinux1 libpcre2-8-0 libudev1 libsystemd0 libcap2
  libgmp10 libffi8 libexpat1 libtinfo6 libncursesw6 libuuid1 libsqlite3-0
  libgomp1 libatomic1 libquadmath0 libgnutls30 libnettle8 libhogweed6
  libidn2-0 libtasn1-6 libp11-kit0 libkeyutils1 libcom-err2
  libdb5.3 libgcrypt20 libgpg-error0 libmd0 libacl1 libattr1 libreadline8
  debconf cdebconf debconf-2.0 dpkg perl-base perl libperl5.36 adduser
  lsb-base sensible-utils init-system-helpers
  # The compilers and the C++ standard library headers: the image's g++ has them.
  gcc gcc-12 g++ g++-12 cpp cpp-12 libstdc++-12-dev libgcc-12-dev libc6-dev libc-dev
  # Fortran and Java bindings, which auxgrid does not use.
  gfortran gfortran-12 gfortran-mod-15 libgfortran5 libgfortran-12-dev
  libhdf5-fortran-102 libhdf5-hl-fortran-100 default-jre-headless java-runtime-headless
  # Headers of the libraries underneath MPI and HDF5: auxgrid includes only
  # mpi.h and H5Cpp.h, and links libmpi, libhdf5 and libhdf5_cpp, whose own
  # dependencies are resolved by the runtime linker from the .so files.
  libibverbs-dev libhwloc-dev libevent-dev libpmix-dev libnuma-dev libltdl-dev
  zlib1g-dev libjpeg-dev libjpeg62-turbo-dev libaec-dev libcurl4-openssl-dev libcurl-dev libssl-dev
  libjs-jquery libjs-jquery-ui
  # h5cc/h5c++: their -show lists libhdf5.a and -lcrypto -lcurl -lz, which
  # FindHDF5 would then want as .so development links; without them FindHDF5
  # searches HDF5_ROOT for libhdf5.so and libhdf5_cpp.so.
  hdf5-helpers
  # mpirun on one node starts its ranks itself, with no remote shell.
  openssh-client rsh-client rsh-redone-client ssh-client
  # hwloc's optional plugins (PCI, OpenCL, NVML, X11, libxml2 export): hwloc and
  # Open MPI work without them, and they would bring libxml2, ICU and X11 (12 MiB).
  libhwloc-plugins
  # A test framework that libtomlplusplus-dev lists; auxgrid does not use it.
  catch2
)

declare -A excluded=() seen=()
for p in "${EXCLUDE[@]}"; do excluded[$p]=1; done

# The chosen dependency of each group of `apt-cache depends PKG...`, one a line
# (one apt-cache call per level of the walk: each call costs about a second).
deps_of() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" | awk '
    function flush() { if (choice != "") print choice; choice = ""; open = 0 }
    /^[^ ]/ { flush(); next }
    /^ +[|]?(Depends|PreDepends): / {
      if (!open) { flush(); choice = $2 }
      last = $2; open = ($1 ~ /^[|]/)
      next
    }
    /^    [^ ]/ { if (last == choice && choice ~ /^</ && choice !~ /=/) choice = choice "=" $1; next }
    END { flush() }'
}

level=("${SEEDS[@]}")
while [ "${#level[@]}" -gt 0 ]; do
  next=()
  for p in "${level[@]}"; do
    p=${p%%:*}
    case $p in
      \<*=*) v=${p%%=*}; v=${v#<}; v=${v%>}; [ -n "${excluded[$v]:-}" ] && continue; p=${p#*=} ;;
      \<*) continue ;;  # a virtual package nothing provides
    esac
    [ -n "${excluded[$p]:-}" ] && continue
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    next+=("$p")
  done
  level=()
  [ "${#next[@]}" -gt 0 ] && mapfile -t level < <(deps_of "${next[@]}" | sort -u)
done
mapfile -t packages < <(printf '%s\n' "${!seen[@]}" | sort)

# The candidate .debs' file names (PKG_VERSION_ARCH.deb, ':' as %3a; asked from
# an empty folder, as apt leaves out files already in the current one), then
# download the ones not here yet.
empty=$(mktemp -d)
mapfile -t want < <(cd "$empty" && apt-get download --print-uris "${packages[@]}" | awk '{print $2}' | sort)
rmdir "$empty"
[ "${#want[@]}" -eq "${#packages[@]}" ] || { echo "bundle: ${#packages[@]} packages but ${#want[@]} files" >&2; exit 1; }
cd "$dir"
missing=()
for f in "${want[@]}"; do [ -f "$f" ] || missing+=("${f%%_*}"); done
[ "${#missing[@]}" -eq 0 ] || apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null
for f in "${want[@]}"; do [ -f "$f" ] || { echo "bundle: $f missing after apt-get download" >&2; exit 1; }; done
# Drop .debs of an earlier list.
for f in *.deb; do
  printf '%s\n' "${want[@]}" | grep -qxF "$f" || { echo "bundle: removing stale $f"; rm -f "$f"; }
done

total=0
for f in "${want[@]}"; do
  s=$(stat -c %s "$f"); total=$((total + s))
  printf '%8d KiB  %s\n' $((s / 1024)) "$f"
done
echo "bundle: ${#want[@]} packages, $((total / 1048576)) MiB ($total bytes) in $dir"
limit=$((40 * 1048576))
[ "$total" -le "$limit" ] || { echo "bundle: over 40 MiB" >&2; exit 1; }
