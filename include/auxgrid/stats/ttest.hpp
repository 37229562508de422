#pragma once
// Paired t-test on per-seed scores (Student t from Boost.Math).
#include <vector>

namespace auxgrid::stats {

enum class Tail { greater, less, two_sided };  // H1 for mean(a - b): > 0, < 0, != 0

struct TTest {
  int n = 0;  // pairs
  double mean_a = 0, mean_b = 0;
  double mean_diff = 0;  // mean(a - b)
  double sd_diff = 0;    // sample sd of a - b
  double t = 0;          // mean_diff / (sd_diff / sqrt(n)); +-inf when sd_diff = 0 and mean_diff != 0
  double df = 0;         // n - 1
  double p = 1;          // p-value for the chosen tail; NaN when n < 2
  // 95 % confidence interval of the mean difference (t quantile with df
  // degrees of freedom): the effect's size, whatever the tail; NaN when n < 2.
  double ci95_low = 0, ci95_high = 0;
};

// a[i] and b[i] are the scores of the same trial. Throws if sizes differ.
TTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b, Tail tail = Tail::greater);

}  // namespace auxgrid::stats
