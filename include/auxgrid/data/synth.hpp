#pragma once
// Synthetic corpora
// -----------------
// Neither CREMA-D nor MSP-IMPROV can be downloaded here, so `auxgrid synth`
// writes seeded corpora with their shapes and statistics (presets "crema-d"
// and "msp-improv"; "tiny" for tests and the quickstart), with what the
// study is about planted in the features. Generation runs in three steps:
//
// 1. Plan (plan_corpus; no frame generated): the exact class counts are laid
//    out as a label list and shuffled; the utterances are dealt to the
//    speakers (shares set by speaker_imbalance), so every speaker has a mix
//    of classes; each utterance's length is drawn from the duration model.
// 2. Latents (utterance_latents), per utterance: the expressive segment, a
//    slow modulation of its intensity, and the audiovisual lag.
// 3. Frames: every feature value is
//        noise + speaker offset + intensity(t) x strength[class, modality] x prototype[class, modality]
//    - noise: N(0, 1), AR(1) over frames (real features change smoothly);
//    - speaker offset: a constant vector per speaker and modality, so a
//      speaker-independent split has to generalise across speakers;
//    - prototype: a random N(0, 1) vector per class and modality;
//    - strength: per class and modality, so classes differ in which modality
//      reveals them (presets: anger clearer in audio, happiness in video);
//    - intensity: 0 outside the expressive segment (segment_fraction of the
//      utterance at a random place): emotion shows in part of the utterance,
//      not in every frame; inside, 1 + intensity_modulation x a slow sine;
//    - lag: video leads audio. Video frame j, at time t, shows the intensity
//      that audio shows at t + lead(t), lead(t) going linearly from
//      lead_begin to lead_end over the utterance: the lag differs between
//      utterances (video_lead_ms +- video_lead_jitter_ms) and drifts within
//      one (by up to video_lead_drift_ms), so no fixed shift aligns the
//      modalities.
//
// Every draw comes from xoshiro256++ streams seeded from (seed, purpose,
// utterance), normals by a ziggurat: same options and seed, same corpus and,
// written, the same bytes; an utterance's frames do not depend on the others,
// and scale keeps the speakers, prototypes and offsets of the full corpus.
// Video stored as float16 is rounded to half precision while generated, so
// synthesize() returns exactly what reading the written file returns.
#include <cstdint>
#include <string>
#include <vector>

#include "auxgrid/store/corpus_file.hpp"

namespace auxgrid::data {

// How speakers are named (and grouped).
enum class SpeakerNaming {
  numbered,  // spk000, spk001, ...
  actors,    // 1001, 1002, ...: CREMA-D's actor ids
  sessions,  // S1F, S1M, S2F, ...: MSP-IMPROV's dyadic sessions, a woman and a man each
};

struct SynthOptions {
  std::string name = "tiny";
  std::vector<std::string> class_names = {"anger", "sadness", "happiness", "neutral"};
  // Utterances per class (class_names order). Empty: speakers x
  // utterances_per_speaker utterances, the classes as equal as possible.
  std::vector<std::int64_t> class_counts;
  int speakers = 10;
  int utterances_per_speaker = 32;  // used when class_counts is empty
  SpeakerNaming speaker_naming = SpeakerNaming::numbered;
  // Spread of utterances over speakers: the sd of the log of each speaker's
  // share (0: equal shares; every speaker has at least one utterance).
  double speaker_imbalance = 0.0;
  // Keep this fraction (0 < scale <= 1) of every class's utterances, and
  // every speaker: for tests and quick runs.
  double scale = 1.0;

  std::int64_t audio_dim = 130;
  std::int64_t video_dim = 64;
  double audio_hop_ms = 16.0;
  double video_fps = 30.0;
  std::string video_dtype = "float32";  // storage of /video/features: "float32" or "float16"

  // Utterance length in audio frames, always within [min, max]. With
  // duration_log_sd 0 it is uniform in the range; otherwise log-normal with
  // median duration_median_s and this sd of the log, redrawn outside it.
  int min_audio_frames = 24, max_audio_frames = 64;
  double duration_median_s = 0.0, duration_log_sd = 0.0;

  // Emotion shows in a segment covering this share of the utterance.
  double segment_fraction = 0.5;
  // Inside the segment the intensity is 1 + modulation x sin(2 pi f t + phase),
  // f uniform in [0.5, 2] Hz per utterance (0 <= modulation < 1).
  double intensity_modulation = 0.0;
  // Class signal per value at intensity 1, in units of the noise sd. Each
  // class's strength multiplies it: audio_class_strength[c] (one per class),
  // or, when empty, a draw uniform in [1 - modality_spread, 1].
  double audio_signal = 0.35, video_signal = 0.35;
  std::vector<double> audio_class_strength, video_class_strength;
  double modality_spread = 0.5;
  // sd of the constant per-speaker offset, in noise units.
  double speaker_offset = 0.5;
  // AR(1) coefficient of the noise from one frame to the next (0: white).
  double audio_noise_correlation = 0.0, video_noise_correlation = 0.0;
  // Video leads audio: per utterance by video_lead_ms + u x jitter (u uniform
  // in [-1, 1]), and the lead changes over the utterance by d x drift (d
  // uniform in [-1, 1]), centred on the utterance's lead.
  double video_lead_ms = 120.0, video_lead_jitter_ms = 60.0, video_lead_drift_ms = 40.0;
};

// "tiny" (10 speakers x 32 short utterances, 64-wide video), "crema-d" and
// "msp-improv" (the paper's corpora; values in synth.cpp). Throws listing
// the presets on an unknown name.
SynthOptions synth_preset(const std::string& preset);
std::vector<std::string> synth_presets();

struct UtterancePlan {
  std::string id, speaker;
  int speaker_index = 0;
  std::int32_t label = 0;
  std::int64_t audio_frames = 0, video_frames = 0;
};

struct CorpusPlan {
  store::CorpusInfo info;  // totals filled in; path empty
  std::vector<UtterancePlan> utterances;
};

// Step 1: labels, speakers and lengths of every utterance, no features.
// Throws on inconsistent options (naming the option).
CorpusPlan plan_corpus(const SynthOptions& options, std::uint64_t seed);

// Step 2: what the generator plants in utterance `index` of the plan.
struct UtteranceLatents {
  double duration_ms = 0;
  double segment_begin_ms = 0, segment_end_ms = 0;  // expressive segment, in audio time
  double lead_begin_ms = 0, lead_end_ms = 0;        // video lead at the start and end
  double modulation = 0, modulation_hz = 0, modulation_phase = 0;
  double audio_hop_ms = 0, video_fps = 0;

  double intensity_at(double audio_time_ms) const;   // 0 outside the segment
  double audio_intensity(std::int64_t frame) const;  // at frame x hop
  double video_intensity(std::int64_t frame) const;  // at frame / fps, shifted by the lead
};
UtteranceLatents utterance_latents(const SynthOptions& options, std::uint64_t seed, const CorpusPlan& plan,
                                   std::size_t index);

// The whole corpus in memory (tests, tiny corpora).
store::CorpusData synthesize(const SynthOptions& options, std::uint64_t seed);
// The same corpus streamed to `path` utterance by utterance (memory stays at a
// few MB whatever the size), written atomically. Returns the file's info.
store::CorpusInfo synthesize_to_file(const SynthOptions& options, std::uint64_t seed, const std::string& path);

}  // namespace auxgrid::data
