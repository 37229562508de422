#pragma once
// A results directory as the analysis sees it (complete results, unreadable
// files, the manifest of planned cells, failed cells), and the selection of
// the results that a row, bar or line of the study stands for.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "analysis/study.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/result_file.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::analysis {

// A cell with failure records (store::read_failures) and no complete result.
struct FailedCell {
  std::string cell_id, label;
  int attempts = 0;
  std::string last_error;  // the message of its last record
};

struct ResultsDir {
  std::string dir;
  std::vector<store::ResultSummary> results;  // complete result files, in file-name order
  std::vector<std::string> unreadable;        // "<path>: <reason>" for every other .h5 in cells/
  std::vector<store::ManifestCell> manifest;  // every planned cell; empty when the run wrote no manifest
  std::vector<store::ManifestCell> missing;   // planned cells without a complete result
  std::vector<FailedCell> failed;

  const FailedCell* find_failed(const std::string& cell_id) const;
};

// `--where key=value` (repeatable): setting -> canonical value text. Throws
// naming the text on an unknown setting or a value the setting refuses.
using Where = std::map<std::string, std::string>;
Where parse_where(const std::vector<std::string>& texts);
// Whether a result's or planned cell's settings have every `where` value (a
// setting it does not record counts as its default).
bool matches_where(const std::map<std::string, std::string>& config, const Where& where);

// Scans DIR (only the attributes and datasets the tables need), keeping the
// results, planned and failed cells that match `where`. Throws when DIR is not
// a directory or the manifest is malformed; unreadable result files are
// listed, not fatal, and so are results of another model revision than `revision`.
ResultsDir load_results_dir(const std::string& dir, int revision = kModelRevision, const Where& where = {});
// Fills `missing` from `manifest` and `results` (load_results_dir calls it).
void find_missing(ResultsDir& results);

// Models with results (or planned cells) in `results` that no row, bar or
// line of the study names, a researcher's TorchScript file or plugin: each gets a row
// beside the reference row of every block (or the first row of a cost table's
// block) in the tables that compare models (whose rows name two models or
// more), so that it is in the tables without a study file. A TorchScript
// model's rows match its file's hash (model.file_hash): an edited file is a
// row of its own, not a clash. Labels: "<file stem> (TorchScript)", with the
// hash's first 8 digits where one stem has several; a plugin's model name.
void add_unlisted_models(Study& study, const ResultsDir& results);

// seed -> that trial's result
using Trials = std::map<std::int64_t, const store::ResultSummary*>;

// Matching results to selectors. A result matches when its corpus is the one
// asked for, it has the selector's condition (if any), and every study key
// has the selector's value, or its default where the selector names none.
class Selection {
 public:
  Selection(const ResultsDir& results, const Study& study);

  // Throws when two results match the same seed, naming both files, the
  // settings they differ in and `what` (the row asking).
  Trials trials(const Selector& selector, const std::string& corpus, const std::string& what) const;
  // seed -> cell id of the manifest's cells for `selector` on `corpus`.
  std::map<std::int64_t, std::string> planned(const Selector& selector, const std::string& corpus) const;
  bool has_manifest() const { return !results_.manifest.empty(); }
  // Every corpus with a result or a planned cell: the study's order first.
  const std::vector<std::string>& corpora() const { return corpora_; }
  const ResultsDir& results() const { return results_; }

 private:
  bool matches(const std::map<std::string, std::string>& config, const Selector& selector) const;

  const ResultsDir& results_;
  std::map<std::string, std::string> study_defaults_;  // study key -> default value text
  std::vector<std::string> corpora_;
};

// The score of one result: its condition's micro- or macro-F1.
double score_of(const store::ResultSummary& result, const std::string& condition, Metric metric);

}  // namespace auxgrid::analysis
