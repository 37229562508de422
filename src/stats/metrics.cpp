#include "auxgrid/stats/metrics.hpp"

#include <cmath>
#include <limits>
#include <numeric>

#include "auxgrid/core/check.hpp"

namespace auxgrid::stats {

std::int64_t Confusion::total() const { return std::accumulate(counts.begin(), counts.end(), std::int64_t{0}); }

Confusion confusion_matrix(const std::vector<std::int32_t>& labels, const std::vector<std::int32_t>& predictions,
                           int num_classes) {
  AUXGRID_CHECK(num_classes > 0, "confusion matrix: num_classes must be positive, got {}", num_classes);
  AUXGRID_CHECK(labels.size() == predictions.size(), "confusion matrix: {} labels but {} predictions", labels.size(),
                predictions.size());
  Confusion c;
  c.num_classes = num_classes;
  c.counts.assign(static_cast<std::size_t>(num_classes) * num_classes, 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int truth = labels[i], predicted = predictions[i];
    AUXGRID_CHECK(truth >= 0 && truth < num_classes, "confusion matrix: label {} at index {} is outside [0, {})", truth,
                  i, num_classes);
    AUXGRID_CHECK(predicted >= 0 && predicted < num_classes,
                  "confusion matrix: prediction {} at index {} is outside [0, {})", predicted, i, num_classes);
    ++c.counts[static_cast<std::size_t>(truth) * num_classes + predicted];
  }
  return c;
}

// An empty matrix scores 0, as scikit-learn does (with a warning) for no samples.
double micro_f1(const Confusion& c) {
  const std::int64_t total = c.total();
  if (total == 0) return 0.0;
  std::int64_t correct = 0;
  for (int k = 0; k < c.num_classes; ++k) correct += c.at(k, k);
  return static_cast<double>(correct) / static_cast<double>(total);
}

double macro_f1(const Confusion& c) {
  double sum = 0;
  int present = 0;
  for (int k = 0; k < c.num_classes; ++k) {
    std::int64_t in_labels = 0, in_predictions = 0;  // row and column sums
    for (int j = 0; j < c.num_classes; ++j) {
      in_labels += c.at(k, j);
      in_predictions += c.at(j, k);
    }
    // A class seen in neither labels nor predictions has an undefined F1 and
    // is left out of the average, like scikit-learn's labels=None.
    if (in_labels + in_predictions == 0) continue;
    // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (row sum + column sum)
    sum += 2.0 * static_cast<double>(c.at(k, k)) / static_cast<double>(in_labels + in_predictions);
    ++present;
  }
  return present == 0 ? 0.0 : sum / present;
}

// NaN for no values: the mean of nothing is undefined, and NaN makes that
// visible downstream instead of passing for a real score of 0.
double mean(const std::vector<double>& x) {
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double sample_sd(const std::vector<double>& x) {
  if (x.size() < 2) return 0.0;
  const double m = mean(x);
  double squares = 0;
  for (double v : x) squares += (v - m) * (v - m);  // two passes: no cancellation of large sums
  return std::sqrt(squares / static_cast<double>(x.size() - 1));
}

}  // namespace auxgrid::stats
