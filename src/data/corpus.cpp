#include "auxgrid/data/corpus.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "auxgrid/core/check.hpp"

namespace auxgrid::data {

Split speaker_split(const store::CorpusData& corpus, std::uint64_t seed, double train_fraction, double dev_fraction) {
  std::map<std::string, std::vector<std::int64_t>> by_speaker;  // ordered: the split must not depend on file order
  for (std::size_t i = 0; i < corpus.speakers.size(); ++i) by_speaker[corpus.speakers[i]].push_back(i);
  AUXGRID_CHECK(by_speaker.size() >= 3, "corpus '{}' has {} speaker(s); a speaker-independent split needs at least 3",
                corpus.info.path, by_speaker.size());
  AUXGRID_CHECK(train_fraction + dev_fraction < 1.0, "train and dev fractions ({} + {}) leave nothing for test",
                train_fraction, dev_fraction);

  std::vector<const std::vector<std::int64_t>*> speakers;
  for (const auto& kv : by_speaker) speakers.push_back(&kv.second);
  std::mt19937_64 rng(seed);
  shuffle_in_place(speakers, rng);

  const double n = static_cast<double>(corpus.labels.size());
  const double target[3] = {train_fraction * n, dev_fraction * n, (1.0 - train_fraction - dev_fraction) * n};
  std::vector<std::int64_t>* sets[3];
  Split split;
  sets[0] = &split.train, sets[1] = &split.dev, sets[2] = &split.test;
  for (std::size_t s = 0; s < speakers.size(); ++s) {
    int pick = 0;
    if (s < 3) {
      pick = static_cast<int>(s);  // every set gets a speaker first
    } else {
      double best = -1e300;
      for (int k = 0; k < 3; ++k) {
        const double deficit = target[k] - static_cast<double>(sets[k]->size());
        if (deficit > best) best = deficit, pick = k;
      }
    }
    sets[pick]->insert(sets[pick]->end(), speakers[s]->begin(), speakers[s]->end());
  }
  for (auto* set : sets) std::sort(set->begin(), set->end());
  return split;
}

namespace {
at::Tensor pad(const std::vector<float>& features, const std::vector<std::int64_t>& offsets, std::int64_t dim,
               const std::vector<std::int64_t>& indices, const std::vector<bool>& zeroed, at::Tensor& mask) {
  const auto batch = static_cast<std::int64_t>(indices.size());
  std::int64_t longest = 1;
  for (auto i : indices) longest = std::max(longest, offsets[i + 1] - offsets[i]);
  auto out = at::zeros({batch, longest, dim}, at::kFloat);
  mask = at::zeros({batch, longest}, at::kBool);
  float* dst = out.data_ptr<float>();
  bool* valid = mask.data_ptr<bool>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto i = indices[b];
    const auto frames = offsets[i + 1] - offsets[i];
    std::fill(valid + b * longest, valid + b * longest + frames, true);
    if (!zeroed[b])
      std::memcpy(dst + b * longest * dim, features.data() + offsets[i] * dim, sizeof(float) * frames * dim);
  }
  return out;
}
}  // namespace

Batch make_batch(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices,
                 const std::vector<Zero>& zero) {
  AUXGRID_CHECK(!indices.empty(), "make_batch: no utterances");
  AUXGRID_CHECK(zero.empty() || zero.size() == indices.size(), "make_batch: {} zero flags for {} utterances",
                zero.size(), indices.size());
  std::vector<bool> zero_audio(indices.size(), false), zero_video(indices.size(), false);
  for (std::size_t b = 0; b < zero.size(); ++b) zero_audio[b] = zero[b] == Zero::audio, zero_video[b] = zero[b] == Zero::video;

  Batch batch;
  batch.utterances = indices;
  batch.audio = pad(corpus.audio, corpus.audio_offsets, corpus.info.audio_dim, indices, zero_audio, batch.audio_mask);
  batch.video = pad(corpus.video, corpus.video_offsets, corpus.info.video_dim, indices, zero_video, batch.video_mask);
  batch.labels = at::empty({static_cast<std::int64_t>(indices.size())}, at::kLong);
  auto* labels = batch.labels.data_ptr<std::int64_t>();
  for (std::size_t b = 0; b < indices.size(); ++b) labels[b] = corpus.labels[indices[b]];
  return batch;
}

std::vector<std::vector<std::int64_t>> chunk(const std::vector<std::int64_t>& indices, std::int64_t batch_size) {
  std::vector<std::vector<std::int64_t>> out;
  for (std::size_t start = 0; start < indices.size(); start += batch_size)
    out.emplace_back(indices.begin() + start, indices.begin() + std::min(indices.size(), start + batch_size));
  return out;
}

}  // namespace auxgrid::data
