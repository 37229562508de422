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
Split speaker_split(const store::CorpusData& corpus, std::uint64_t seed, double train_fraction, double dev_fraction);

// What is done to a batch's inputs (test-time conditions, modality dropping).
enum class Zero { none, audio, video };

// Pads the given utterances into one batch; `zero[i]` zeroes a modality of
// the i-th utterance (its frames stay valid: the modality is "missing", not
// shorter). An empty `zero` leaves everything intact.
Batch make_batch(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices,
                 const std::vector<Zero>& zero = {});

// Consecutive batches of `batch_size` over `indices` (the last may be short).
std::vector<std::vector<std::int64_t>> chunk(const std::vector<std::int64_t>& indices, std::int64_t batch_size);

// Fisher-Yates with our own index draw, so the permutation does not depend on
// the standard library's distribution implementation.
template <typename T>
void shuffle_in_place(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

}  // namespace auxgrid::data
