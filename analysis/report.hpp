#pragma once
// The commands of auxgrid-analyze (tables, figures, report, export, power) on top of
// the library: study + results directory in, files and text out. The HTML
// report is one self-contained page (figures inlined as SVG).
#include <iosfwd>
#include <string>
#include <vector>

#include "analysis/study.hpp"
#include "analysis/tables.hpp"
#include "auxgrid/core/version.hpp"

namespace auxgrid::analysis {

struct AnalyzeOptions {
  std::string results_dir;
  std::vector<std::string> study_files;  // added to the built-in study
  std::vector<std::string> tables;       // `tables`: only these (empty = all)
  std::vector<std::string> where;        // only results with these settings: "key=value"
  std::string format;                    // `tables`: md (default), latex or csv; `export`, `power`: csv
  bool paper = false;                    // `tables`: the paper's values beside ours
  Adjustment adjust = Adjustment::none;  // `tables`, `report`: the p-values behind the stars
  PowerOptions power;                    // `power`: the difference to detect and the power
  std::string comparisons_path;          // `tables`: every t-test as CSV
  std::string out;                       // `figures`, `report`: a directory; `export`: a file (default stdout)
  int model_revision = kModelRevision;   // only results of this revision (core/version.hpp)
};

// The built-in study plus the user's files.
Study study_of(const AnalyzeOptions& options);

// Prints the tables (all, or the ones named) on `out`; warnings (skipped
// files, missing seeds) on `log`. Throws when nothing can be tabulated.
void tables_command(const AnalyzeOptions& options, std::ostream& out, std::ostream& log);

// Writes every figure to OUT (SVG, PNG, data and gnuplot script). Without
// gnuplot, says so on `log` and writes none. Returns the figures written.
int figures_command(const AnalyzeOptions& options, std::ostream& log);

// Writes OUT/index.html (tables with the paper's values, figures, provenance,
// status, missing and failed cells) and, beside it, every table as md/tex/csv,
// the t-tests as comparisons.csv, and the figures' files.
void report_command(const AnalyzeOptions& options, std::ostream& log);

// Writes the results as one CSV table (analysis/export.hpp) to OUT, or to `out` without --out.
void export_command(const AnalyzeOptions& options, std::ostream& out, std::ostream& log);

// Prints, for every t-test of the tables (all, or the ones named), the seeds
// needed to detect a difference (render_power), as text or CSV, on `out`.
// Throws when no table compares anything.
void power_command(const AnalyzeOptions& options, std::ostream& out, std::ostream& log);

}  // namespace auxgrid::analysis
