#include "auxgrid/data/synth.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "auxgrid/core/check.hpp"
#include "auxgrid/store/corpus_writer.hpp"

namespace auxgrid::data {

namespace {

constexpr double kTwoPi = 6.283185307179586;

// Purposes of the random streams; utterance u draws from kUtteranceStreams + u.
enum : std::uint64_t { kPlanStream = 0, kModelStream = 1, kUtteranceStreams = 2 };

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Ziggurat tables for N(0, 1), 128 layers (Marsaglia and Tsang 2000, with
// Doornik's 2005 fix: layer and value from independent bits).
struct Ziggurat {
  static constexpr int kLayers = 128;
  static constexpr double kR = 3.442619855899;       // start of the tail
  static constexpr double kV = 9.91256303526217e-3;  // area of each layer
  double x[kLayers + 1];
  double ratio[kLayers];  // x[i + 1] / x[i]: below it, a draw is inside the layer's box

  Ziggurat() {
    double f = std::exp(-0.5 * kR * kR);
    x[0] = kV / f;  // the bottom layer: box plus tail
    x[1] = kR;
    x[kLayers] = 0;
    for (int i = 2; i < kLayers; ++i) {
      x[i] = std::sqrt(-2 * std::log(kV / x[i - 1] + f));
      f = std::exp(-0.5 * x[i] * x[i]);
    }
    for (int i = 0; i < kLayers; ++i) ratio[i] = x[i + 1] / x[i];
  }
};
const Ziggurat kZiggurat;

// xoshiro256++ (Blackman and Vigna): fast, small state, passes BigCrush.
// Every distribution is our own code, so draws do not depend on the standard
// library (std::*_distribution differ between implementations).
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull);
    for (auto& word : s_) word = splitmix64(x);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double symmetric() { return 2.0 * uniform() - 1.0; }                        // [-1, 1)
  std::uint64_t below(std::uint64_t n) {                                      // [0, n), unbiased enough for n << 2^64
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  double normal() {
    const Ziggurat& z = kZiggurat;
    for (;;) {
      const std::uint64_t r = next();
      const int i = static_cast<int>(r & (Ziggurat::kLayers - 1));
      const double u = 2.0 * (static_cast<double>(r >> 11) * 0x1.0p-53) - 1.0;
      if (std::abs(u) < z.ratio[i]) return u * z.x[i];  // ~99 % of draws end here
      if (i == 0) return tail(u < 0);
      const double x = u * z.x[i];
      const double f0 = std::exp(-0.5 * (z.x[i] * z.x[i] - x * x));
      const double f1 = std::exp(-0.5 * (z.x[i + 1] * z.x[i + 1] - x * x));
      if (f1 + uniform() * (f0 - f1) < 1.0) return x;
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  double tail(bool negative) {  // beyond kR (Marsaglia 1964)
    double x, y;
    do {
      x = std::log(1.0 - uniform()) / Ziggurat::kR;
      y = std::log(1.0 - uniform());
    } while (-2 * y < x * x);
    return negative ? x - Ziggurat::kR : Ziggurat::kR - x;
  }

  std::uint64_t s_[4];
};

std::vector<float> normals(Rng& rng, std::size_t n, double sd) {
  std::vector<float> out(n);
  for (auto& v : out) v = static_cast<float>(sd * rng.normal());
  return out;
}

std::int64_t ms_to_audio_frames(double ms, double hop_ms) { return std::llround(ms / hop_ms); }

void check_options(const SynthOptions& o) {
  const std::string& n = o.name;
  const auto classes = o.class_names.size();
  AUXGRID_CHECK(classes >= 2, "synthetic corpus '{}': needs >= 2 classes (class_names)", n);
  AUXGRID_CHECK(o.speakers >= 3, "synthetic corpus '{}': needs >= 3 speakers, has {}", n, o.speakers);
  AUXGRID_CHECK(o.class_counts.empty() || o.class_counts.size() == classes,
                "synthetic corpus '{}': class_counts has {} entries for {} classes", n, o.class_counts.size(), classes);
  for (auto count : o.class_counts)
    AUXGRID_CHECK(count >= 1, "synthetic corpus '{}': class_counts holds {}, must be >= 1", n, count);
  AUXGRID_CHECK(!o.class_counts.empty() || o.utterances_per_speaker >= 1,
                "synthetic corpus '{}': utterances_per_speaker is {}, must be >= 1", n, o.utterances_per_speaker);
  AUXGRID_CHECK(o.scale > 0 && o.scale <= 1, "synthetic corpus '{}': scale is {}, must be in (0, 1]", n, o.scale);
  AUXGRID_CHECK(o.speaker_imbalance >= 0, "synthetic corpus '{}': speaker_imbalance is {}, must be >= 0", n,
                o.speaker_imbalance);
  AUXGRID_CHECK(o.audio_dim > 0 && o.video_dim > 0, "synthetic corpus '{}': audio_dim {} and video_dim {} must be > 0",
                n, o.audio_dim, o.video_dim);
  AUXGRID_CHECK(o.audio_hop_ms > 0 && o.video_fps > 0,
                "synthetic corpus '{}': audio_hop_ms {} and video_fps {} must be > 0", n, o.audio_hop_ms, o.video_fps);
  AUXGRID_CHECK(o.video_dtype == "float32" || o.video_dtype == "float16",
                "synthetic corpus '{}': video_dtype is '{}', expected 'float32' or 'float16'", n, o.video_dtype);
  AUXGRID_CHECK(o.min_audio_frames >= 1 && o.min_audio_frames <= o.max_audio_frames,
                "synthetic corpus '{}': bad frame range [{}, {}]", n, o.min_audio_frames, o.max_audio_frames);
  AUXGRID_CHECK(o.duration_log_sd >= 0, "synthetic corpus '{}': duration_log_sd is {}, must be >= 0", n,
                o.duration_log_sd);
  if (o.duration_log_sd > 0) {
    // The median inside the range: redrawing then ends after a few draws.
    const auto median = ms_to_audio_frames(1000 * o.duration_median_s, o.audio_hop_ms);
    AUXGRID_CHECK(median >= o.min_audio_frames && median <= o.max_audio_frames,
                  "synthetic corpus '{}': duration_median_s {} ({} frames) is outside the frame range [{}, {}]", n,
                  o.duration_median_s, median, o.min_audio_frames, o.max_audio_frames);
  }
  AUXGRID_CHECK(o.segment_fraction > 0 && o.segment_fraction <= 1,
                "synthetic corpus '{}': segment_fraction is {}, must be in (0, 1]", n, o.segment_fraction);
  AUXGRID_CHECK(o.intensity_modulation >= 0 && o.intensity_modulation < 1,
                "synthetic corpus '{}': intensity_modulation is {}, must be in [0, 1)", n, o.intensity_modulation);
  for (const auto* strength : {&o.audio_class_strength, &o.video_class_strength})
    AUXGRID_CHECK(strength->empty() || strength->size() == classes,
                  "synthetic corpus '{}': a class strength list has {} entries for {} classes", n, strength->size(),
                  classes);
  for (double rho : {o.audio_noise_correlation, o.video_noise_correlation})
    AUXGRID_CHECK(rho >= 0 && rho < 1, "synthetic corpus '{}': noise correlation {} must be in [0, 1)", n, rho);
  AUXGRID_CHECK(o.video_lead_jitter_ms >= 0 && o.video_lead_drift_ms >= 0,
                "synthetic corpus '{}': video_lead_jitter_ms and video_lead_drift_ms must be >= 0", n);
}

std::string speaker_name(SpeakerNaming naming, int s) {
  switch (naming) {
    case SpeakerNaming::actors: return fmt::format("{}", 1001 + s);
    case SpeakerNaming::sessions: return fmt::format("S{}{}", s / 2 + 1, s % 2 == 0 ? 'F' : 'M');
    default: return fmt::format("spk{:03d}", s);
  }
}

// Utterances per speaker: one each, the rest by largest remainder of the shares.
std::vector<std::int64_t> speaker_counts(Rng& rng, std::int64_t total, int speakers, double imbalance) {
  std::vector<double> share(speakers);
  for (auto& w : share) w = imbalance > 0 ? std::exp(imbalance * rng.normal()) : 1.0;
  const double sum = std::accumulate(share.begin(), share.end(), 0.0);
  const auto rest = total - speakers;
  std::vector<std::int64_t> counts(speakers);
  std::vector<std::pair<double, int>> remainder(speakers);
  std::int64_t given = 0;
  for (int s = 0; s < speakers; ++s) {
    const double exact = rest * share[s] / sum;
    counts[s] = 1 + static_cast<std::int64_t>(exact);
    given += counts[s] - 1;
    remainder[s] = {exact - std::floor(exact), -s};  // ties: lower index first
  }
  std::sort(remainder.rbegin(), remainder.rend());
  for (std::int64_t k = 0; k < rest - given; ++k) ++counts[-remainder[k].second];
  return counts;
}

std::int64_t draw_audio_frames(Rng& rng, const SynthOptions& o) {
  if (o.duration_log_sd == 0)
    return o.min_audio_frames + static_cast<std::int64_t>(rng.below(o.max_audio_frames - o.min_audio_frames + 1));
  for (;;) {
    const double ms = 1000 * o.duration_median_s * std::exp(o.duration_log_sd * rng.normal());
    const auto frames = ms_to_audio_frames(ms, o.audio_hop_ms);
    if (frames >= o.min_audio_frames && frames <= o.max_audio_frames) return frames;
  }
}

UtteranceLatents draw_latents(const SynthOptions& o, const UtterancePlan& u, Rng& rng) {
  UtteranceLatents l;
  l.audio_hop_ms = o.audio_hop_ms;
  l.video_fps = o.video_fps;
  l.duration_ms = u.audio_frames * o.audio_hop_ms;
  const double segment_ms = o.segment_fraction * l.duration_ms;
  l.segment_begin_ms = rng.uniform() * (l.duration_ms - segment_ms);
  l.segment_end_ms = l.segment_begin_ms + segment_ms;
  const double lead = o.video_lead_ms + o.video_lead_jitter_ms * rng.symmetric();
  const double drift = o.video_lead_drift_ms * rng.symmetric();
  l.lead_begin_ms = lead - drift / 2;
  l.lead_end_ms = lead + drift / 2;
  l.modulation = o.intensity_modulation;
  l.modulation_hz = 0.5 + 1.5 * rng.uniform();
  l.modulation_phase = kTwoPi * rng.uniform();
  return l;
}

// The per-corpus draws: prototypes, class strengths, speaker offsets.
struct Modality {
  std::int64_t dim = 0;
  double noise_correlation = 0;
  std::vector<double> amplitude;  // per class: signal x strength
  std::vector<float> prototypes;  // [classes x dim]
  std::vector<float> offsets;     // [speakers x dim]
};

class Generator {
 public:
  Generator(const SynthOptions& o, std::uint64_t seed) : o_(o), seed_(seed) {
    Rng rng(seed, kModelStream);
    const auto classes = o.class_names.size();
    for (auto* m : {&audio_, &video_}) {
      const bool is_audio = m == &audio_;
      m->dim = is_audio ? o.audio_dim : o.video_dim;
      m->noise_correlation = is_audio ? o.audio_noise_correlation : o.video_noise_correlation;
      m->prototypes = normals(rng, classes * m->dim, 1.0);
      const auto& strength = is_audio ? o.audio_class_strength : o.video_class_strength;
      const double signal = is_audio ? o.audio_signal : o.video_signal;
      for (std::size_t c = 0; c < classes; ++c)
        m->amplitude.push_back(signal * (strength.empty() ? 1.0 - o.modality_spread * rng.uniform() : strength[c]));
    }
    for (auto* m : {&audio_, &video_}) m->offsets = normals(rng, o.speakers * m->dim, o.speaker_offset);
  }

  // Frames of utterance `index` of `plan` into `audio` and `video` (resized).
  void generate(const CorpusPlan& plan, std::size_t index, std::vector<float>& audio, std::vector<float>& video) const {
    const UtterancePlan& u = plan.utterances[index];
    Rng rng(seed_, kUtteranceStreams + index);
    const UtteranceLatents latents = draw_latents(o_, u, rng);
    emit(
        rng, audio_, u, u.audio_frames, [&](std::int64_t t) { return latents.audio_intensity(t); }, audio);
    emit(
        rng, video_, u, u.video_frames, [&](std::int64_t t) { return latents.video_intensity(t); }, video);
    if (o_.video_dtype == "float16") store::round_to_half(video.data(), video.size());
  }

 private:
  template <class Intensity>
  static void emit(Rng& rng, const Modality& m, const UtterancePlan& u, std::int64_t frames, Intensity intensity,
                   std::vector<float>& out) {
    const auto dim = m.dim;
    out.resize(frames * dim);
    const float* offset = &m.offsets[u.speaker_index * dim];
    const float* prototype = &m.prototypes[u.label * dim];
    const float rho = static_cast<float>(m.noise_correlation);
    const float innovation = static_cast<float>(std::sqrt(1.0 - m.noise_correlation * m.noise_correlation));
    std::vector<float> noise(dim);
    for (auto& n : noise) n = static_cast<float>(rng.normal());  // stationary from the first frame
    for (std::int64_t t = 0; t < frames; ++t) {
      if (t > 0)
        for (auto& n : noise) n = rho * n + innovation * static_cast<float>(rng.normal());
      const auto amplitude = static_cast<float>(intensity(t) * m.amplitude[u.label]);
      float* row = &out[t * dim];
      for (std::int64_t k = 0; k < dim; ++k) row[k] = noise[k] + offset[k] + amplitude * prototype[k];
    }
  }

  const SynthOptions& o_;
  std::uint64_t seed_;
  Modality audio_, video_;
};

}  // namespace

double UtteranceLatents::intensity_at(double ms) const {
  if (ms < segment_begin_ms || ms >= segment_end_ms) return 0.0;
  return 1.0 + modulation * std::sin(kTwoPi * modulation_hz * ms / 1000 + modulation_phase);
}

double UtteranceLatents::audio_intensity(std::int64_t frame) const { return intensity_at(frame * audio_hop_ms); }

double UtteranceLatents::video_intensity(std::int64_t frame) const {
  const double t = frame * 1000 / video_fps;
  const double lead = lead_begin_ms + (lead_end_ms - lead_begin_ms) * std::min(1.0, t / duration_ms);
  return intensity_at(t + lead);
}

std::vector<std::string> synth_presets() { return {"tiny", "crema-d", "msp-improv"}; }

SynthOptions synth_preset(const std::string& preset) {
  SynthOptions o;
  if (preset == "tiny") return o;
  if (preset != "crema-d" && preset != "msp-improv")
    AUXGRID_FAIL("unknown synthetic preset '{}' (known: {})", preset, fmt::join(synth_presets(), ", "));
  // Shared by the paper's corpora (docs/protocol.md, "Corpora and features"): 130 LLDs per 16 ms hop,
  // 4,096-d VGG-Face features at 29.97 fps stored as float16.
  o.name = preset;
  o.audio_dim = 130, o.audio_hop_ms = 16.0;
  o.video_dim = 4096, o.video_fps = 29.97, o.video_dtype = "float16";
  // Per value the signal is small, but it adds up over 130 / 4,096 values
  // and the frames of the segment; the speaker offsets stay comparable.
  o.audio_signal = 0.12, o.video_signal = 0.04;
  o.speaker_offset = 0.5;
  o.audio_noise_correlation = 0.5, o.video_noise_correlation = 0.8;  // 30 fps faces change slowly
  o.intensity_modulation = 0.5;
  o.video_lead_ms = 120.0, o.video_lead_jitter_ms = 60.0, o.video_lead_drift_ms = 80.0;
  if (preset == "crema-d") {
    // 7,442 acted clips of 91 actors (about 82 each), 1-5 s, most 1.5-3.5 s.
    o.class_names = {"anger", "disgust", "fear", "happiness", "sadness", "neutral"};
    o.class_counts = {1067, 1222, 1180, 1230, 672, 2071};
    o.speakers = 91, o.speaker_naming = SpeakerNaming::actors, o.speaker_imbalance = 0.05;
    o.min_audio_frames = 63, o.max_audio_frames = 312;  // 1.01-4.99 s
    o.duration_median_s = 2.5, o.duration_log_sd = 0.2;
    o.segment_fraction = 0.6;  // a short acted sentence: emotion over most of it
    o.audio_class_strength = {1.0, 0.6, 0.7, 0.5, 0.8, 0.6};
    o.video_class_strength = {0.6, 0.9, 0.7, 1.0, 0.6, 0.6};
  } else {
    // 7,798 improvised speaking turns of 12 speakers in 6 dyadic sessions
    // (the usual four-class MSP-IMPROV counts), long-tailed up to 31 s.
    o.class_names = {"anger", "sadness", "happiness", "neutral"};
    o.class_counts = {792, 885, 2644, 3477};
    o.speakers = 12, o.speaker_naming = SpeakerNaming::sessions, o.speaker_imbalance = 0.25;
    o.min_audio_frames = 32, o.max_audio_frames = 1937;  // 0.51-30.99 s
    o.duration_median_s = 3.0, o.duration_log_sd = 0.75;
    o.segment_fraction = 0.4;  // improvised turns: emotion in part of the turn
    o.audio_class_strength = {1.0, 0.7, 0.5, 0.6};
    o.video_class_strength = {0.6, 0.6, 1.0, 0.7};
  }
  return o;
}

CorpusPlan plan_corpus(const SynthOptions& o, std::uint64_t seed) {
  check_options(o);
  const auto classes = o.class_names.size();
  std::vector<std::int64_t> counts = o.class_counts;
  if (counts.empty()) {
    const std::int64_t total = std::int64_t{o.speakers} * o.utterances_per_speaker;
    for (std::size_t c = 0; c < classes; ++c)
      counts.push_back(total / static_cast<std::int64_t>(classes) +
                       (static_cast<std::int64_t>(c) < total % static_cast<std::int64_t>(classes)));
  }
  if (o.scale < 1)
    for (auto& n : counts) n = std::max<std::int64_t>(1, std::llround(n * o.scale));
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  AUXGRID_CHECK(total >= o.speakers, "synthetic corpus '{}': scale {} leaves {} utterances for {} speakers", o.name,
                o.scale, total, o.speakers);

  Rng rng(seed, kPlanStream);
  std::vector<std::int32_t> labels;
  for (std::size_t c = 0; c < classes; ++c) labels.insert(labels.end(), counts[c], static_cast<std::int32_t>(c));
  for (std::size_t i = labels.size(); i > 1; --i) std::swap(labels[i - 1], labels[rng.below(i)]);
  const auto per_speaker = speaker_counts(rng, total, o.speakers, o.speaker_imbalance);

  CorpusPlan plan;
  auto& info = plan.info;
  info.name = o.name;
  info.description = fmt::format("synthetic corpus '{}', seed {}{}", o.name, seed,
                                 o.scale < 1 ? fmt::format(", scale {}", o.scale) : std::string());
  info.audio_dim = o.audio_dim, info.video_dim = o.video_dim;
  info.audio_hop_ms = o.audio_hop_ms, info.video_fps = o.video_fps;
  info.class_names = o.class_names;
  info.video_dtype = o.video_dtype;
  std::size_t next_label = 0;
  for (int s = 0; s < o.speakers; ++s) {
    const std::string speaker = speaker_name(o.speaker_naming, s);
    for (std::int64_t k = 0; k < per_speaker[s]; ++k) {
      UtterancePlan u;
      u.id = fmt::format("{}_{:04d}", speaker, k);
      u.speaker = speaker;
      u.speaker_index = s;
      u.label = labels[next_label++];
      u.audio_frames = draw_audio_frames(rng, o);
      u.video_frames = std::max<std::int64_t>(1, std::llround(u.audio_frames * o.audio_hop_ms * o.video_fps / 1000));
      info.audio_frames += u.audio_frames;
      info.video_frames += u.video_frames;
      plan.utterances.push_back(std::move(u));
    }
  }
  info.num_utterances = static_cast<std::int64_t>(plan.utterances.size());
  return plan;
}

UtteranceLatents utterance_latents(const SynthOptions& o, std::uint64_t seed, const CorpusPlan& plan,
                                   std::size_t index) {
  AUXGRID_CHECK(index < plan.utterances.size(), "synthetic corpus '{}': no utterance {} (the plan has {})", o.name,
                index, plan.utterances.size());
  Rng rng(seed, kUtteranceStreams + index);
  return draw_latents(o, plan.utterances[index], rng);
}

store::CorpusData synthesize(const SynthOptions& o, std::uint64_t seed) {
  const CorpusPlan plan = plan_corpus(o, seed);
  const Generator generator(o, seed);
  store::CorpusData corpus;
  corpus.info = plan.info;
  corpus.audio.reserve(plan.info.audio_frames * o.audio_dim);
  corpus.video.reserve(plan.info.video_frames * o.video_dim);
  corpus.audio_offsets.push_back(0);
  corpus.video_offsets.push_back(0);
  std::vector<float> audio, video;
  for (std::size_t i = 0; i < plan.utterances.size(); ++i) {
    const UtterancePlan& u = plan.utterances[i];
    generator.generate(plan, i, audio, video);
    corpus.audio.insert(corpus.audio.end(), audio.begin(), audio.end());
    corpus.video.insert(corpus.video.end(), video.begin(), video.end());
    corpus.audio_offsets.push_back(corpus.audio_offsets.back() + u.audio_frames);
    corpus.video_offsets.push_back(corpus.video_offsets.back() + u.video_frames);
    corpus.utterance_ids.push_back(u.id);
    corpus.speakers.push_back(u.speaker);
    corpus.labels.push_back(u.label);
  }
  return corpus;
}

store::CorpusInfo synthesize_to_file(const SynthOptions& o, std::uint64_t seed, const std::string& path) {
  const CorpusPlan plan = plan_corpus(o, seed);
  const Generator generator(o, seed);
  store::CorpusWriter writer(path, plan.info);
  std::vector<float> audio, video;
  for (std::size_t i = 0; i < plan.utterances.size(); ++i) {
    const UtterancePlan& u = plan.utterances[i];
    generator.generate(plan, i, audio, video);
    writer.append(u.id, u.speaker, u.label, audio.data(), u.audio_frames, video.data(), u.video_frames);
  }
  return writer.finish();
}

}  // namespace auxgrid::data
