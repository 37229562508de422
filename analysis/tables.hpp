#pragma once
// The paper's tables from result summaries: means over seeds, paired one-tailed
// t-tests of the reference model against every other model of a block, and
// rendering as Markdown or CSV. Building is pure (summaries in, Table out) so
// it can be tested without files; only write_tables touches the disk.
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "auxgrid/stats/ttest.hpp"
#include "auxgrid/store/result_file.hpp"

namespace auxgrid::analysis {

inline constexpr const char* kReferenceModel = "auxformer";
inline constexpr double kSignificanceLevel = 0.05;  // PROTOCOL.md: one-tailed, p < 0.05

enum class Metric { micro_f1, macro_f1 };
const char* metric_name(Metric metric);  // "micro_f1" | "macro_f1"

// "AuxFormer (ours)", "Baseline 1", or the model name itself.
std::string display_name(const std::string& model);

struct Column {
  std::string corpus;
  Metric metric;
};

struct Score {
  double mean = 0;           // over the seeds of this row's model
  int n = 0;                 // seeds; 0 = no result for this column
  bool significant = false;  // the reference beats every other model of the block (reference rows only)
};

struct Row {
  std::string block;          // the procedure for Table 1
  std::string model;          // registered name, e.g. "auxformer"
  std::vector<Score> scores;  // one per Table::columns
};

// One t-test: reference against `other`, paired on the seeds both have,
// H1 = the reference's mean is greater.
struct Comparison {
  std::string table, block, corpus;
  Metric metric;
  std::string reference, other;
  stats::TTest test;  // a = reference, b = other
};

struct Table {
  std::string name;         // "table1"
  std::string block_title;  // what the blocks are, e.g. "procedure"
  std::vector<Column> columns;
  std::vector<Row> rows;    // block by block, reference first in each
  std::vector<Comparison> comparisons;
  std::size_t results_used = 0;  // summaries that contributed a score
};

// Table 1: condition "ideal"; blocks = procedure (standard, then optimized);
// rows = the reference model, then the others by name; columns = each corpus
// (by name) x micro-F1, macro-F1. Throws when two results claim the same
// (procedure, model, corpus, seed), since averaging them would mix configurations.
Table build_table1(const std::vector<store::ResultSummary>& results);

// Markdown with a header line naming `source` (the results directory), the
// number of results used and the meaning of the star.
std::string render_markdown(const Table& table, const std::string& source);
std::string render_csv(const Table& table);
// Columns: table,block,corpus,metric,reference,other,n,mean_reference,mean_other,t,p
std::string render_comparisons_csv(const Table& table);

enum class Format { markdown, csv };

// `auxgrid-analyze tables`: scans `dir`, warns on `warnings` about every file
// it skips, prints Table 1 on `out` and, if `comparisons_path` is not empty,
// writes the comparisons there. Throws when there is no complete result.
void write_tables(const std::string& dir, Format format, const std::string& comparisons_path, std::ostream& out,
                  std::ostream& warnings);

}  // namespace auxgrid::analysis
