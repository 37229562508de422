#pragma once
// The study's tables from a results directory: means over seeds, seed counts
// against the planned seeds, paired one-tailed t-tests of each block's
// reference row against the others, parameters and seconds per epoch; and
// rendering as Markdown, LaTeX (booktabs) or CSV, optionally beside the
// paper's values. Building is pure (results in, Table out); only the
// command's front end touches files.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/results.hpp"
#include "analysis/study.hpp"
#include "auxgrid/stats/ttest.hpp"

namespace auxgrid::analysis {

inline constexpr double kSignificanceLevel = 0.05;  // docs/protocol.md, "Significance": one-tailed, p < 0.05

// Which p-value sets the stars: the paper's unadjusted one (none), or the one
// adjusted over the table's one-tailed tests (auxgrid-analyze --adjust).
enum class Adjustment { none, holm, bh };

struct Score {
  double mean = 0, sd = 0;   // over the seeds with a result
  int n = 0;                 // seeds with a result; 0 = none
  int expected = 0;          // seeds planned (see Table::notes); 0 = none expected
  bool significant = false;  // reference rows: better than every other row of the block
};

// Kind "cost": what one row costs on one corpus.
struct Cost {
  std::int64_t params_min = 0, params_max = 0;  // over its results (equal unless a free setting varies)
  double seconds_per_epoch = 0;                 // median over cells of each cell's mean epoch time
  int cells = 0;                                // 0 = no result
};

struct Column {
  std::string corpus;
  Metric metric = Metric::micro_f1;  // scores tables only
};

struct Row {
  RowDef def;
  std::vector<Score> scores;  // scores tables: one per column
  std::vector<Cost> costs;    // cost tables: one per column

  // No result and nothing planned: left out of the renderings unless they show the paper's values.
  bool empty() const;
};

// One t-test: the block's reference row against `other`, paired on the seeds
// both have, H1 = the reference's mean is greater (the paper's test, which
// sets the stars); also the two-sided p-value of the same pairs, and the
// one-tailed p adjusted over the family of all the table's one-tailed tests
// (every block, corpus and metric: what a reader of the table scans for stars).
struct Comparison {
  std::string table, block, corpus;
  Metric metric = Metric::micro_f1;
  std::string reference, other;  // row labels
  stats::TTest test;             // a = reference, b = other
  double p_two_sided = 1;
  double p_holm = 1, p_bh = 1;  // Holm-Bonferroni, Benjamini-Hochberg; NaN where test.p is (not in the family)
};

struct Table {
  TableDef def;
  std::vector<Column> columns;  // scores: corpus x metric; cost: one per corpus
  std::vector<Row> rows;        // in the definition's order
  std::vector<Comparison> comparisons;
  std::vector<std::string> devices;  // cost: what the timings were measured on
  // Rows with fewer results than planned seeds, naming the missing and the
  // failed seeds: "standard / Baseline 1 on crema-d: 17 of 20 seeds; missing seeds 3, 8; failed: seed 12 after ...".
  std::vector<std::string> notes;
  bool never_trained = false;  // a missing seed was planned (manifest.tsv) and has no result, failure or rejection
  std::size_t results_used = 0;
  Adjustment adjustment = Adjustment::none;  // the p-values behind the stars

  bool has_blocks() const;
  // Worth printing when a table is not asked for by name: a scores table
  // compares at least two rows with results, a cost table has one.
  bool has_content() const;
};

// Expected seeds of a row on a corpus: the manifest's planned cells for it;
// without a manifest, every seed that any row of the table has on that corpus
// (for rows with at least one result). Stars compare the `adjustment`'s
// p-values with kSignificanceLevel. Throws when two results match one row's
// seed (see Selection::trials).
Table build_table(const TableDef& def, const Selection& selection, Adjustment adjustment = Adjustment::none);

struct RenderOptions {
  bool paper = false;  // the paper's values and the difference beside each value
  std::string source;  // the results directory, for the caption
};

// A table as rows of text cells, formatted for one output format: what
// every renderer (and the HTML report) arranges.
enum class Style { markdown, latex, html };
struct Layout {
  std::size_t label_columns = 1;    // the block column (if any) and the row label
  std::vector<std::string> groups;  // per column: its corpus ("" for label columns), for spanning headers
  std::vector<std::string> titles;  // per column
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> block_starts;  // per row: the first of a new block (a rule goes above it)
};
Layout layout(const Table& table, const RenderOptions& options, Style style);
// Text made literal in the given format (| for Markdown, & < > " for HTML, LaTeX's specials).
std::string escape(const std::string& text, Style style);
// The legend under a table: what the star and n mean, the seed notes, the devices.
std::vector<std::string> legend(const Table& table, const RenderOptions& options);

std::string render_markdown(const Table& table, const RenderOptions& options);
std::string render_latex(const Table& table, const RenderOptions& options);
// Machine-readable: full-precision values, seed counts and stars in columns of their own.
std::string render_csv(const Table& table, const RenderOptions& options);
// Every t-test of the tables. Columns: table,block,corpus,metric,reference,
// other,n,mean_reference,mean_other,mean_difference,mean_difference_ci95_low,
// mean_difference_ci95_high,sd_difference,cohens_dz,t,df,p,significant,p_two_sided,
// p_holm,p_bh. significant is the unadjusted p < kSignificanceLevel, whatever
// the stars use; p_holm and p_bh are adjusted over the comparison's table.
std::string render_comparisons_csv(const std::vector<Table>& tables);

// `auxgrid-analyze power`: for every comparison of the tables, the seeds a
// one-tailed paired t-test at kSignificanceLevel needs to detect `difference`
// with probability `power`, at the comparison's observed sd of the paired
// differences (stats::paired_trials_needed).
struct PowerOptions {
  double difference = 0;  // 0: each comparison's observed mean difference
  double power = 0.8;
};
// A text table, or CSV with columns table,block,corpus,metric,reference,other,
// n,mean_difference,sd_difference,difference,power,seeds_needed,note
// (seeds_needed empty where the note says why).
std::string render_power(const std::vector<Table>& tables, const PowerOptions& options, bool csv);
// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

// "+0.004": reproduced - paper at three decimals.
std::string signed_difference(double reproduced, double paper);

}  // namespace auxgrid::analysis
