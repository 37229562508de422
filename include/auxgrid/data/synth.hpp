#pragma once
// Seeded synthetic corpora that mimic the study's feature shapes and plant
// what the paper studies (see docs in the README, "Synthetic corpora").
#include <cstdint>
#include <string>
#include <vector>

#include "auxgrid/store/corpus_file.hpp"

namespace auxgrid::data {

struct SynthOptions {
  std::string name = "tiny";
  std::vector<std::string> class_names = {"anger", "sadness", "happiness", "neutral"};
  int speakers = 10;
  int utterances_per_speaker = 32;
  std::int64_t audio_dim = 130;
  std::int64_t video_dim = 64;
  double audio_hop_ms = 16.0;
  double video_fps = 30.0;
  int min_audio_frames = 24, max_audio_frames = 64;
  // Emotion shows in a segment covering this share of the utterance.
  double segment_fraction = 0.5;
  // Class signal per frame inside the segment, in units of the noise sd;
  // each class gets a per-modality factor in [1 - spread, 1] so that classes
  // differ in which modality reveals them best.
  double audio_signal = 0.35, video_signal = 0.35, modality_spread = 0.5;
  // Constant per-speaker offset (sd, in noise units): speaker-independent
  // splits must generalise across it.
  double speaker_offset = 0.5;
  // Video leads audio by this many milliseconds on average (+- jitter).
  double video_lead_ms = 120.0, video_lead_jitter_ms = 60.0;
};

SynthOptions synth_preset(const std::string& preset);  // "tiny"; throws listing the presets
std::vector<std::string> synth_presets();

// Same options and seed -> same corpus (and, written, the same bytes).
store::CorpusData synthesize(const SynthOptions& options, std::uint64_t seed);

}  // namespace auxgrid::data
