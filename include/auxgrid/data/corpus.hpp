#pragma once
// The corpus in memory, speaker-independent splits, and batch assembly.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "auxgrid/data/batch.hpp"
#include "auxgrid/store/corpus_file.hpp"

namespace auxgrid::data {

struct Split {
  std::vector<std::int64_t> train, dev, test;  // corpus indices
};

// Trial `seed`'s split: speakers shuffled by the seed, each assigned to the
// set (train/dev/test) furthest below its target share of utterances; no
// speaker is in two sets, and every set has at least one speaker. The same
// corpus and seed give the same split for every model.
// speakers[i] is utterance i's speaker; `where` names the corpus in errors.
Split speaker_split(const std::vector<std::string>& speakers, std::uint64_t seed, double train_fraction,
                    double dev_fraction, const std::string& where);
inline Split speaker_split(const store::CorpusData& corpus, std::uint64_t seed, double train_fraction,
                           double dev_fraction) {
  return speaker_split(corpus.speakers, seed, train_fraction, dev_fraction, corpus.info.path);
}

// What is done to a batch's inputs (test-time conditions, modality dropping).
enum class Zero { none, audio, video };

// Per-feature z-normalisation (x - mean) * inv_std of the audio features.
struct Normalization {
  std::vector<float> mean, inv_std;
};
// Statistics over the audio frames of `train` only (docs/protocol.md, "Normalisation": the training
// speakers' statistics normalise every set).
Normalization audio_normalization(const store::CorpusData& corpus, const std::vector<std::int64_t>& train);

// Test-time random frame masking: in each utterance, a random (1 - keep)
// share of the modality's frames is zeroed. The frames drawn depend only on
// (seed, utterance id), so every model and every batching sees the same masks.
struct FrameMasking {
  Zero modality = Zero::none;  // audio or video; none = off
  double keep = 1.0;
  std::uint64_t seed = 0;
};

struct Preparation {
  // zero[i] zeroes a modality of the i-th utterance (its frames stay valid:
  // the modality is "missing", not shorter). Empty = nothing zeroed.
  std::vector<Zero> zero;
  const Normalization* audio = nullptr;  // nullptr = raw features
  FrameMasking masking;
  // data.padding = fixed: every utterance padded to the corpus's longest one
  // per modality (the released pipeline's data files), not to the batch's.
  bool fixed_length = false;
};

// Pads the given utterances into one batch, prepared as asked. Normalisation
// comes first, so a zeroed frame is zero in the normalised space.
Batch make_batch(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices,
                 const Preparation& preparation = {});
inline Batch make_batch(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices,
                        const std::vector<Zero>& zero) {
  Preparation p;
  p.zero = zero;
  return make_batch(corpus, indices, p);
}

// Zeroes a modality of some utterances of an assembled batch, as
// Preparation::zero would have (their frames stay valid).
void zero_modalities(Batch& batch, const std::vector<Zero>& zero);

// Frames of utterance i, audio and video together: the work it brings to a batch.
std::int64_t frames_of(const store::CorpusData& corpus, std::int64_t i);

// Reorders a shuffled training order so that chunk(order, batch_size) gives
// batches of similar lengths: pools of `pool_batches` batches are sorted by
// length and cut into batches, and the batches are shuffled, the one short
// batch (if any) kept last. Randomness stays at the level of pools and batches.
void bucket_by_length(std::vector<std::int64_t>& order, const store::CorpusData& corpus, std::int64_t batch_size,
                      std::mt19937_64& rng, std::int64_t pool_batches = 50);

// Consecutive batches of `batch_size` over `indices` (the last may be short).
std::vector<std::vector<std::int64_t>> chunk(const std::vector<std::int64_t>& indices, std::int64_t batch_size);

// Fisher-Yates with our own index draw, so the permutation does not depend on
// the standard library's distribution implementation.
template <typename T>
void shuffle_in_place(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

}  // namespace auxgrid::data
