#pragma once
// The study's figures: their numbers from the results (build_figure), drawn
// by gnuplot (analysis/gnuplot.hpp).
#include "analysis/figure_data.hpp"
#include "analysis/results.hpp"
#include "analysis/study.hpp"

namespace auxgrid::analysis {

// One panel per corpus that has any of the figure's results; a figure with
// no result at all has no panels.
FigureData build_figure(const FigureDef& def, const Selection& selection);

}  // namespace auxgrid::analysis
