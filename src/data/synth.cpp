#include "auxgrid/data/synth.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "auxgrid/core/check.hpp"

namespace auxgrid::data {

namespace {

// Portable draws (std::*_distribution differ between standard libraries).
struct Rng {
  std::mt19937_64 engine;
  explicit Rng(std::uint64_t seed) : engine(seed) {}
  double uniform() { return (engine() >> 11) * (1.0 / 9007199254740992.0); }
  int integer(int lo, int hi) { return lo + static_cast<int>(engine() % static_cast<std::uint64_t>(hi - lo + 1)); }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

std::vector<float> gaussian_vectors(Rng& rng, std::size_t count, std::int64_t dim, double scale) {
  std::vector<float> out(count * dim);
  for (auto& x : out) x = static_cast<float>(scale * rng.normal());
  return out;
}

// Frames of one modality: noise + speaker offset + class signal inside [begin, end).
void emit_frames(Rng& rng, std::vector<float>& features, std::int64_t dim, int frames, const float* speaker,
                 const float* prototype, double signal, int begin, int end) {
  for (int t = 0; t < frames; ++t) {
    const bool expressive = t >= begin && t < end;
    for (std::int64_t k = 0; k < dim; ++k)
      features.push_back(static_cast<float>(rng.normal() + speaker[k] + (expressive ? signal * prototype[k] : 0.0)));
  }
}

}  // namespace

std::vector<std::string> synth_presets() { return {"tiny"}; }

SynthOptions synth_preset(const std::string& preset) {
  if (preset == "tiny") return SynthOptions{};
  AUXGRID_FAIL("unknown synthetic preset '{}' (known: {})", preset, fmt::join(synth_presets(), ", "));
}

store::CorpusData synthesize(const SynthOptions& o, std::uint64_t seed) {
  AUXGRID_CHECK(o.speakers >= 3 && o.utterances_per_speaker >= 1 && o.class_names.size() >= 2,
                "synthetic corpus '{}' needs >= 3 speakers, >= 1 utterance each and >= 2 classes", o.name);
  AUXGRID_CHECK(o.min_audio_frames >= 1 && o.min_audio_frames <= o.max_audio_frames,
                "synthetic corpus '{}': bad frame range [{}, {}]", o.name, o.min_audio_frames, o.max_audio_frames);
  Rng rng(seed);
  const auto classes = o.class_names.size();
  const auto audio_proto = gaussian_vectors(rng, classes, o.audio_dim, 1.0);
  const auto video_proto = gaussian_vectors(rng, classes, o.video_dim, 1.0);
  std::vector<double> audio_strength(classes), video_strength(classes);
  for (std::size_t c = 0; c < classes; ++c) {
    audio_strength[c] = o.audio_signal * (1.0 - o.modality_spread * rng.uniform());
    video_strength[c] = o.video_signal * (1.0 - o.modality_spread * rng.uniform());
  }

  store::CorpusData corpus;
  auto& info = corpus.info;
  info.name = o.name;
  info.description = fmt::format("synthetic corpus '{}', seed {}", o.name, seed);
  info.audio_dim = o.audio_dim, info.video_dim = o.video_dim;
  info.audio_hop_ms = o.audio_hop_ms, info.video_fps = o.video_fps;
  info.class_names = o.class_names;
  corpus.audio_offsets.push_back(0);
  corpus.video_offsets.push_back(0);

  const double video_frame_ms = 1000.0 / o.video_fps;
  for (int s = 0; s < o.speakers; ++s) {
    const auto speaker_audio = gaussian_vectors(rng, 1, o.audio_dim, o.speaker_offset);
    const auto speaker_video = gaussian_vectors(rng, 1, o.video_dim, o.speaker_offset);
    const std::string speaker = fmt::format("spk{:03d}", s);
    for (int u = 0; u < o.utterances_per_speaker; ++u) {
      const int label = static_cast<int>(rng.engine() % classes);
      const int audio_frames = rng.integer(o.min_audio_frames, o.max_audio_frames);
      const double duration_ms = audio_frames * o.audio_hop_ms;
      const int video_frames = std::max(1, static_cast<int>(std::lround(duration_ms / video_frame_ms)));

      // The expressive segment in time; video shows it earlier by the lead.
      const double seg_ms = o.segment_fraction * duration_ms;
      const double seg_start_ms = rng.uniform() * (duration_ms - seg_ms);
      const double lead_ms = o.video_lead_ms + o.video_lead_jitter_ms * (2.0 * rng.uniform() - 1.0);
      const int a_begin = static_cast<int>(seg_start_ms / o.audio_hop_ms);
      const int a_end = static_cast<int>((seg_start_ms + seg_ms) / o.audio_hop_ms);
      const int v_begin = std::max(0, static_cast<int>((seg_start_ms - lead_ms) / video_frame_ms));
      const int v_end = std::max(v_begin + 1, static_cast<int>((seg_start_ms + seg_ms - lead_ms) / video_frame_ms));

      emit_frames(rng, corpus.audio, o.audio_dim, audio_frames, speaker_audio.data(),
                  &audio_proto[label * o.audio_dim], audio_strength[label], a_begin, a_end);
      emit_frames(rng, corpus.video, o.video_dim, video_frames, speaker_video.data(),
                  &video_proto[label * o.video_dim], video_strength[label], v_begin, v_end);
      corpus.audio_offsets.push_back(corpus.audio_offsets.back() + audio_frames);
      corpus.video_offsets.push_back(corpus.video_offsets.back() + video_frames);
      corpus.utterance_ids.push_back(fmt::format("{}_{:04d}", speaker, u));
      corpus.speakers.push_back(speaker);
      corpus.labels.push_back(label);
    }
  }
  info.num_utterances = static_cast<std::int64_t>(corpus.labels.size());
  info.audio_frames = corpus.audio_offsets.back();
  info.video_frames = corpus.video_offsets.back();
  return corpus;
}

}  // namespace auxgrid::data
