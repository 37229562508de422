#include "auxgrid/data/corpus.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/hash.hpp"

namespace auxgrid::data {

Split speaker_split(const std::vector<std::string>& utterance_speakers, std::uint64_t seed, double train_fraction,
                    double dev_fraction, const std::string& where) {
  std::map<std::string, std::vector<std::int64_t>> by_speaker;  // ordered: the split must not depend on file order
  for (std::size_t i = 0; i < utterance_speakers.size(); ++i) by_speaker[utterance_speakers[i]].push_back(i);
  AUXGRID_CHECK(by_speaker.size() >= 3, "corpus '{}' has {} speaker(s); a speaker-independent split needs at least 3",
                where, by_speaker.size());
  AUXGRID_CHECK(train_fraction + dev_fraction < 1.0, "train and dev fractions ({} + {}) leave nothing for test",
                train_fraction, dev_fraction);

  std::vector<const std::vector<std::int64_t>*> speakers;
  for (const auto& kv : by_speaker) speakers.push_back(&kv.second);
  std::mt19937_64 rng(seed);
  shuffle_in_place(speakers, rng);

  const double n = static_cast<double>(utterance_speakers.size());
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

Normalization audio_normalization(const store::CorpusData& corpus, const std::vector<std::int64_t>& train) {
  const auto dim = corpus.info.audio_dim;
  std::vector<double> sum(dim, 0.0), square(dim, 0.0);
  std::int64_t frames = 0;
  for (auto i : train)
    for (auto f = corpus.audio_offsets[i]; f < corpus.audio_offsets[i + 1]; ++f, ++frames)
      for (std::int64_t k = 0; k < dim; ++k) {
        const double x = corpus.audio[f * dim + k];
        sum[k] += x, square[k] += x * x;
      }
  AUXGRID_CHECK(frames > 0, "corpus '{}': the training set has no audio frames to normalise with", corpus.info.path);
  Normalization n;
  for (std::int64_t k = 0; k < dim; ++k) {
    const double mean = sum[k] / frames;
    const double variance = std::max(0.0, square[k] / frames - mean * mean);
    n.mean.push_back(static_cast<float>(mean));
    n.inv_std.push_back(static_cast<float>(1.0 / std::max(std::sqrt(variance), 1e-8)));  // constant features stay 0
  }
  return n;
}

namespace {

// The basis of the frame masks' hash: FNV-1a's offset basis with its last
// digit lost, a slip that is now frozen, since every masked evaluation
// condition of every stored result was drawn with it.
constexpr std::uint64_t kFrameMaskHashBasis = 1469598103934665603ull;

std::uint64_t hash_of(const std::string& text, std::uint64_t seed) {
  return fnv1a(text.data(), text.size(), kFrameMaskHashBasis ^ (seed * 0x9E3779B97F4A7C15ull));
}

// The most frames of one modality among the given utterances (at least 1).
std::int64_t longest_of(const std::vector<std::int64_t>& offsets, const std::vector<std::int64_t>& indices) {
  std::int64_t longest = 1;
  for (auto i : indices) longest = std::max(longest, offsets[i + 1] - offsets[i]);
  return longest;
}

// The same over the whole corpus (offsets holds one more entry than utterances).
std::int64_t corpus_longest(const std::vector<std::int64_t>& offsets) {
  std::int64_t longest = 1;
  for (std::size_t i = 0; i + 1 < offsets.size(); ++i) longest = std::max(longest, offsets[i + 1] - offsets[i]);
  return longest;
}

// One modality of a batch: [B, longest, dim] plus the validity mask.
at::Tensor pad(const std::vector<float>& features, const std::vector<std::int64_t>& offsets, std::int64_t dim,
               const std::vector<std::int64_t>& indices, const std::vector<bool>& zeroed, const Normalization* norm,
               std::int64_t longest, at::Tensor& mask) {
  const auto batch = static_cast<std::int64_t>(indices.size());
  auto out = at::zeros({batch, longest, dim}, at::kFloat);
  mask = at::zeros({batch, longest}, at::kBool);
  float* dst = out.data_ptr<float>();
  bool* valid = mask.data_ptr<bool>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto i = indices[b];
    const auto frames = offsets[i + 1] - offsets[i];
    std::fill(valid + b * longest, valid + b * longest + frames, true);
    if (zeroed[b]) continue;
    const float* src = features.data() + offsets[i] * dim;
    float* row = dst + b * longest * dim;
    if (!norm) {
      std::memcpy(row, src, sizeof(float) * frames * dim);
      continue;
    }
    for (std::int64_t f = 0; f < frames * dim; ++f) row[f] = (src[f] - norm->mean[f % dim]) * norm->inv_std[f % dim];
  }
  return out;
}

// Zeroes round((1 - keep) * frames) frames of each utterance, drawn by (seed, id).
void mask_frames(at::Tensor& padded, const store::CorpusData& corpus, const std::vector<std::int64_t>& indices,
                 const std::vector<std::int64_t>& offsets, const FrameMasking& m) {
  const auto longest = padded.size(1), dim = padded.size(2);
  float* data = padded.data_ptr<float>();
  for (std::size_t b = 0; b < indices.size(); ++b) {
    const auto i = indices[b];
    const auto frames = offsets[i + 1] - offsets[i];
    const auto dropped = static_cast<std::int64_t>(std::llround((1.0 - m.keep) * static_cast<double>(frames)));
    std::vector<std::int64_t> order(frames);
    for (std::int64_t f = 0; f < frames; ++f) order[f] = f;
    std::mt19937_64 rng(hash_of(corpus.utterance_ids[i], m.seed));
    for (std::int64_t k = 0; k < dropped; ++k) {  // partial Fisher-Yates: the first `dropped` of a permutation
      std::swap(order[k], order[k + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(frames - k))]);
      std::fill_n(data + (static_cast<std::int64_t>(b) * longest + order[k]) * dim, dim, 0.0f);
    }
  }
}

}  // namespace

Batch make_batch(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices, const Preparation& p) {
  AUXGRID_CHECK(!indices.empty(), "make_batch: no utterances");
  AUXGRID_CHECK(p.zero.empty() || p.zero.size() == indices.size(), "make_batch: {} zero flags for {} utterances",
                p.zero.size(), indices.size());
  std::vector<bool> zero_audio(indices.size(), false), zero_video(indices.size(), false);
  for (std::size_t b = 0; b < p.zero.size(); ++b)
    zero_audio[b] = p.zero[b] == Zero::audio, zero_video[b] = p.zero[b] == Zero::video;

  Batch batch;
  batch.utterances = indices;
  const auto longest = [&](const std::vector<std::int64_t>& offsets) {
    return p.fixed_length ? corpus_longest(offsets) : longest_of(offsets, indices);
  };
  batch.audio = pad(corpus.audio, corpus.audio_offsets, corpus.info.audio_dim, indices, zero_audio, p.audio,
                    longest(corpus.audio_offsets), batch.audio_mask);
  batch.video = pad(corpus.video, corpus.video_offsets, corpus.info.video_dim, indices, zero_video, nullptr,
                    longest(corpus.video_offsets), batch.video_mask);
  if (p.masking.modality == Zero::audio) mask_frames(batch.audio, corpus, indices, corpus.audio_offsets, p.masking);
  if (p.masking.modality == Zero::video) mask_frames(batch.video, corpus, indices, corpus.video_offsets, p.masking);
  batch.labels = at::empty({static_cast<std::int64_t>(indices.size())}, at::kLong);
  auto* labels = batch.labels.data_ptr<std::int64_t>();
  for (std::size_t b = 0; b < indices.size(); ++b) labels[b] = corpus.labels[indices[b]];
  return batch;
}

void zero_modalities(Batch& batch, const std::vector<Zero>& zero) {
  for (std::size_t b = 0; b < zero.size(); ++b) {
    if (zero[b] == Zero::audio) batch.audio[static_cast<std::int64_t>(b)].zero_();
    if (zero[b] == Zero::video) batch.video[static_cast<std::int64_t>(b)].zero_();
  }
}

std::int64_t frames_of(const store::CorpusData& corpus, std::int64_t i) {
  return corpus.audio_offsets[i + 1] - corpus.audio_offsets[i] + corpus.video_offsets[i + 1] - corpus.video_offsets[i];
}

void bucket_by_length(std::vector<std::int64_t>& order, const store::CorpusData& corpus, std::int64_t batch_size,
                      std::mt19937_64& rng, std::int64_t pool_batches) {
  const auto pool = static_cast<std::size_t>(batch_size * pool_batches);
  const auto longer = [&](std::int64_t a, std::int64_t b) { return frames_of(corpus, a) > frames_of(corpus, b); };
  for (std::size_t start = 0; start < order.size(); start += pool)
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start),
                     order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + pool)), longer);
  auto batches = chunk(order, batch_size);
  // Every pool but the last is a whole number of batches, so only the last batch can be short.
  const bool short_last = !batches.empty() && static_cast<std::int64_t>(batches.back().size()) < batch_size;
  shuffle_in_place(batches, rng);
  if (short_last) {
    const auto it = std::find_if(batches.begin(), batches.end(),
                                 [&](const auto& b) { return static_cast<std::int64_t>(b.size()) < batch_size; });
    std::rotate(it, it + 1, batches.end());
  }
  order.clear();
  for (const auto& b : batches) order.insert(order.end(), b.begin(), b.end());
}

std::vector<std::vector<std::int64_t>> chunk(const std::vector<std::int64_t>& indices, std::int64_t batch_size) {
  std::vector<std::vector<std::int64_t>> out;
  for (std::size_t start = 0; start < indices.size(); start += batch_size)
    out.emplace_back(indices.begin() + start, indices.begin() + std::min(indices.size(), start + batch_size));
  return out;
}

}  // namespace auxgrid::data
