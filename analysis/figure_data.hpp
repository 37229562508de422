#pragma once
// A figure's numbers, ready to plot: what figures.cpp aggregates from the
// results and gnuplot.cpp draws. Plain data, no statistics left to do except
// means and standard deviations of the per-seed values.
#include <string>
#include <vector>

namespace auxgrid::analysis {

enum class FigureKind {
  box,    // one box per category: the per-seed values of `series[0]`
  bars,   // grouped bars: a group per category, a bar per series (mean, sd as error bar)
  lines,  // y against numeric x, a line per series (mean), plus horizontal reference lines
  traces  // y against numeric x, a thin line per series with one value per x (a seed's training
          // curve); series that share a label share a colour and one legend entry
};

struct SeriesData {
  std::string label;
  // One entry per category (box, bars) or per x (lines): the per-seed values;
  // empty where there is no result.
  std::vector<std::vector<double>> values;
};

struct ReferenceLine {
  std::string label;
  double y = 0;  // mean over seeds
};

// One panel of a figure: one corpus.
struct PanelData {
  std::string title;  // e.g. "crema-d"
  std::vector<SeriesData> series;
  std::vector<ReferenceLine> reference_lines;  // lines only
};

struct FigureData {
  std::string name;   // file stem, e.g. "figure3"
  std::string title;  // e.g. "Figure 3: micro-F1 over the seeds (optimized procedure)"
  FigureKind kind = FigureKind::bars;
  std::string x_label;                  // e.g. "kept fraction of frames (%)"
  std::string y_label;                  // e.g. "micro-F1"
  std::vector<std::string> categories;  // box and bars: the x tick labels
  std::vector<double> x;                // lines, traces: the x values
  std::vector<PanelData> panels;        // side by side
};

}  // namespace auxgrid::analysis
