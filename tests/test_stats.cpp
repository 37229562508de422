#define BOOST_TEST_MODULE stats
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "auxgrid/core/check.hpp"
#include "auxgrid/stats/metrics.hpp"
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
