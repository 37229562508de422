#pragma once
// The study's figures: their numbers from the results (build_figure), drawn
// by gnuplot (analysis/gnuplot.hpp).
#include "analysis/figure_data.hpp"
#include "analysis/results.hpp"
#include "analysis/study.hpp"
#include "analysis/tables.hpp"

namespace auxgrid::analysis {

// One panel per corpus that has any of the figure's results; a figure with
// no result at all has no panels.
FigureData build_figure(const FigureDef& def, const Selection& selection);

// A scores table's training curves: one traces figure per model of the table
// (rows that stand for the same results share it), a panel per corpus, and in
// each a thin line per seed for the training loss and one for the dev loss
// against the epoch. Named "<table>-curves-<k>"; none for a cost table.
std::vector<FigureData> build_training_curves(const Table& table, const Selection& selection);

}  // namespace auxgrid::analysis
