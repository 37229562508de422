#pragma once
// Training and evaluation of one cell (PROTOCOL.md): speaker-independent split
// from the seed, Adam with gradient-norm clipping, weighted head losses, the
// standard / optimized procedures, best-dev-loss model selection, then every
// evaluation condition on the test set.
#include <functional>
#include <string>
#include <vector>

#include "auxgrid/core/grid.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/result_file.hpp"

namespace auxgrid::train {

struct EpochReport {
  int epoch = 0, epochs = 0;  // epoch is 1-based
  store::EpochRecord record;
  bool best = false;          // lowest dev loss so far
};
using EpochCallback = std::function<void(const EpochReport&)>;

// The evaluation conditions this build knows.
const std::vector<std::string>& known_conditions();
std::vector<std::string> conditions_of(const Config& config);

// Trains and evaluates `cell` on `corpus`; the result is complete but for
// provenance, which the caller adds. Deterministic for a given thread count.
store::CellResult train_cell(const Cell& cell, const store::CorpusData& corpus, const EpochCallback& on_epoch = {});

}  // namespace auxgrid::train
