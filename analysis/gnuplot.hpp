#pragma once
// Draws a FigureData with gnuplot, run as a program. Next to the rendered
// <name>.svg and <name>.png it leaves the data (<name>.dat) and the script
// (<name>.gp), so that a figure can be re-drawn or tweaked by hand:
// `cd out_dir && gnuplot figure3.gp`.
#include <string>

#include "analysis/figure_data.hpp"

namespace auxgrid::analysis {

// Names the gnuplot program to run instead of `gnuplot` on PATH (tests point it
// at a missing file to simulate a machine without gnuplot).
inline constexpr const char* kGnuplotEnv = "AUXGRID_GNUPLOT";

// gnuplot's version line ("gnuplot 5.4 patchlevel 4"), or "" when there is no
// runnable gnuplot program.
std::string gnuplot_version();

struct FigureFiles {
  std::string svg, png;
};

// Writes <out_dir>/<fig.name>.{dat,gp} and renders <fig.name>.svg and .png
// (out_dir is created if missing). gnuplot's messages go to <fig.name>.log,
// which is kept only when not empty. Throws auxgrid::Error, naming the figure,
// on inconsistent data, on files that cannot be written, and when gnuplot fails
// or leaves an output missing or empty (the message quotes the log).
FigureFiles plot_figure(const FigureData& fig, const std::string& out_dir);

}  // namespace auxgrid::analysis
