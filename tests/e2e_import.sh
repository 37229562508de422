#!/usr/bin/env bash
# auxgrid import through the real executable: CREMA-D-named OpenSMILE CSVs
# and float16 .npy files made here with awk and printf (no Python), imported,
# inspected and trained on for one epoch; then bad clips through the CLI.
# Usage: tests/e2e_import.sh BUILD_DIR
source "$(dirname "$0")/e2e_common.sh" "$1"

# lld_csv FILE FRAMES SEED: an OpenSMILE -lldcsvoutput file, 130 features.
lld_csv() {
  awk -v frames="$2" -v seed="$3" 'BEGIN {
    srand(seed)
    printf "name;frameTime"
    for (f = 0; f < 130; f++) printf ";lld%d_sma", f
    printf "\n"
    for (t = 0; t < frames; t++) {
      printf "\047unknown\047;%.6f", t * 0.016
      for (f = 0; f < 130; f++) printf ";%.6e", rand() * 2 - 1
      printf "\n"
    }
  }' > "$1"
}

# npy FILE FRAMES SEED: a NumPy 1.0 file, '<f2', shape (FRAMES, 16). Each
# value is +-(1 + k/1024): float16 bits 0x3c00 | k, or 0xbc00 | k.
npy() {
  local header="{'descr': '<f2', 'fortran_order': False, 'shape': ($2, 16), }"
  while [ $(( (10 + ${#header} + 1) % 64 )) -ne 0 ]; do header+=" "; done
  header+=$'\n'
  {
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x ${#header})\\x00"
    printf '%s' "$header"
    printf '%b' "$(awk -v n=$(( $2 * 16 )) -v seed="$3" 'BEGIN {
      srand(seed)
      for (i = 0; i < n; i++) {
        k = int(rand() * 1024)
        printf "\\x%02x\\x%02x", k % 256, (rand() < 0.5 ? 60 : 188) + int(k / 256)
      }
    }')"
  } > "$1"
}

# 6 actors x 8 clips, every emotion 8 times; ~0.5-0.8 s per clip.
mkdir audio video
emotions=(ANG DIS FEA HAP SAD NEU)
sentences=(DFA IEO IOM ITH ITS IWL IWW MTI)
seed=1
for actor in 1 2 3 4 5 6; do
  for j in 0 1 2 3 4 5 6 7; do
    clip="100${actor}_${sentences[j]}_${emotions[(actor + j) % 6]}_XX"
    frames=$(( 30 + (actor * 7 + j * 3) % 20 ))
    lld_csv "audio/$clip.csv" "$frames" "$seed"
    npy "video/$clip.npy" $(( frames / 2 )) "$seed"
    seed=$(( seed + 1 ))
  done
done

"$build/auxgrid" import --audio-dir audio --video-dir video --crema-d-names --out crema.h5 > import.txt ||
  fail "import of good clips"
grep -q "48 utterances, 6 speakers, audio .* x 130, video .* x 16" import.txt ||
  { cat import.txt; fail "import summary"; }
"$build/auxgrid" corpus-info crema.h5 > info.txt
for expected in "corpus 'crema'" "utterances 48, speakers 6" "audio: 130 features, hop 16 ms" \
  "video: 16 features, 29.97 fps" "anger 8, disgust 8, fear 8, happiness 8, sadness 8, neutral 8"; do
  grep -qF "$expected" info.txt || { cat info.txt; fail "corpus-info: '$expected' missing"; }
done
echo "ok: import and corpus-info"

cat > grid.toml <<TOML
[settings]
data.corpus = "crema.h5"
model.width = 8
model.heads = 2
model.layers = 1
train.epochs = 1
[axes]
seed = [0]
TOML
"$build/auxgrid" run grid.toml --out res -q
[ "$(ls res/cells/*.h5 | wc -l)" -eq 1 ] || fail "no result file after training on the imported corpus"
echo "ok: trained on the imported corpus"

# A clip without video: an error naming it, and no corpus written.
missing=1003_ITH_ANG_XX
[ -e "video/$missing.npy" ] || fail "test setup: no video/$missing.npy"
rm "video/$missing.npy"
if "$build/auxgrid" import --audio-dir audio --video-dir video --crema-d-names --out bad.h5 > out.txt 2> err.txt; then
  fail "missing video: exited 0"
fi
grep -qF "clip '$missing': missing video" err.txt || { cat err.txt; fail "missing video: clip not named"; }
[ ! -e bad.h5 ] || fail "missing video: a corpus was written"
echo "ok: missing video fails naming the clip"

# A NaN in another clip's audio: named with the frame.
nan_clip=1005_DFA_NEU_XX
sed -i '4s/;[^;]*$/;nan/' "audio/$nan_clip.csv"
"$build/auxgrid" import --audio-dir audio --video-dir video --crema-d-names --out bad.h5 > out.txt 2> err.txt &&
  fail "NaN: exited 0"
grep -qF "clip '$missing'" err.txt || { cat err.txt; fail "NaN: the first bad clip (in name order) not reported"; }

# --skip-bad: both listed, the other 46 written.
"$build/auxgrid" import --audio-dir audio --video-dir video --crema-d-names --skip-bad --out skipped.h5 \
  > out.txt 2> err.txt || { cat err.txt; fail "--skip-bad: non-zero exit"; }
grep -qF "skipped 2 bad clip(s)" err.txt || { cat err.txt; fail "--skip-bad: no list"; }
grep -qF "clip '$missing': missing video" err.txt || { cat err.txt; fail "--skip-bad: $missing not listed"; }
grep -qF "clip '$nan_clip': audio" err.txt && grep -qF "NaN in audio frame 2 (0-based), feature 'lld129_sma'" err.txt ||
  { cat err.txt; fail "--skip-bad: $nan_clip not listed with its frame"; }
grep -q "46 utterances" out.txt || { cat out.txt; fail "--skip-bad: wrong number of clips written"; }
"$build/auxgrid" corpus-info skipped.h5 | grep -q "utterances 46" || fail "--skip-bad: corpus-info"
echo "ok: --skip-bad lists the bad clips and writes the rest"

# Nothing left: an error, even with --skip-bad.
mkdir empty_video
npy empty_video/unrelated.npy 3 1
if "$build/auxgrid" import --audio-dir audio --video-dir empty_video --crema-d-names --skip-bad --out none.h5 \
  > out.txt 2> err.txt; then fail "no clip left: exited 0"; fi
grep -qF "no clip left" err.txt || { cat err.txt; fail "no clip left: message"; }
echo "e2e_import: ok"
