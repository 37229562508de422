#pragma once
// Adjusted p-values for a family of tests, as R's p.adjust computes them.
#include <vector>

namespace auxgrid::stats {

// Both return the adjusted p-values in the order of `p`, monotone in p and
// at most 1, equal to R's p.adjust(p, method = "holm") and
// p.adjust(p, method = "BH"). A NaN p-value (a test that could not run, as
// for fewer than two pairs) stays NaN and is not counted in the family
// size m, as R does by default. Throws for a p-value outside [0, 1].
std::vector<double> holm(const std::vector<double>& p);                // Holm-Bonferroni: family-wise error rate
std::vector<double> benjamini_hochberg(const std::vector<double>& p);  // Benjamini-Hochberg: false discovery rate

}  // namespace auxgrid::stats
