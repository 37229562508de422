#pragma once
// The corpus file: one HDF5 file holding ragged per-utterance features.
//
//   /                    attrs: format_version, name, audio_dim, video_dim,
//                               audio_hop_ms, video_fps, num_classes,
//                               class_names (string array), description
//   /audio/features      float32 [total_audio_frames, audio_dim]
//   /audio/offsets       int64   [N + 1]  utterance i = rows offsets[i]..offsets[i+1]
//   /video/features      float32 [total_video_frames, video_dim]
//   /video/offsets       int64   [N + 1]
//   /utterances/id       string  [N]
//   /utterances/speaker  string  [N]
//   /utterances/label    int32   [N]  index into class_names
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace auxgrid::store {

inline constexpr int kCorpusFormatVersion = 1;

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
};

struct CorpusData {
  CorpusInfo info;
  std::vector<float> audio;                  // [audio_frames * audio_dim]
  std::vector<std::int64_t> audio_offsets;   // [N + 1]
  std::vector<float> video;                  // [video_frames * video_dim]
  std::vector<std::int64_t> video_offsets;   // [N + 1]
  std::vector<std::string> utterance_ids;    // [N]
  std::vector<std::string> speakers;         // [N]
  std::vector<std::int32_t> labels;          // [N]
};

// Checks the structure (offsets monotone and matching the feature rows,
// sizes consistent, including the totals in `info`, labels in range, utterance
// ids unique) and throws naming `where` and the field.
void validate_corpus(const CorpusData& corpus, const std::string& where);

// Writes atomically (temporary file, then rename). The bytes depend only on
// the data (no timestamps), so the same corpus gives the same file.
void write_corpus(const std::string& path, const CorpusData& corpus);

// Throws auxgrid::Error naming the file and the dataset/attribute on a
// missing, unreadable or malformed file.
CorpusInfo read_corpus_info(const std::string& path);
CorpusData read_corpus(const std::string& path);

}  // namespace auxgrid::store
