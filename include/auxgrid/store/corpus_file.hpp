#pragma once
// The corpus file: one HDF5 file holding ragged per-utterance features.
//
//   /                    attrs: format_version, name, audio_dim, video_dim,
//                               audio_hop_ms, video_fps, num_classes,
//                               class_names (string array), description,
//                               video_dtype ("float32" | "float16")
//   /audio/features      float32 [total_audio_frames, audio_dim]
//   /audio/offsets       int64   [N + 1]  utterance i = rows offsets[i]..offsets[i+1]
//   /video/features      float32 or IEEE float16 (video_dtype)
//                                [total_video_frames, video_dim]
//   /video/offsets       int64   [N + 1]
//   /utterances/id       string  [N]
//   /utterances/speaker  string  [N]
//   /utterances/label    int32   [N]  index into class_names
//
// The feature matrices are chunked (at most 4 MiB a chunk) with an unlimited
// first dimension: CorpusWriter (corpus_writer.hpp) appends to them.
// Version 2 added video_dtype; version 1 files (always float32, no
// video_dtype) still read. Readers always return float32.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace auxgrid::store {

inline constexpr int kCorpusFormatVersion = 2;

// Everything but the features: cheap to read, enough to validate a grid.
struct CorpusInfo {
  std::string path;
  std::string name;
  std::string description;
  std::int64_t audio_dim = 0, video_dim = 0;
  double audio_hop_ms = 0, video_fps = 0;
  std::vector<std::string> class_names;
  std::int64_t num_utterances = 0;
  std::int64_t audio_frames = 0, video_frames = 0;  // totals
  // How /video/features is stored: "float32", or "float16" (half the size of
  // 4,096-wide video; about 3 significant digits, ample for features).
  std::string video_dtype = "float32";
};

struct CorpusData {
  CorpusInfo info;
  std::vector<float> audio;                 // [audio_frames * audio_dim]
  std::vector<std::int64_t> audio_offsets;  // [N + 1]
  std::vector<float> video;                 // [video_frames * video_dim]
  std::vector<std::int64_t> video_offsets;  // [N + 1]
  std::vector<std::string> utterance_ids;   // [N]
  std::vector<std::string> speakers;        // [N]
  std::vector<std::int32_t> labels;         // [N]
};

// A corpus without its feature matrices: what summaries and split planning
// need, read without touching the (gigabytes of) features.
struct CorpusIndex {
  CorpusInfo info;
  std::vector<std::int64_t> audio_offsets, video_offsets;  // [N + 1]
  std::vector<std::string> utterance_ids, speakers;        // [N]
  std::vector<std::int32_t> labels;                        // [N]
};

// Checks the structure (offsets monotone and matching the feature rows,
// sizes consistent, including the totals in `info`, labels in range, utterance
// ids unique, a known video_dtype) and every feature value (usable_feature),
// and throws naming `where`, the field and the first few utterances.
void validate_corpus(const CorpusData& corpus, const std::string& where);

// The largest feature magnitude a corpus may hold. Real features (OpenSMILE
// descriptors, CNN activations) stay many orders below it; a value above it is
// a corruption or an unconverted sentinel (3e38 for "missing"), and would
// overflow float32 in the training speakers' sums of squares (normalisation)
// or in the first linear layer.
inline constexpr double kMaxFeatureMagnitude = 1e30;
// True for a value a corpus may hold: finite and |x| <= kMaxFeatureMagnitude.
inline bool usable_feature(float x) { return x <= kMaxFeatureMagnitude && x >= -kMaxFeatureMagnitude; }

// The contents of a corpus file, checked once before anything trains (the
// plan): the structure as read_corpus_index checks it, then every feature
// value (usable_feature), labels in [0, num_classes), unique utterance ids and
// every class held by at least one utterance. Throws one error naming the
// file, each kind of problem and its first few utterances by id. Reads the
// features once, a few MiB at a time: memory stays at the index's size.
// Returns the index, which the plan needs for the splits.
CorpusIndex validate_corpus_file(const std::string& path);

// Writes atomically (temporary file, then rename) through CorpusWriter,
// storing the video as info.video_dtype says. The bytes depend only on the
// data (no timestamps), so the same corpus gives the same file.
void write_corpus(const std::string& path, const CorpusData& corpus);

// Throws auxgrid::Error naming the file and the dataset/attribute on a
// missing, unreadable or malformed file.
CorpusInfo read_corpus_info(const std::string& path);
CorpusIndex read_corpus_index(const std::string& path);
CorpusData read_corpus(const std::string& path);

// IEEE 754 half precision, as /video/features stores it for "float16":
// round to nearest even, overflow to infinity, subnormals kept.
std::uint16_t float_to_half(float value);
float half_to_float(std::uint16_t bits);
// Rounds values in place to what they read back as after a float16 store.
void round_to_half(float* values, std::size_t n);

}  // namespace auxgrid::store
