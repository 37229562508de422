#!/usr/bin/env bash
# Installs the Debian packages auxgrid needs (as root), or prints the command.
# Usage: bash launchers/setup.sh [--for-tests]
set -euo pipefail

packages=(cmake g++ make ccache libtorch-dev libopenmpi-dev openmpi-bin libhdf5-dev
  libboost-program-options-dev libboost-test-dev libboost-dev
  libfmt-dev libtomlplusplus-dev libspdlog-dev libgloo-dev hdf5-tools
  # auxgrid-analyze draws the figures with gnuplot (skipped with a message without it).
  gnuplot-nox
  # LibTorch's speed depends on the BLAS: the OpenMP OpenBLAS is ~15x faster than
  # the reference BLAS that a --no-install-recommends install would leave.
  libopenblas0-openmp
  # oneDNN's headers, for the linear layers (LibTorch already links the library).
  libdnnl-dev)
# Only with --for-tests: a local SLURM for tests/e2e_slurm.sh, a headless
# browser for tests/e2e_report.sh (both skip that part without them), and
# PyTorch for Python (the same 1.13), with which tests/e2e_torchscript.sh
# scripts the example model (else it uses a checked-in copy), and pandas, with
# which tests/e2e_mixed_runs.sh reads the export back; no run needs them.
test_packages=(slurm-wlm munge chromium python3-torch python3-pandas)

case "${1:-}" in
  --for-tests) packages+=("${test_packages[@]}") ;;
  "") ;;
  *) echo "usage: bash launchers/setup.sh [--for-tests]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages; run as root:" >&2
  echo "  apt-get update && DEBIAN_FRONTEND=noninteractive $cmd" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive $cmd >/dev/null
echo "setup: done"
