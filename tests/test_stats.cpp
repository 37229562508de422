#define BOOST_TEST_MODULE stats
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "auxgrid/core/check.hpp"
#include "auxgrid/stats/metrics.hpp"
#include "auxgrid/stats/multiple_testing.hpp"
#include "auxgrid/stats/ttest.hpp"

namespace tt = boost::test_tools;
using namespace auxgrid::stats;

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(confusion_counts_truth_by_row) {
  const Confusion c = confusion_matrix({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 2, 0}, 3);
  BOOST_TEST(c.num_classes == 3);
  BOOST_TEST(c.total() == 6);
  BOOST_TEST(c.at(0, 0) == 1);
  BOOST_TEST(c.at(0, 1) == 1);
  BOOST_TEST(c.at(1, 1) == 2);
  BOOST_TEST(c.at(2, 2) == 1);
  BOOST_TEST(c.at(2, 0) == 1);
  BOOST_TEST(c.at(1, 0) == 0);
  BOOST_TEST(c.at(0, 2) == 0);
}

BOOST_AUTO_TEST_CASE(confusion_rejects_bad_input) {
  BOOST_CHECK_THROW(confusion_matrix({0, 1}, {0}, 2), auxgrid::Error);
  BOOST_CHECK_THROW(confusion_matrix({0, 2}, {0, 1}, 2), auxgrid::Error);
  BOOST_CHECK_THROW(confusion_matrix({0, 1}, {0, -1}, 2), auxgrid::Error);
  BOOST_CHECK_THROW(confusion_matrix({}, {}, 0), auxgrid::Error);
}

BOOST_AUTO_TEST_CASE(f1_on_three_classes) {
  // Per class 2 TP / (row + column): class 0: 2/4, class 1: 4/5, class 2: 2/3.
  const Confusion c = confusion_matrix({0, 0, 1, 1, 2, 2}, {0, 1, 1, 1, 2, 0}, 3);
  BOOST_TEST(micro_f1(c) == 4.0 / 6, tt::tolerance(1e-12));
  BOOST_TEST(macro_f1(c) == (0.5 + 0.8 + 2.0 / 3) / 3, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(macro_f1_averages_over_classes_in_labels_or_predictions) {
  // Class 2 is predicted but never true (F1 0, counted); class 3 occurs
  // nowhere (left out). scikit-learn: f1_score([0,0,1,1], [0,2,1,1],
  // average="macro") = (2/3 + 1 + 0) / 3 = 5/9.
  const Confusion c = confusion_matrix({0, 0, 1, 1}, {0, 2, 1, 1}, 4);
  BOOST_TEST(micro_f1(c) == 0.75, tt::tolerance(1e-12));
  BOOST_TEST(macro_f1(c) == 5.0 / 9, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(f1_of_perfect_and_empty_predictions) {
  const Confusion perfect = confusion_matrix({0, 1, 2}, {0, 1, 2}, 3);
  BOOST_TEST(micro_f1(perfect) == 1.0);
  BOOST_TEST(macro_f1(perfect) == 1.0);
  const Confusion empty = confusion_matrix({}, {}, 3);
  BOOST_TEST(micro_f1(empty) == 0.0);
  BOOST_TEST(macro_f1(empty) == 0.0);
}

BOOST_AUTO_TEST_CASE(mean_and_sample_sd) {
  // Sum of squared deviations from 5 is 32: sd = sqrt(32 / 7).
  const std::vector<double> x{2, 4, 4, 4, 5, 5, 7, 9};
  BOOST_TEST(mean(x) == 5.0, tt::tolerance(1e-12));
  BOOST_TEST(sample_sd(x) == std::sqrt(32.0 / 7), tt::tolerance(1e-12));
  BOOST_TEST(sample_sd({3.0}) == 0.0);
  BOOST_TEST(sample_sd({}) == 0.0);
  BOOST_TEST(std::isnan(mean({})));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ttest)

// Student (1908), "The probable error of a mean", Biometrika 6(1): extra hours
// of sleep with two drugs for the same 10 patients (R's `sleep` data).
// R: t.test(extra ~ group, data = sleep, paired = TRUE) ->
//   t = -4.0621, df = 9, p-value = 0.002833, mean difference -1.58,
//   95 percent confidence interval -2.4598858 -0.7001142.
const std::vector<double> kDrug1{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
const std::vector<double> kDrug2{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

BOOST_AUTO_TEST_CASE(student_sleep_two_sided) {
  const TTest r = paired_t_test(kDrug1, kDrug2, Tail::two_sided);
  BOOST_TEST(r.n == 10);
  BOOST_TEST(r.df == 9.0);
  BOOST_TEST(r.mean_a == 0.75, tt::tolerance(1e-12));
  BOOST_TEST(r.mean_b == 2.33, tt::tolerance(1e-12));
  BOOST_TEST(r.mean_diff == -1.58, tt::tolerance(1e-12));
  BOOST_TEST(r.sd_diff == 1.229995, tt::tolerance(1e-6));  // R: sd(sleep$extra[1:10] - sleep$extra[11:20])
  BOOST_TEST(r.t == -4.0621, tt::tolerance(1e-4));
  BOOST_TEST(r.p == 0.002833, tt::tolerance(1e-3));
  BOOST_TEST(r.ci95_low == -2.4598858, tt::tolerance(1e-6));
  BOOST_TEST(r.ci95_high == -0.7001142, tt::tolerance(1e-6));
  // The interval does not depend on the tail tested.
  BOOST_TEST(paired_t_test(kDrug1, kDrug2, Tail::greater).ci95_low == r.ci95_low);
}

BOOST_AUTO_TEST_CASE(one_tailed_is_half_of_two_sided_in_the_right_direction) {
  const double two_sided = paired_t_test(kDrug1, kDrug2, Tail::two_sided).p;
  const TTest less = paired_t_test(kDrug1, kDrug2, Tail::less);
  const TTest greater = paired_t_test(kDrug1, kDrug2, Tail::greater);
  BOOST_TEST(less.p == two_sided / 2, tt::tolerance(1e-12));
  BOOST_TEST(less.p == 0.0014165, tt::tolerance(1e-3));  // 0.002833 / 2
  BOOST_TEST(greater.p == 1 - two_sided / 2, tt::tolerance(1e-12));
  // Swapping the samples flips the sign of t and the tail that is significant.
  const TTest swapped = paired_t_test(kDrug2, kDrug1, Tail::greater);
  BOOST_TEST(swapped.t == 4.0621, tt::tolerance(1e-4));
  BOOST_TEST(swapped.p == less.p, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(fewer_than_two_pairs_gives_no_p_value) {
  const TTest one = paired_t_test({0.8}, {0.7});
  BOOST_TEST(one.n == 1);
  BOOST_TEST(std::isnan(one.p));
  BOOST_TEST(one.mean_diff == 0.8 - 0.7, tt::tolerance(1e-12));
  const TTest none = paired_t_test({}, {}, Tail::two_sided);
  BOOST_TEST(none.n == 0);
  BOOST_TEST(std::isnan(none.p));
}

BOOST_AUTO_TEST_CASE(constant_nonzero_difference_is_certain_in_its_direction) {
  // Differences exactly 1 (representable), so sd_diff is exactly 0.
  const std::vector<double> a{3, 4, 5}, b{2, 3, 4};
  const TTest greater = paired_t_test(a, b, Tail::greater);
  BOOST_TEST(greater.sd_diff == 0.0);
  BOOST_TEST(greater.t == std::numeric_limits<double>::infinity());
  BOOST_TEST(greater.p == 0.0);
  BOOST_TEST(paired_t_test(a, b, Tail::less).p == 1.0);
  BOOST_TEST(paired_t_test(a, b, Tail::two_sided).p == 0.0);
  const TTest reversed = paired_t_test(b, a, Tail::greater);
  BOOST_TEST(reversed.t == -std::numeric_limits<double>::infinity());
  BOOST_TEST(reversed.p == 1.0);
  BOOST_TEST(paired_t_test(b, a, Tail::less).p == 0.0);
}

BOOST_AUTO_TEST_CASE(identical_scores_are_never_significant) {
  const std::vector<double> a{0.7, 0.75, 0.8};
  for (Tail tail : {Tail::greater, Tail::less, Tail::two_sided}) {
    const TTest r = paired_t_test(a, a, tail);
    BOOST_TEST(std::isnan(r.t));
    BOOST_TEST(r.p == 1.0);
  }
}

BOOST_AUTO_TEST_CASE(rejects_unpaired_or_non_finite_scores) {
  BOOST_CHECK_THROW(paired_t_test({1, 2, 3}, {1, 2}), auxgrid::Error);
  BOOST_CHECK_THROW(paired_t_test({1, std::numeric_limits<double>::quiet_NaN()}, {1, 2}), auxgrid::Error);
  BOOST_CHECK_THROW(paired_t_test({1, 2}, {1, std::numeric_limits<double>::infinity()}), auxgrid::Error);
}

BOOST_AUTO_TEST_SUITE_END()

// Expected values from R 4.2.2 (Debian's r-base-core), written in by hand:
// p.adjust(p, "holm") and p.adjust(p, "BH") with the default n (NA excluded).
BOOST_AUTO_TEST_SUITE(multiple_testing)

const double kNA = std::numeric_limits<double>::quiet_NaN();

void check_adjusted(const std::vector<double>& got, const std::vector<double>& want) {
  BOOST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST_CONTEXT("index " << i) {
      if (std::isnan(want[i]))
        BOOST_TEST(std::isnan(got[i]));
      else
        BOOST_TEST(got[i] == want[i], tt::tolerance(1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(unsorted_with_ties) {
  // By hand, m = 6, sorted 0.005 0.01 0.03 0.04 0.04 0.2. Holm: 6 x 0.005,
  // 5 x 0.01, 4 x 0.03, then 3 x 0.04 = 0.12 for both ties, 0.2. BH from the
  // top: 0.2, 6/5 x 0.04 = 0.048 (the other tie's 6/4 x 0.04 is larger), 6/3
  // x 0.03 = 0.06 -> 0.048, 6/2 x 0.01 = 0.03, 6 x 0.005 = 0.03.
  const std::vector<double> p{0.01, 0.04, 0.03, 0.005, 0.20, 0.04};
  check_adjusted(holm(p), {0.05, 0.12, 0.12, 0.03, 0.2, 0.12});
  check_adjusted(benjamini_hochberg(p), {0.03, 0.048, 0.048, 0.03, 0.2, 0.048});
}

BOOST_AUTO_TEST_CASE(ten_p_values_some_capped_at_one) {
  const std::vector<double> p{0.0021, 0.047, 0.012, 0.31, 0.012, 0.62, 0.0009, 0.048, 0.95, 0.2};
  check_adjusted(holm(p), {0.0189, 0.282, 0.096, 0.93, 0.096, 1, 0.009, 0.282, 1, 0.8});
  check_adjusted(benjamini_hochberg(p),
                 {0.0105, 0.08, 0.03, 0.3875, 0.03, 0.6888888888888888840, 0.009, 0.08, 0.95, 0.2857142857142857539});
  check_adjusted(holm({0.5, 0.6, 0.9}), {1, 1, 1});
  check_adjusted(benjamini_hochberg({0.5, 0.6, 0.9}), {0.9, 0.9, 0.9});
}

BOOST_AUTO_TEST_CASE(nan_stays_nan_and_is_not_counted) {
  // R: p.adjust(c(0.02, NA, 0.01, 0.04), ...) adjusts over m = 3.
  const std::vector<double> p{0.02, kNA, 0.01, 0.04};
  check_adjusted(holm(p), {0.04, kNA, 0.03, 0.04});
  check_adjusted(benjamini_hochberg(p), {0.03, kNA, 0.03, 0.04});
  check_adjusted(holm({kNA, kNA}), {kNA, kNA});
  check_adjusted(benjamini_hochberg({kNA, kNA}), {kNA, kNA});
}

BOOST_AUTO_TEST_CASE(one_or_no_p_value) {
  check_adjusted(holm({0.03}), {0.03});
  check_adjusted(benjamini_hochberg({0.03}), {0.03});
  BOOST_TEST(holm({}).empty());
  BOOST_TEST(benjamini_hochberg({}).empty());
}

BOOST_AUTO_TEST_CASE(rejects_p_values_outside_the_unit_interval) {
  BOOST_CHECK_THROW(holm({0.2, 1.5}), auxgrid::Error);
  BOOST_CHECK_THROW(benjamini_hochberg({-0.1}), auxgrid::Error);
}

BOOST_AUTO_TEST_SUITE_END()

// Expected values from R 4.2.2, written in by hand: power.t.test(n, delta, sd,
// sig.level = 0.05, type = "paired", alternative = "one.sided")$power, and
// ceiling of its $n for power = 0.8 (0.9); scipy.stats.nct agrees to 1e-11.
BOOST_AUTO_TEST_SUITE(power)

BOOST_AUTO_TEST_CASE(power_of_the_one_tailed_paired_t_test) {
  BOOST_TEST(paired_t_power(2, 1, 1) == 0.17956248755739923, tt::tolerance(1e-9));
  BOOST_TEST(paired_t_power(7, 1, 1) == 0.75439587422338505, tt::tolerance(1e-9));
  BOOST_TEST(paired_t_power(8, 1, 1) == 0.81501944155696693, tt::tolerance(1e-9));
  BOOST_TEST(paired_t_power(26, 0.5, 1) == 0.79805371439580408, tt::tolerance(1e-9));
  BOOST_TEST(paired_t_power(27, 0.5, 1) == 0.81183155170825205, tt::tolerance(1e-9));
  // Only delta / sd counts.
  BOOST_TEST(paired_t_power(27, 0.01, 0.02) == 0.81183155170825205, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(pairs_needed_match_r) {
  // The textbook case: R's n = 7.7276 -> 8 pairs.
  BOOST_TEST(paired_trials_needed(1, 1) == 8);
  BOOST_TEST(paired_trials_needed(0.5, 1) == 27);        // n = 26.1375
  BOOST_TEST(paired_trials_needed(0.01, 0.02) == 27);    // the same effect in F1 units
  BOOST_TEST(paired_trials_needed(0.004, 0.012) == 58);  // n = 57.0205
  BOOST_TEST(paired_trials_needed(2, 1) == 4);           // n = 3.3385
  BOOST_TEST(paired_trials_needed(1, 1, 0.9) == 11);     // n = 10.0811
}

BOOST_AUTO_TEST_CASE(pairs_needed_at_the_edges) {
  BOOST_TEST(paired_trials_needed(0.001, 1) == kMaxPairs + 1);  // R: n = 6182558.6
  BOOST_TEST(paired_trials_needed(0, 1) == 0);                  // nothing to detect
  BOOST_TEST(paired_trials_needed(-0.1, 1) == 0);
  // No spread: every pair differs by delta, which 2 pairs show for certain.
  BOOST_TEST(paired_trials_needed(0.01, 0) == 2);
  BOOST_TEST(paired_t_power(5, 0.01, 0) == 1.0);
  BOOST_TEST(paired_t_power(5, 0, 0) == 0.0);
  // An sd that is a rounding error (noncentrality ~1e16) is certain, not a Boost error.
  BOOST_TEST(paired_t_power(3, 0.01, 1e-18) == 1.0);
  BOOST_TEST(paired_t_power(3, -0.01, 1e-18) == 0.0);
  BOOST_TEST(paired_trials_needed(0.01, 1e-18) == 2);
  BOOST_CHECK_THROW(paired_t_power(1, 1, 1), auxgrid::Error);
  BOOST_CHECK_THROW(paired_trials_needed(1, -1), auxgrid::Error);
  BOOST_CHECK_THROW(paired_trials_needed(1, 1, 1.0), auxgrid::Error);
  BOOST_CHECK_THROW(paired_trials_needed(std::nan(""), 1), auxgrid::Error);
}

BOOST_AUTO_TEST_SUITE_END()
