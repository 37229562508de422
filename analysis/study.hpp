#pragma once
// The study as data: the tables and figures to build from a results
// directory, which results make each row, bar or line, and the paper's
// values. Read from TOML (experiments/study.toml is compiled in; users add
// files of the same shape). The file's header comment is the format's manual.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "analysis/figure_data.hpp"

namespace auxgrid::analysis {

enum class Metric { micro_f1, macro_f1 };
const char* metric_name(Metric metric);   // "micro_f1" | "macro_f1"
const char* metric_title(Metric metric);  // "micro-F1" | "macro-F1"

// Which results a row, bar or line stands for.
struct Selector {
  std::map<std::string, std::string> match;  // setting -> canonical value text (as auxgrid::to_string writes it)
  std::string condition;                     // evaluation condition, e.g. "ideal"
};

// One of the paper's values: 0.769, starred or not.
struct PaperValue {
  double value = 0;
  bool significant = false;
};

struct RowDef {
  std::string block;  // "" when the table has no blocks
  std::string label;
  Selector selector;
  bool reference = false;                                // tested against every other row of its block
  std::map<std::string, std::vector<PaperValue>> paper;  // corpus -> one per metric (cost: parameters, seconds)
};

enum class TableKind {
  scores,  // mean over seeds per corpus and metric, with t-tests
  cost     // parameters and seconds per epoch per corpus
};

struct TableDef {
  std::string name, title, paper_note;
  std::string block_title;  // the block column's heading, e.g. "procedure"
  std::string label_title;  // the row labels' heading, e.g. "model" (the default)
  std::string source;       // the file that defined it
  TableKind kind = TableKind::scores;
  std::vector<Metric> metrics;
  std::vector<RowDef> rows;
};

// A category, series or reference line of a figure, with the figure's own
// match and condition already merged in.
struct PlotItem {
  std::string label;
  Selector selector;
  Metric metric = Metric::micro_f1;
};

struct FigureDef {
  std::string name, title, x_label, source;
  FigureKind kind = FigureKind::bars;
  Metric metric = Metric::micro_f1;       // the y axis unless a series says otherwise
  PlotItem common;                        // the figure's own match, condition and metric
  std::vector<PlotItem> categories;       // box, bars
  std::vector<PlotItem> series;           // bars, lines ("{x}" in a condition = each x)
  std::vector<double> x;                  // lines
  std::vector<PlotItem> reference_lines;  // lines
};

struct Study {
  std::vector<TableDef> tables;
  std::vector<FigureDef> figures;
  std::vector<std::string> corpus_order;  // column order of the corpora it names
  // Every setting some selector names: a row that does not name one wants its
  // default (see experiments/study.toml).
  std::set<std::string> study_keys;

  const TableDef* find_table(const std::string& name) const;
};

// Parses a study file; errors name `source`, the table or figure and the key.
Study parse_study(const std::string& toml_text, const std::string& source);
Study load_study(const std::string& path);
// experiments/study.toml as compiled into the program, parsed and as text.
Study builtin_study();
const char* builtin_study_text();
// Adds `more`'s tables and figures; a name defined twice is an error naming both files.
void merge_study(Study& into, const Study& more);

}  // namespace auxgrid::analysis
