#include "auxgrid/stats/ttest.hpp"

#include <algorithm>
#include <boost/math/distributions/non_central_t.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>

#include "auxgrid/core/check.hpp"
#include "auxgrid/stats/metrics.hpp"

namespace auxgrid::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Boost's noncentral t throws for a noncentrality of about 1e8 and more (as
// when sd is a rounding error). At +-1e4 the power is already 1 (or 0) in
// double precision for every df >= 1, so larger ones are evaluated there.
constexpr double kCertainNoncentrality = 1e4;

// With sd_diff = 0 every pair differs by exactly mean_diff: the evidence is
// certain in the direction of its sign, and there is none when it is 0.
void set_zero_spread(TTest& r, Tail tail) {
  if (r.mean_diff == 0) {
    // t = 0/0 is undefined; p = 1 for every tail is the conservative reading
    // (identical scores never count as a significant difference).
    r.t = kNaN;
    r.p = 1;
    return;
  }
  const bool positive = r.mean_diff > 0;
  r.t = positive ? kInf : -kInf;
  switch (tail) {
    case Tail::greater: r.p = positive ? 0 : 1; break;
    case Tail::less: r.p = positive ? 1 : 0; break;
    case Tail::two_sided: r.p = 0; break;
  }
}

}  // namespace

TTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b, Tail tail) {
  AUXGRID_CHECK(a.size() == b.size(), "paired t-test: {} scores against {}; pairs need equal sizes", a.size(),
                b.size());
  std::vector<double> diff(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Boost.Math would throw a domain_error deep inside; name the bad pair instead.
    AUXGRID_CHECK(std::isfinite(a[i]) && std::isfinite(b[i]), "paired t-test: pair {} is not finite ({}, {})", i, a[i],
                  b[i]);
    diff[i] = a[i] - b[i];
  }

  TTest r;
  r.n = static_cast<int>(a.size());
  r.mean_a = mean(a);
  r.mean_b = mean(b);
  r.mean_diff = mean(diff);
  r.sd_diff = sample_sd(diff);
  r.df = std::max(r.n - 1, 0);
  if (r.n < 2) {  // no variance estimate, no test
    r.t = r.p = r.ci95_low = r.ci95_high = kNaN;
    return r;
  }
  const boost::math::students_t dist(r.df);
  const double half_width =
      boost::math::quantile(boost::math::complement(dist, 0.025)) * r.sd_diff / std::sqrt(static_cast<double>(r.n));
  r.ci95_low = r.mean_diff - half_width;
  r.ci95_high = r.mean_diff + half_width;
  if (r.sd_diff == 0) {
    set_zero_spread(r, tail);
    return r;
  }

  r.t = r.mean_diff / (r.sd_diff / std::sqrt(static_cast<double>(r.n)));
  switch (tail) {
    case Tail::greater: r.p = boost::math::cdf(boost::math::complement(dist, r.t)); break;
    case Tail::less: r.p = boost::math::cdf(dist, r.t); break;
    case Tail::two_sided: r.p = 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(r.t))); break;
  }
  return r;
}

double paired_t_power(int n, double delta, double sd, double alpha) {
  AUXGRID_CHECK(n >= 2, "t-test power: needs at least 2 pairs, got {}", n);
  AUXGRID_CHECK(std::isfinite(delta) && std::isfinite(sd) && sd >= 0,
                "t-test power: the difference ({}) and its sd ({}) must be finite, the sd not negative", delta, sd);
  AUXGRID_CHECK(alpha > 0 && alpha < 1, "t-test power: the level must be in (0, 1), got {}", alpha);
  if (sd == 0) return delta > 0 ? 1 : 0;
  const double df = n - 1;
  const double critical = boost::math::quantile(boost::math::complement(boost::math::students_t(df), alpha));
  const double noncentrality =
      std::clamp(delta * std::sqrt(static_cast<double>(n)) / sd, -kCertainNoncentrality, kCertainNoncentrality);
  return boost::math::cdf(boost::math::complement(boost::math::non_central_t(df, noncentrality), critical));
}

int paired_trials_needed(double delta, double sd, double power, double alpha) {
  AUXGRID_CHECK(power > 0 && power < 1, "t-test power: the power to reach must be in (0, 1), got {}", power);
  AUXGRID_CHECK(std::isfinite(delta) && std::isfinite(sd) && sd >= 0,
                "t-test power: the difference ({}) and its sd ({}) must be finite, the sd not negative", delta, sd);
  if (delta <= 0) return 0;
  // The power grows with n: double n until it is enough, then bisect between
  // the last n that was not enough (low) and the first that was (high).
  int low = 1, high = 2;
  while (paired_t_power(high, delta, sd, alpha) < power) {
    if (high == kMaxPairs) return kMaxPairs + 1;
    low = high;
    high = std::min(2 * high, kMaxPairs);
  }
  while (high - low > 1) {
    const int middle = low + (high - low) / 2;
    (paired_t_power(middle, delta, sd, alpha) < power ? low : high) = middle;
  }
  return high;
}

}  // namespace auxgrid::stats
