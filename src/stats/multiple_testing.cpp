#include "auxgrid/stats/multiple_testing.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "auxgrid/core/check.hpp"

namespace auxgrid::stats {

namespace {

// The indices of the p-values that are not NaN, by ascending p (ties in input
// order; their adjusted values come out equal either way).
std::vector<std::size_t> ascending(const std::vector<double>& p) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (std::isnan(p[i])) continue;
    AUXGRID_CHECK(p[i] >= 0 && p[i] <= 1, "p-value adjustment: p-value {} at index {} is outside [0, 1]", p[i], i);
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  return order;
}

}  // namespace

// R: pmin(1, cummax((m - i + 1) * p[o]))[ro], o = order(p).
std::vector<double> holm(const std::vector<double>& p) {
  std::vector<double> out(p);  // NaN stays NaN
  const std::vector<std::size_t> order = ascending(p);
  const double m = static_cast<double>(order.size());
  double running_max = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    running_max = std::max(running_max, (m - static_cast<double>(i)) * p[order[i]]);
    out[order[i]] = std::min(1.0, running_max);
  }
  return out;
}

// R: pmin(1, cummin(m / i * p[o]))[ro], o = order(p, decreasing = TRUE), i = m..1.
std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  std::vector<double> out(p);
  const std::vector<std::size_t> order = ascending(p);
  const double m = static_cast<double>(order.size());
  double running_min = 1;
  for (std::size_t i = order.size(); i-- > 0;) {
    running_min = std::min(running_min, m / static_cast<double>(i + 1) * p[order[i]]);
    out[order[i]] = running_min;
  }
  return out;
}

}  // namespace auxgrid::stats
