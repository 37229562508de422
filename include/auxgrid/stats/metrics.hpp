#pragma once
// Classification metrics. Labels and predictions are class indices 0..C-1.
#include <cstdint>
#include <vector>

namespace auxgrid::stats {

// Row = true class, column = predicted class; row-major C x C.
struct Confusion {
  int num_classes = 0;
  std::vector<std::int64_t> counts;
  std::int64_t at(int truth, int predicted) const { return counts[truth * num_classes + predicted]; }
  std::int64_t total() const;
};

Confusion confusion_matrix(const std::vector<std::int32_t>& labels, const std::vector<std::int32_t>& predictions,
                           int num_classes);

// Micro-F1 (= accuracy for single-label multi-class).
double micro_f1(const Confusion& c);
// Mean of per-class F1 over the classes that occur in labels or predictions
// (scikit-learn's f1_score(average="macro") on the same inputs).
double macro_f1(const Confusion& c);

double mean(const std::vector<double>& x);
// Sample standard deviation (n - 1); 0 for fewer than two values.
double sample_sd(const std::vector<double>& x);

}  // namespace auxgrid::stats
