#define BOOST_TEST_MODULE data
#include <ATen/ATen.h>
#include <ATen/TensorIndexing.h>

#include <filesystem>
#include <boost/test/unit_test.hpp>

#include "temp_files.hpp"
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/store/corpus_file.hpp"

using namespace auxgrid;
namespace fs = std::filesystem;

namespace {
data::SynthOptions small() {
  auto o = data::synth_preset("tiny");
  o.speakers = 6, o.utterances_per_speaker = 10, o.video_dim = 8, o.max_audio_frames = 30;
  return o;
}

// Utterances per class and per speaker, classes per speaker, sorted lengths in seconds.
struct Census {
  std::vector<std::int64_t> per_class;
  std::map<std::string, std::int64_t> per_speaker;
  std::map<std::string, std::set<int>> classes_of_speaker;
  std::vector<double> seconds;
};

Census census(const data::CorpusPlan& plan) {
  Census c;
  c.per_class.assign(plan.info.class_names.size(), 0);
  for (const auto& u : plan.utterances) {
    ++c.per_class[u.label];
    ++c.per_speaker[u.speaker];
    c.classes_of_speaker[u.speaker].insert(u.label);
    c.seconds.push_back(u.audio_frames * plan.info.audio_hop_ms / 1000);
  }
  std::sort(c.seconds.begin(), c.seconds.end());
  return c;
}

double share_between(const std::vector<double>& sorted, double lo, double hi) {
  const auto n = std::count_if(sorted.begin(), sorted.end(), [&](double x) { return x >= lo && x <= hi; });
  return static_cast<double>(n) / sorted.size();
}

void check_same(const store::CorpusData& a, const store::CorpusData& b) {
  BOOST_TEST(a.info.num_utterances == b.info.num_utterances);
  BOOST_TEST(a.info.video_dtype == b.info.video_dtype);
  BOOST_TEST(a.info.description == b.info.description);
  BOOST_TEST((a.audio == b.audio));
  BOOST_TEST((a.video == b.video));
  BOOST_TEST(a.audio_offsets == b.audio_offsets);
  BOOST_TEST(a.video_offsets == b.video_offsets);
  BOOST_TEST(a.utterance_ids == b.utterance_ids);
  BOOST_TEST(a.speakers == b.speakers);
  BOOST_TEST(a.labels == b.labels);
}
}  // namespace

BOOST_AUTO_TEST_CASE(synthesis_is_seeded_and_well_formed) {
  const auto a = data::synthesize(small(), 7), b = data::synthesize(small(), 7), c = data::synthesize(small(), 8);
  BOOST_TEST(a.audio == b.audio);
  BOOST_TEST(a.video == b.video);
  BOOST_TEST(a.labels == b.labels);
  BOOST_TEST(a.audio != c.audio);
  BOOST_TEST(a.info.num_utterances == 60);
  BOOST_TEST(a.audio_offsets.size() == 61u);
  BOOST_TEST(a.audio.size() == static_cast<std::size_t>(a.audio_offsets.back() * a.info.audio_dim));
  BOOST_TEST(a.video.size() == static_cast<std::size_t>(a.video_offsets.back() * a.info.video_dim));
  BOOST_TEST(std::set<std::string>(a.speakers.begin(), a.speakers.end()).size() == 6u);
  for (std::size_t u = 0; u < 60; ++u) {
    const auto frames = a.audio_offsets[u + 1] - a.audio_offsets[u];
    BOOST_TEST((frames >= 24 && frames <= 30));
    // ~30 fps video against a 16 ms audio hop: about half as many frames.
    const auto video_frames = a.video_offsets[u + 1] - a.video_offsets[u];
    BOOST_TEST(std::abs(video_frames - frames * 16.0 / (1000.0 / 30)) <= 1.0);
  }
  BOOST_CHECK_THROW(data::synth_preset("huge"), Error);
}

BOOST_AUTO_TEST_CASE(synthetic_classes_are_separable_in_both_modalities) {
  // The class means of the frames differ: the planted signal is there.
  auto o = small();
  o.utterances_per_speaker = 40;
  const auto corpus = data::synthesize(o, 1);
  std::vector<double> mean0(o.audio_dim, 0), mean1(o.audio_dim, 0);
  int n0 = 0, n1 = 0;
  for (std::size_t u = 0; u < corpus.labels.size(); ++u) {
    if (corpus.labels[u] > 1) continue;
    auto& mean = corpus.labels[u] == 0 ? mean0 : mean1;
    for (auto f = corpus.audio_offsets[u]; f < corpus.audio_offsets[u + 1]; ++f)
      for (int k = 0; k < o.audio_dim; ++k) mean[k] += corpus.audio[f * o.audio_dim + k];
    (corpus.labels[u] == 0 ? n0 : n1) += static_cast<int>(corpus.audio_offsets[u + 1] - corpus.audio_offsets[u]);
  }
  double distance = 0;
  for (int k = 0; k < o.audio_dim; ++k) distance += std::pow(mean0[k] / n0 - mean1[k] / n1, 2);
  BOOST_TEST(std::sqrt(distance) > 1.0);
}

BOOST_AUTO_TEST_CASE(full_presets_plan_the_papers_counts) {
  {
    const auto plan = data::plan_corpus(data::synth_preset("crema-d"), 0);
    const Census c = census(plan);
    BOOST_TEST(plan.info.num_utterances == 7442);
    BOOST_TEST(c.per_class == (std::vector<std::int64_t>{1067, 1222, 1180, 1230, 672, 2071}));
    BOOST_TEST(plan.info.class_names ==
               (std::vector<std::string>{"anger", "disgust", "fear", "happiness", "sadness", "neutral"}));
    BOOST_TEST(c.per_speaker.size() == 91u);
    BOOST_TEST(c.per_speaker.begin()->first == "1001");
    BOOST_TEST(c.per_speaker.rbegin()->first == "1091");
    for (const auto& [speaker, n] : c.per_speaker) {
      BOOST_TEST((n >= 65 && n <= 100), speaker << " has " << n << " clips");  // about 82 each
      BOOST_TEST(c.classes_of_speaker.at(speaker).size() >= 5u, speaker);
    }
    // 1 to 5 s, most 1.5 to 3.5 s.
    BOOST_TEST(c.seconds.front() >= 1.0);
    BOOST_TEST(c.seconds.back() <= 5.0);
    BOOST_TEST(share_between(c.seconds, 1.5, 3.5) >= 0.9);
    BOOST_TEST(std::abs(c.seconds[c.seconds.size() / 2] - 2.5) < 0.1);
    std::int64_t audio = 0, video = 0;
    for (const auto& u : plan.utterances) {
      audio += u.audio_frames, video += u.video_frames;
      BOOST_TEST(u.video_frames == std::llround(u.audio_frames * 0.016 * 29.97));
    }
    BOOST_TEST(plan.info.audio_frames == audio);
    BOOST_TEST(plan.info.video_frames == video);
    BOOST_TEST(plan.info.video_dim == 4096);
    BOOST_TEST(plan.info.audio_dim == 130);
    BOOST_TEST(plan.info.video_dtype == "float16");
  }
  {
    const auto plan = data::plan_corpus(data::synth_preset("msp-improv"), 0);
    const Census c = census(plan);
    BOOST_TEST(plan.info.num_utterances == 7798);
    BOOST_TEST(c.per_class == (std::vector<std::int64_t>{792, 885, 2644, 3477}));
    std::set<std::string> speakers;
    for (const auto& [speaker, n] : c.per_speaker) {
      speakers.insert(speaker);
      BOOST_TEST(c.classes_of_speaker.at(speaker).size() == 4u, speaker);
    }
    BOOST_TEST(speakers == (std::set<std::string>{"S1F", "S1M", "S2F", "S2M", "S3F", "S3M", "S4F", "S4M", "S5F", "S5M",
                                                  "S6F", "S6M"}));
    // Long-tailed: median about 3 s, a tail past 10 s, nothing over 31 s.
    BOOST_TEST(std::abs(c.seconds[c.seconds.size() / 2] - 3.0) < 0.25);
    BOOST_TEST(share_between(c.seconds, 10.0, 31.0) > 0.02);
    BOOST_TEST(c.seconds.back() > 15.0);
    BOOST_TEST(c.seconds.back() <= 31.0);
    BOOST_TEST(c.seconds.front() >= 0.5);
  }
}

BOOST_AUTO_TEST_CASE(reduced_presets_keep_speakers_and_proportions) {
  TempDir tmp;
  const std::map<std::string, std::pair<double, double>> bounds = {{"crema-d", {1.0, 5.0}},
                                                                   {"msp-improv", {0.5, 31.0}}};
  for (const auto& [preset, range] : bounds) {
    const auto full = census(data::plan_corpus(data::synth_preset(preset), 1));
    auto o = data::synth_preset(preset);
    o.scale = 0.02;
    const auto path = tmp / (preset + ".h5");
    const auto info = data::synthesize_to_file(o, 1, path);
    const auto corpus = store::read_corpus_index(path);
    BOOST_TEST(corpus.info.num_utterances == info.num_utterances);
    BOOST_TEST(corpus.info.video_dtype == "float16");
    BOOST_TEST(corpus.info.video_dim == 4096);
    BOOST_TEST(corpus.info.video_fps == 29.97);
    BOOST_TEST(corpus.info.description.find("scale 0.02") != std::string::npos);
    const double total = static_cast<double>(corpus.labels.size());
    const double full_total = static_cast<double>(std::accumulate(full.per_class.begin(), full.per_class.end(), 0));
    BOOST_TEST(std::abs(total - 0.02 * full_total) <= full.per_class.size());
    std::vector<std::int64_t> per_class(full.per_class.size(), 0);
    for (auto l : corpus.labels) ++per_class[l];
    for (std::size_t k = 0; k < per_class.size(); ++k) {
      BOOST_TEST(per_class[k] == std::llround(0.02 * full.per_class[k]), preset << " class " << k);
      BOOST_TEST(std::abs(per_class[k] / total - full.per_class[k] / full_total) < 0.01, preset << " class " << k);
    }
    BOOST_TEST(std::set<std::string>(corpus.speakers.begin(), corpus.speakers.end()).size() == full.per_speaker.size(),
               preset);
    for (std::size_t u = 0; u < corpus.labels.size(); ++u) {
      const double audio_s = (corpus.audio_offsets[u + 1] - corpus.audio_offsets[u]) * 0.016;
      const double video_s = (corpus.video_offsets[u + 1] - corpus.video_offsets[u]) / 29.97;
      BOOST_TEST((audio_s >= range.first && audio_s <= range.second), preset << " " << corpus.utterance_ids[u]);
      BOOST_TEST(std::abs(video_s - audio_s) <= 0.5 / 29.97 + 1e-9, preset << " " << corpus.utterance_ids[u]);
    }
  }
  auto o = data::synth_preset("crema-d");
  o.scale = 0.01;  // 74 clips cannot cover 91 actors
  BOOST_CHECK_THROW(data::plan_corpus(o, 0), Error);
  o.scale = 0;
  BOOST_CHECK_THROW(data::plan_corpus(o, 0), Error);
}

BOOST_AUTO_TEST_CASE(streaming_and_in_memory_give_the_same_corpus) {
  TempDir tmp;
  auto crema = data::synth_preset("crema-d");
  crema.scale = 0.02, crema.video_dim = 256;  // float16 video, smaller
  for (const auto& o : {small(), crema}) {
    const auto path = tmp / (o.name + ".h5");
    data::synthesize_to_file(o, 5, path);
    const auto memory = data::synthesize(o, 5);
    check_same(store::read_corpus(path), memory);
    store::write_corpus(tmp / "memory.h5", memory);
    BOOST_TEST((bytes_of(tmp / "memory.h5") == bytes_of(path)), o.name);
  }
}

BOOST_AUTO_TEST_CASE(same_seed_same_bytes) {
  TempDir tmp;
  auto o = data::synth_preset("msp-improv");
  o.scale = 0.02, o.video_dim = 128;
  data::synthesize_to_file(o, 3, tmp / "a.h5");
  data::synthesize_to_file(o, 3, tmp / "b.h5");
  data::synthesize_to_file(o, 4, tmp / "c.h5");
  const auto a = bytes_of(tmp / "a.h5");
  BOOST_TEST(a.size() > 1000000u);
  BOOST_TEST((bytes_of(tmp / "b.h5") == a));
  BOOST_TEST((bytes_of(tmp / "c.h5") != a));
}

BOOST_AUTO_TEST_CASE(noise_is_standard_normal_and_correlated_as_asked) {
  auto o = small();
  o.utterances_per_speaker = 100, o.audio_signal = 0, o.video_signal = 0, o.speaker_offset = 0;
  o.video_noise_correlation = 0.8;
  const auto c = data::synthesize(o, 11);
  double sum = 0, sum2 = 0, sum4 = 0, beyond3 = 0, beyond_tail = 0;  // the ziggurat's tail starts at 3.44
  for (float x : c.audio) {
    sum += x, sum2 += x * x, sum4 += double(x) * x * x * x;
    beyond3 += std::abs(x) > 3, beyond_tail += std::abs(x) > 3.6;
  }
  const double n = static_cast<double>(c.audio.size());
  BOOST_TEST(n > 2e6);
  BOOST_TEST(std::abs(sum / n) < 0.003);
  BOOST_TEST(std::abs(sum2 / n - 1) < 0.005);
  BOOST_TEST(std::abs(sum4 / n / 3 - 1) < 0.02);  // kurtosis 3
  BOOST_TEST(std::abs(beyond3 / n / 0.0026998 - 1) < 0.06);
  BOOST_TEST(std::abs(beyond_tail / n / 0.00031822 - 1) < 0.15);
  // Video: lag-1 correlation within utterances.
  double lag1 = 0, var = 0;
  for (std::size_t u = 0; u < c.labels.size(); ++u)
    for (auto f = c.video_offsets[u]; f + 1 < c.video_offsets[u + 1]; ++f)
      for (std::int64_t k = 0; k < o.video_dim; ++k) {
        const double x = c.video[f * o.video_dim + k], y = c.video[(f + 1) * o.video_dim + k];
        lag1 += x * y, var += x * x;
      }
  BOOST_TEST(std::abs(lag1 / var - 0.8) < 0.02);
}

BOOST_AUTO_TEST_CASE(planted_lag_varies_across_and_within_utterances) {
  auto o = data::synth_preset("msp-improv");
  o.scale = 0.1;
  const auto plan = data::plan_corpus(o, 2);
  double sum = 0, sum2 = 0, max_drift = 0, drifting = 0;
  for (std::size_t i = 0; i < plan.utterances.size(); ++i) {
    const auto l = data::utterance_latents(o, 2, plan, i);
    const double lead = (l.lead_begin_ms + l.lead_end_ms) / 2, drift = std::abs(l.lead_end_ms - l.lead_begin_ms);
    sum += lead, sum2 += lead * lead;
    max_drift = std::max(max_drift, drift);
    drifting += drift > 10;
    BOOST_TEST(l.segment_begin_ms >= 0);
    BOOST_TEST(l.segment_end_ms <= l.duration_ms + 1e-9);
    BOOST_TEST(std::abs(l.segment_end_ms - l.segment_begin_ms - 0.4 * l.duration_ms) < 1e-6);
  }
  const double n = static_cast<double>(plan.utterances.size());
  BOOST_TEST(std::abs(sum / n - 120) < 6);                       // video leads by ~120 ms
  BOOST_TEST(std::sqrt(sum2 / n - (sum / n) * (sum / n)) > 25);  // varies across utterances
  BOOST_TEST(drifting / n > 0.7);                                // and within them
  BOOST_TEST(max_drift <= 80);
}

BOOST_AUTO_TEST_CASE(frames_follow_the_lagged_segment) {
  // A loud signal and no speaker offsets: a frame is expressive exactly when
  // its squared norm stands out of the noise's.
  auto o = small();
  o.audio_dim = 24, o.video_dim = 24, o.min_audio_frames = 60, o.max_audio_frames = 120;
  o.audio_signal = o.video_signal = 6, o.speaker_offset = 0, o.intensity_modulation = 0.5;
  o.audio_class_strength = o.video_class_strength = {1, 1, 1, 1};
  o.video_lead_ms = 200, o.video_lead_jitter_ms = 100, o.video_lead_drift_ms = 100;
  const auto c = data::synthesize(o, 9);
  const auto plan = data::plan_corpus(o, 9);
  int agree[2] = {0, 0}, frames[2] = {0, 0}, unlagged_differs = 0, unlagged_agrees = 0;
  for (std::size_t u = 0; u < c.labels.size(); ++u) {
    const auto l = data::utterance_latents(o, 9, plan, u);
    for (int m = 0; m < 2; ++m) {
      const auto& offsets = m == 0 ? c.audio_offsets : c.video_offsets;
      const auto& values = m == 0 ? c.audio : c.video;
      for (auto f = offsets[u]; f < offsets[u + 1]; ++f) {
        double norm2 = 0;
        for (int k = 0; k < 24; ++k) norm2 += values[f * 24 + k] * values[f * 24 + k];
        const bool loud = norm2 / 24 > 3;
        const std::int64_t t = f - offsets[u];
        const bool expressive = (m == 0 ? l.audio_intensity(t) : l.video_intensity(t)) > 0;
        ++frames[m];
        agree[m] += loud == expressive;
        if (m == 1 && expressive != (l.intensity_at(t * 1000 / 30.0) > 0)) {  // where the lag matters
          ++unlagged_differs;
          unlagged_agrees += loud != expressive;
        }
      }
    }
  }
  BOOST_TEST(agree[0] > 0.995 * frames[0]);
  BOOST_TEST(agree[1] > 0.995 * frames[1]);
  BOOST_TEST(unlagged_differs > 100);
  BOOST_TEST(unlagged_agrees < 0.05 * unlagged_differs);
}

BOOST_AUTO_TEST_CASE(split_is_speaker_independent_and_seeded) {
  const auto corpus = data::synthesize(small(), 3);
  const auto s = data::speaker_split(corpus, 5, 0.7, 0.15);
  BOOST_TEST(s.train.size() + s.dev.size() + s.test.size() == 60u);
  std::set<std::string> speakers[3];
  const std::vector<std::int64_t>* sets[3] = {&s.train, &s.dev, &s.test};
  for (int k = 0; k < 3; ++k) {
    BOOST_TEST(!sets[k]->empty());
    for (auto i : *sets[k]) speakers[k].insert(corpus.speakers[i]);
  }
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      for (const auto& spk : speakers[i]) BOOST_TEST(!speakers[j].count(spk), spk << " in two sets");
  BOOST_TEST(s.train.size() >= 30u);  // most speakers train
  const auto again = data::speaker_split(corpus, 5, 0.7, 0.15);
  BOOST_TEST(again.test == s.test);
  bool any_differs = false;
  for (std::uint64_t seed = 0; seed < 5; ++seed)
    any_differs |= data::speaker_split(corpus, seed, 0.7, 0.15).test != s.test;
  BOOST_TEST(any_differs);
}

BOOST_AUTO_TEST_CASE(split_needs_three_speakers) {
  auto o = small();
  o.speakers = 3;
  auto corpus = data::synthesize(o, 0);
  for (auto& s : corpus.speakers) s = "same";
  BOOST_CHECK_THROW(data::speaker_split(corpus, 0, 0.7, 0.15), Error);
}

BOOST_AUTO_TEST_CASE(batches_pad_mask_and_zero) {
  const auto corpus = data::synthesize(small(), 3);
  const std::vector<std::int64_t> idx{4, 9};
  const auto b = data::make_batch(corpus, idx, {data::Zero::none, data::Zero::audio});
  const auto len0 = corpus.audio_offsets[5] - corpus.audio_offsets[4];
  const auto len1 = corpus.audio_offsets[10] - corpus.audio_offsets[9];
  BOOST_TEST(b.audio.size(1) == std::max(len0, len1));
  BOOST_TEST(b.audio_mask[0].sum().item<std::int64_t>() == len0);
  BOOST_TEST(b.audio_mask[1].sum().item<std::int64_t>() == len1);  // zeroed, still valid frames
  BOOST_TEST(b.audio[1].abs().sum().item<float>() == 0.0f);
  BOOST_TEST(b.video[1].abs().sum().item<float>() > 0.0f);
  BOOST_TEST(b.audio[0][0][3].item<float>() == corpus.audio[corpus.audio_offsets[4] * 130 + 3]);
  if (len0 < b.audio.size(1)) BOOST_TEST(b.audio[0][len0].abs().sum().item<float>() == 0.0f);
  BOOST_TEST(b.labels[1].item<std::int64_t>() == corpus.labels[9]);
  BOOST_TEST(data::chunk({1, 2, 3, 4, 5}, 2).size() == 3u);
}

// data.padding = fixed (the released pipeline's data files): every utterance
// padded to the corpus's longest per modality, whatever it is batched with;
// the masks still mark the real frames.
BOOST_AUTO_TEST_CASE(fixed_padding_gives_every_utterance_the_corpus_longest_length) {
  const auto corpus = data::synthesize(small(), 3);
  std::int64_t longest_audio = 0, longest_video = 0, shortest = 0;
  const auto frames = [](const std::vector<std::int64_t>& offsets, std::size_t i) { return offsets[i + 1] - offsets[i]; };
  for (std::size_t i = 0; i + 1 < corpus.audio_offsets.size(); ++i) {
    longest_audio = std::max(longest_audio, frames(corpus.audio_offsets, i));
    longest_video = std::max(longest_video, frames(corpus.video_offsets, i));
    if (frames(corpus.audio_offsets, i) < frames(corpus.audio_offsets, static_cast<std::size_t>(shortest)))
      shortest = static_cast<std::int64_t>(i);
  }
  data::Preparation p;
  p.fixed_length = true;
  for (const auto& idx : {std::vector<std::int64_t>{shortest}, std::vector<std::int64_t>{4, 9, shortest}}) {
    const auto b = data::make_batch(corpus, idx, p);
    BOOST_TEST(b.audio.size(1) == longest_audio);
    BOOST_TEST(b.video.size(1) == longest_video);
    const auto u = static_cast<std::size_t>(idx.back());
    BOOST_TEST(b.audio_mask[-1].sum().item<std::int64_t>() == frames(corpus.audio_offsets, u));
    BOOST_TEST(b.video_mask[-1].sum().item<std::int64_t>() == frames(corpus.video_offsets, u));
    BOOST_TEST(b.audio[-1].slice(0, frames(corpus.audio_offsets, u)).abs().sum().item<float>() == 0.0f);
  }
  BOOST_TEST(data::make_batch(corpus, {shortest}).audio.size(1) < longest_audio);  // batch padding: its own length
}

BOOST_AUTO_TEST_CASE(normalisation_uses_the_training_set_only) {
  const auto corpus = data::synthesize(small(), 3);
  const std::vector<std::int64_t> train{0, 1, 2, 3};
  const auto n = data::audio_normalization(corpus, train);
  BOOST_REQUIRE(n.mean.size() == 130u);
  // The normalised training frames have mean 0 and sd 1 per feature.
  data::Preparation p;
  p.audio = &n;
  const auto b = data::make_batch(corpus, train, p);
  const auto frames = b.audio.index({b.audio_mask});  // [frames, 130]
  BOOST_TEST(frames.mean(0).abs().max().item<float>() < 1e-4f);
  BOOST_TEST((frames.std(0, /*unbiased=*/false) - 1).abs().max().item<float>() < 1e-3f);
  // Other utterances are normalised with the same statistics, not their own.
  const auto other = data::make_batch(corpus, {10}, p);
  const auto raw = corpus.audio[corpus.audio_offsets[10] * 130 + 5];
  BOOST_TEST(other.audio[0][0][5].item<float>() == (raw - n.mean[5]) * n.inv_std[5],
             boost::test_tools::tolerance(1e-5f));
}

BOOST_AUTO_TEST_CASE(frame_masking_is_seeded_by_utterance_not_batch) {
  const auto corpus = data::synthesize(small(), 3);
  data::Preparation p;
  p.masking = {data::Zero::video, 0.3, 7};
  const auto alone = data::make_batch(corpus, {5}, p);
  const auto together = data::make_batch(corpus, {2, 5, 9}, p);
  const auto frames = corpus.video_offsets[6] - corpus.video_offsets[5];
  const auto zeroed = [](const at::Tensor& v, std::int64_t n) {
    std::int64_t count = 0;
    for (std::int64_t f = 0; f < n; ++f) count += v[f].abs().sum().item<float>() == 0.0f;
    return count;
  };
  // 70 % of the frames are zeroed; the same ones whatever the batch.
  BOOST_TEST(zeroed(alone.video[0], frames) == std::llround(0.7 * frames));
  BOOST_TEST(at::equal(alone.video[0].narrow(0, 0, frames), together.video[1].narrow(0, 0, frames)));
  BOOST_TEST(alone.video_mask.sum().item<std::int64_t>() == frames);  // masked frames stay valid
  BOOST_TEST(alone.audio.abs().sum().item<float>() > 0.0f);           // the other modality is untouched
  p.masking.seed = 8;
  BOOST_TEST(!at::equal(data::make_batch(corpus, {5}, p).video, alone.video));  // another trial, other frames
}

BOOST_AUTO_TEST_CASE(length_buckets_keep_every_utterance_and_cut_padding) {
  auto o = small();
  o.utterances_per_speaker = 40, o.min_audio_frames = 5, o.max_audio_frames = 80;
  const auto corpus = data::synthesize(o, 5);
  std::vector<std::int64_t> order(corpus.labels.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  std::mt19937_64 rng(1);
  data::shuffle_in_place(order, rng);
  const std::int64_t batch = 16;
  auto padded_frames = [&](const std::vector<std::int64_t>& o) {  // what the batches cost
    std::int64_t total = 0;
    for (const auto& b : data::chunk(o, batch)) {
      std::int64_t longest = 0;
      for (auto i : b) longest = std::max(longest, data::frames_of(corpus, i));
      total += longest * static_cast<std::int64_t>(b.size());
    }
    return total;
  };
  auto bucketed = order;
  data::bucket_by_length(bucketed, corpus, batch, rng, 4);
  BOOST_TEST(std::is_permutation(bucketed.begin(), bucketed.end(), order.begin(), order.end()));
  const auto batches = data::chunk(bucketed, batch);
  for (std::size_t b = 0; b + 1 < batches.size(); ++b) BOOST_TEST(batches[b].size() == static_cast<std::size_t>(batch));
  BOOST_TEST(padded_frames(bucketed) < 0.8 * static_cast<double>(padded_frames(order)));
  // The batch order is random: another draw gives another order of the same batches.
  auto again = order;
  data::bucket_by_length(again, corpus, batch, rng, 4);
  BOOST_TEST(!std::equal(again.begin(), again.end(), bucketed.begin()));
}
