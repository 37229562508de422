#define BOOST_TEST_MODULE data
#include <ATen/ATen.h>

#include <boost/test/unit_test.hpp>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/data/synth.hpp"

using namespace auxgrid;

namespace {
data::SynthOptions small() {
  auto o = data::synth_preset("tiny");
  o.speakers = 6, o.utterances_per_speaker = 10, o.video_dim = 8, o.max_audio_frames = 30;
  return o;
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
  for (std::uint64_t seed = 0; seed < 5; ++seed) any_differs |= data::speaker_split(corpus, seed, 0.7, 0.15).test != s.test;
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
