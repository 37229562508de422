#include "analysis/tables.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <system_error>
#include <tuple>

#include "auxgrid/core/check.hpp"
#include "auxgrid/stats/metrics.hpp"

namespace auxgrid::analysis {

namespace {

constexpr const char* kIdealCondition = "ideal";
const std::vector<std::string> kProcedures{"standard", "optimized"};  // block order of Table 1
constexpr Metric kMetrics[] = {Metric::micro_f1, Metric::macro_f1};

// seed -> the result of that trial
using Trials = std::map<std::int64_t, const store::ResultSummary*>;
// (block, model, corpus) -> trials
using TrialIndex = std::map<std::tuple<std::string, std::string, std::string>, Trials>;

double ideal_score(const store::ResultSummary& r, Metric metric) {
  const auto& [micro, macro] = r.f1.at(kIdealCondition);
  return metric == Metric::micro_f1 ? micro : macro;
}

std::vector<double> scores(const Trials& trials, Metric metric) {
  std::vector<double> out;
  for (const auto& [seed, result] : trials) out.push_back(ideal_score(*result, metric));
  return out;
}

// "key=a/b" for every setting that differs, to say why two results collide.
std::string differing_settings(const store::ResultSummary& a, const store::ResultSummary& b) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a.config) keys.insert(k);
  for (const auto& [k, v] : b.config) keys.insert(k);
  std::vector<std::string> diffs;
  for (const auto& k : keys) {
    const auto ia = a.config.find(k), ib = b.config.find(k);
    const std::string va = ia == a.config.end() ? "(unset)" : ia->second;
    const std::string vb = ib == b.config.end() ? "(unset)" : ib->second;
    if (va != vb) diffs.push_back(fmt::format("{}={}/{}", k, va, vb));
  }
  return diffs.empty() ? "no differing settings" : fmt::format("differing settings: {}", fmt::join(diffs, ", "));
}

// Rows of a block: the reference first, then the others by name (std::set order).
std::vector<std::string> block_models(const std::set<std::string>& models) {
  std::vector<std::string> ordered;
  if (models.count(kReferenceModel)) ordered.push_back(kReferenceModel);
  for (const auto& m : models)
    if (m != kReferenceModel) ordered.push_back(m);
  return ordered;
}

const Trials* find_trials(const TrialIndex& index, const std::string& block, const std::string& model,
                          const std::string& corpus) {
  const auto it = index.find({block, model, corpus});
  return it == index.end() ? nullptr : &it->second;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string markdown_field(const std::string& text) {
  std::string escaped;
  for (char c : text) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
  return escaped;
}

std::string markdown_score(const Score& s) {
  if (s.n == 0) return "-";
  return fmt::format("{:.3f}{} (n={})", s.mean, s.significant ? "*" : "", s.n);
}

std::string metric_title(Metric metric) { return metric == Metric::micro_f1 ? "micro-F1" : "macro-F1"; }

}  // namespace

const char* metric_name(Metric metric) { return metric == Metric::micro_f1 ? "micro_f1" : "macro_f1"; }

std::string display_name(const std::string& model) {
  if (model == "auxformer") return "AuxFormer (ours)";
  if (model == "baseline1") return "Baseline 1";
  return model;
}

Table build_table1(const std::vector<store::ResultSummary>& results) {
  Table table;
  table.name = "table1";
  table.block_title = "procedure";

  TrialIndex index;
  std::map<std::string, std::set<std::string>> models_by_block;
  std::set<std::string> corpora;
  for (const auto& r : results) {
    const bool in_table1 = std::find(kProcedures.begin(), kProcedures.end(), r.procedure) != kProcedures.end() &&
                           r.f1.count(kIdealCondition) > 0;
    if (!in_table1) continue;
    auto [it, inserted] = index[{r.procedure, r.model, r.corpus}].emplace(r.seed, &r);
    AUXGRID_CHECK(inserted,
                  "two results for model '{}', procedure '{}', corpus '{}', seed {}: {} and {} ({}); "
                  "Table 1 needs one configuration per model",
                  r.model, r.procedure, r.corpus, r.seed, it->second->path, r.path, differing_settings(*it->second, r));
    models_by_block[r.procedure].insert(r.model);
    corpora.insert(r.corpus);
    ++table.results_used;
  }

  for (const auto& corpus : corpora)
    for (Metric metric : kMetrics) table.columns.push_back({corpus, metric});

  for (const auto& block : kProcedures) {
    const auto found = models_by_block.find(block);
    if (found == models_by_block.end()) continue;
    const std::vector<std::string> models = block_models(found->second);
    const std::size_t first_row = table.rows.size();

    for (const auto& model : models) {
      Row row{block, model, {}};
      for (const auto& column : table.columns) {
        Score score;
        if (const Trials* trials = find_trials(index, block, model, column.corpus)) {
          score.mean = stats::mean(scores(*trials, column.metric));
          score.n = static_cast<int>(trials->size());
        }
        row.scores.push_back(score);
      }
      table.rows.push_back(std::move(row));
    }

    if (models.front() != kReferenceModel) continue;  // nothing to compare against
    Row& reference_row = table.rows[first_row];
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      const Column& column = table.columns[c];
      const Trials* reference = find_trials(index, block, kReferenceModel, column.corpus);
      if (!reference) continue;
      // A model without any result on this corpus is not in the comparison;
      // one with results but no shared seed is, and fails it (p is NaN).
      bool beats_all = true, compared = false;
      for (std::size_t m = 1; m < models.size(); ++m) {
        const Trials* other = find_trials(index, block, models[m], column.corpus);
        if (!other) continue;
        std::vector<double> a, b;
        for (const auto& [seed, result] : *reference) {
          const auto paired = other->find(seed);
          if (paired == other->end()) continue;
          a.push_back(ideal_score(*result, column.metric));
          b.push_back(ideal_score(*paired->second, column.metric));
        }
        const stats::TTest test = stats::paired_t_test(a, b, stats::Tail::greater);
        beats_all = beats_all && test.p < kSignificanceLevel;  // false for NaN
        compared = true;
        table.comparisons.push_back(
            {table.name, block, column.corpus, column.metric, kReferenceModel, models[m], test});
      }
      reference_row.scores[c].significant = compared && beats_all;
    }
  }
  return table;
}

std::string render_markdown(const Table& table, const std::string& source) {
  std::string out = fmt::format(
      "Table 1 from {} ({} result files). * = {} is significantly better than every other model of its {} "
      "(one-tailed paired t-test over seeds, p < {}).\n\n",
      source, table.results_used, display_name(kReferenceModel), table.block_title, kSignificanceLevel);
  out += fmt::format("| {} | model |", table.block_title);
  for (const auto& column : table.columns)
    out += fmt::format(" {} {} |", markdown_field(column.corpus), metric_title(column.metric));
  out += "\n|---|---|";
  for (std::size_t c = 0; c < table.columns.size(); ++c) out += "---|";
  out += "\n";
  for (const auto& row : table.rows) {
    out += fmt::format("| {} | {} |", markdown_field(row.block), markdown_field(display_name(row.model)));
    for (const auto& score : row.scores) out += fmt::format(" {} |", markdown_score(score));
    out += "\n";
  }
  return out;
}

// Machine-readable: registered model names, full-precision means, the seed
// count and the star as 0/1 in columns of their own.
std::string render_csv(const Table& table) {
  std::vector<std::string> header{table.block_title, "model"};
  for (const auto& column : table.columns) {
    const std::string name = fmt::format("{} {}", column.corpus, metric_name(column.metric));
    header.push_back(csv_field(name));
    header.push_back(csv_field(name + " n"));
    header.push_back(csv_field(name + " star"));
  }
  std::string out = fmt::format("{}\n", fmt::join(header, ","));
  for (const auto& row : table.rows) {
    out += fmt::format("{},{}", csv_field(row.block), csv_field(row.model));
    for (const auto& score : row.scores) {
      if (score.n == 0)
        out += ",,0,0";
      else
        out += fmt::format(",{},{},{}", score.mean, score.n, score.significant ? 1 : 0);
    }
    out += "\n";
  }
  return out;
}

std::string render_comparisons_csv(const Table& table) {
  std::string out = "table,block,corpus,metric,reference,other,n,mean_reference,mean_other,t,p\n";
  for (const auto& c : table.comparisons)
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(c.table), csv_field(c.block),
                       csv_field(c.corpus), metric_name(c.metric), csv_field(c.reference), csv_field(c.other),
                       c.test.n, c.test.mean_a, c.test.mean_b, c.test.t, c.test.p);
  return out;
}

void write_tables(const std::string& dir, Format format, const std::string& comparisons_path, std::ostream& out,
                  std::ostream& warnings) {
  std::error_code ignored;  // the overload that does not throw filesystem_error; the message says it all
  AUXGRID_CHECK(std::filesystem::is_directory(dir, ignored),
                "results directory '{}' does not exist or is not a directory", dir);
  std::vector<std::string> problems;
  const std::vector<store::ResultSummary> results = store::scan_results(dir, &problems);
  for (const auto& problem : problems) warnings << "warning: skipped " << problem << '\n';
  AUXGRID_CHECK(!results.empty(), "no complete result files in {}/cells", dir);

  const Table table = build_table1(results);
  AUXGRID_CHECK(table.results_used > 0,
                "none of the {} complete results in {} has the '{}' condition with procedure standard or optimized",
                results.size(), dir, kIdealCondition);

  out << (format == Format::csv ? render_csv(table) : render_markdown(table, dir));
  if (comparisons_path.empty()) return;
  std::ofstream file(comparisons_path);
  AUXGRID_CHECK(file.is_open(), "cannot open '{}' for writing", comparisons_path);
  file << render_comparisons_csv(table);
  file.close();
  AUXGRID_CHECK(file.good(), "failed to write '{}'", comparisons_path);
}

}  // namespace auxgrid::analysis
