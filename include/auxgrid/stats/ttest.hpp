#pragma once
// Paired t-test on per-seed scores (Student t from Boost.Math), and the
// number of pairs it needs to detect a difference (noncentral t).
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

// The power of the one-tailed (Tail::greater) paired t-test at level alpha
// over n >= 2 pairs whose differences have mean delta and sd `sd`: the
// chance that it finds p < alpha, 1 - F(t(1 - alpha, n - 1)) under the
// noncentral t with n - 1 degrees of freedom and noncentrality
// delta sqrt(n) / sd; R's power.t.test(type = "paired", alternative =
// "one.sided"). With sd = 0 every pair differs by delta: 1 for delta > 0,
// else 0 (paired_t_test's p-values then).
double paired_t_power(int n, double delta, double sd, double alpha = 0.05);

// The most pairs paired_trials_needed looks at.
inline constexpr int kMaxPairs = 100000;

// The smallest n >= 2 whose paired_t_power reaches `power`: R's
// ceiling(power.t.test(delta, sd, power, type = "paired", alternative =
// "one.sided")$n). 0 when delta <= 0 (no positive difference to detect);
// kMaxPairs + 1 when more than kMaxPairs pairs would be needed.
int paired_trials_needed(double delta, double sd, double power = 0.8, double alpha = 0.05);

}  // namespace auxgrid::stats
