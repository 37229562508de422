#!/usr/bin/env bash
# Formats auxgrid's C++ with clang-format (the style is .clang-format at the
# root). --check lists the files that differ and exits 1 instead.
#   tools/format.sh [--check]        (apt-get install clang-format)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format.sh: no clang-format (apt-get install clang-format)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' ':!:tests/data/*')
if [ "${1:-}" = --check ]; then
  differ=0
  for f in "${files[@]}"; do
    clang-format --style=file "$f" | cmp -s "$f" - || { echo "$f"; differ=1; }
  done
  exit "$differ"
fi
clang-format --style=file -i "${files[@]}"
