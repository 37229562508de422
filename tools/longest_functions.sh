#!/usr/bin/env bash
# Lists the longest function definitions (lines from signature to closing
# brace) in auxgrid's C++ sources: the ones defined at namespace level, as the
# code is laid out (namespaces not indented, a function's closing brace in
# column 0). Usage: tools/longest_functions.sh [N=15] [DIR...]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-15}; shift || true
dirs=("$@"); [ "${#dirs[@]}" -gt 0 ] || dirs=(src include launchers analysis)
find "${dirs[@]}" -name '*.cpp' -o -name '*.hpp' | sort | xargs awk '
  FNR == 1 { sig = ""; start = 0; inbody = 0 }
  inbody { if ($0 ~ /^}/) { printf "%5d  %s:%d  %s\n", FNR - start + 1, FILENAME, start, name; inbody = 0 } ; next }
  /^(namespace|struct|class|enum|union|using|template|extern|#|}|\/\/|static_assert|typedef)/ { sig = ""; next }
  /^[A-Za-z_]/ { sig = $0; start = FNR }
  sig != "" && $0 !~ /^[A-Za-z_]/ { sig = sig " " $0 }
  sig != "" && /;[[:space:]]*$/ && sig !~ /\{/ { sig = ""; next }
  sig != "" && /\{[[:space:]]*$/ {
    s = sig; sub(/\(.*/, "", s); k = split(s, w, /[ *&]+/); name = w[k]
    if (sig ~ /=[[:space:]]*\[/ || sig ~ /^(const|constexpr|inline)? *[A-Za-z_:<>]+ +[A-Za-z_]+ *= /) { sig = ""; next }
    if ($0 ~ /^}/) next
    inbody = 1; sig = ""
  }
' | sort -rn | head -n "$n"
