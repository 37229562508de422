#include "analysis/tables.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/stats/metrics.hpp"
#include "auxgrid/stats/multiple_testing.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::analysis {

namespace {

// What one row has on one corpus.
struct Cell {
  Trials trials;
  std::map<std::int64_t, std::string> planned;  // seed -> cell id
};

std::string row_name(const RowDef& row) { return row.block.empty() ? row.label : row.block + " / " + row.label; }

std::vector<double> values(const Trials& trials, const std::string& condition, Metric metric) {
  std::vector<double> out;
  for (const auto& [seed, result] : trials) out.push_back(score_of(*result, condition, metric));
  return out;
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  const std::size_t n = x.size();
  return n == 0 ? 0 : n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

// "standard / Baseline 1 on crema-d: 17 of 20 seeds; missing seeds 3, 8; failed: seed 12 after 3 attempts
// (<error>); result rejected: seed 5 (<why>)"
// `never_run` is set when a seed has no result, no failure and no rejected file.
std::string missing_note(const RowDef& row, const std::string& corpus, const Cell& cell,
                         const std::set<std::int64_t>& expected, const ResultsDir& results, bool& never_run) {
  std::vector<std::string> missing, failed, rejected;
  // A result file that is there but was refused (damaged, another revision) is named as such, not as missing.
  const auto refused = [&](const std::string& cell_id) -> const std::string* {
    const auto name = "/" + cell_id + ".h5:";
    for (const auto& entry : results.unreadable)
      if (entry.find(name) != std::string::npos) return &entry;
    return nullptr;
  };
  for (const auto seed : expected) {
    if (cell.trials.count(seed)) continue;
    const auto planned = cell.planned.find(seed);
    const FailedCell* f = planned == cell.planned.end() ? nullptr : results.find_failed(planned->second);
    const std::string* why = planned == cell.planned.end() ? nullptr : refused(planned->second);
    if (why)
      rejected.push_back(fmt::format("seed {} ({})", seed, why->substr(why->find(".h5:") + 5)));
    else if (f)
      failed.push_back(fmt::format("seed {} after {} attempt{} ({})", seed, f->attempts, f->attempts == 1 ? "" : "s",
                                   f->last_error));
    else
      missing.push_back(std::to_string(seed));
  }
  std::string note =
      fmt::format("{} on {}: {} of {} seeds", row_name(row), corpus, cell.trials.size(), expected.size());
  never_run = never_run || !missing.empty();
  if (!missing.empty())
    note += fmt::format("; missing seed{} {}", missing.size() == 1 ? "" : "s", fmt::join(missing, ", "));
  if (!failed.empty()) note += fmt::format("; failed: {}", fmt::join(failed, "; "));
  if (!rejected.empty()) note += fmt::format("; result rejected: {}", fmt::join(rejected, "; "));
  return note;
}

}  // namespace

bool Row::empty() const {
  return std::all_of(scores.begin(), scores.end(), [](const Score& s) { return s.n == 0 && s.expected == 0; }) &&
         std::all_of(costs.begin(), costs.end(), [](const Cost& c) { return c.cells == 0; });
}

bool Table::has_content() const {
  const auto with_results = std::count_if(rows.begin(), rows.end(), [](const Row& r) {
    return std::any_of(r.scores.begin(), r.scores.end(), [](const Score& s) { return s.n > 0; }) ||
           std::any_of(r.costs.begin(), r.costs.end(), [](const Cost& c) { return c.cells > 0; });
  });
  return with_results >= (def.kind == TableKind::cost ? 1 : 2);
}

bool Table::has_blocks() const {
  return std::any_of(rows.begin(), rows.end(), [](const Row& r) { return !r.def.block.empty(); });
}

namespace {

// The results behind every row and corpus of a table: cells[row][corpus],
// the corpora with any result or planned cell, and each corpus's seeds.
struct TableCells {
  std::vector<std::map<std::string, Cell>> cells;
  std::vector<std::string> corpora;
  std::map<std::string, std::set<std::int64_t>> seeds_seen;  // corpus -> any row's seeds
  std::size_t results_used = 0;
};

TableCells collect_cells(const TableDef& def, const Selection& selection) {
  TableCells t;
  t.cells.resize(def.rows.size());
  std::set<const store::ResultSummary*> used;
  for (const auto& corpus : selection.corpora()) {
    bool any = false;
    for (std::size_t r = 0; r < def.rows.size(); ++r) {
      const RowDef& row = def.rows[r];
      Cell cell{selection.trials(row.selector, corpus, fmt::format("table '{}', row '{}'", def.name, row_name(row))),
                selection.planned(row.selector, corpus)};
      any = any || !cell.trials.empty() || !cell.planned.empty();
      for (const auto& [seed, result] : cell.trials) t.seeds_seen[corpus].insert(seed), used.insert(result);
      t.cells[r][corpus] = std::move(cell);
    }
    if (any) t.corpora.push_back(corpus);
  }
  t.results_used = used.size();
  return t;
}

// Table 5's entry of one row and corpus; adds the devices it ran on.
Cost cost_of(const Cell& cell, std::set<std::string>& devices) {
  Cost c;
  std::vector<double> per_cell;
  for (const auto& [seed, result] : cell.trials) {
    c.params_min = c.cells == 0 ? result->n_params : std::min(c.params_min, result->n_params);
    c.params_max = std::max(c.params_max, result->n_params);
    ++c.cells;
    if (!result->epoch_seconds.empty()) per_cell.push_back(stats::mean(result->epoch_seconds));
    const auto& prov = result->provenance;
    const auto name = prov.count(store::provenance::kDeviceName) ? prov.find(store::provenance::kDeviceName)
                                                                 : prov.find(store::provenance::kDevice);
    devices.insert(name == prov.end() ? "unknown device" : name->second);
  }
  c.seconds_per_epoch = median(per_cell);
  return c;
}

// The p-value that sets the stars.
double p_value(const Comparison& c, Adjustment adjustment) {
  switch (adjustment) {
    case Adjustment::holm: return c.p_holm;
    case Adjustment::bh: return c.p_bh;
    case Adjustment::none: break;
  }
  return c.test.p;
}

// Significance, block by block: the reference row against every other row
// that has results on the column's corpus, paired on the seeds both have.
// The adjusted p-values need the whole table's tests, so the stars come last.
void mark_significance(Table& table, const TableCells& t) {
  struct Star {
    Score* score;                     // a reference row's score
    std::vector<std::size_t> others;  // its comparisons (indices into table.comparisons)
  };
  std::vector<Star> stars;
  for (std::size_t ref = 0; ref < table.rows.size(); ++ref) {
    Row& reference = table.rows[ref];
    if (!reference.def.reference) continue;
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      const Column& column = table.columns[c];
      const Trials& ref_trials = t.cells[ref].at(column.corpus).trials;
      if (ref_trials.empty()) continue;
      Star star{&reference.scores[c], {}};
      for (std::size_t r = 0; r < table.rows.size(); ++r) {
        const RowDef& other = table.rows[r].def;
        const Trials& other_trials = t.cells[r].at(column.corpus).trials;
        if (r == ref || other.block != reference.def.block || other_trials.empty()) continue;
        std::vector<double> a, b;
        for (const auto& [seed, result] : ref_trials) {
          const auto paired = other_trials.find(seed);
          if (paired == other_trials.end()) continue;
          a.push_back(score_of(*result, reference.def.selector.condition, column.metric));
          b.push_back(score_of(*paired->second, other.selector.condition, column.metric));
        }
        star.others.push_back(table.comparisons.size());
        table.comparisons.push_back({table.def.name, reference.def.block, column.corpus, column.metric,
                                     reference.def.label, other.label, stats::paired_t_test(a, b, stats::Tail::greater),
                                     stats::paired_t_test(a, b, stats::Tail::two_sided).p});
      }
      if (!star.others.empty()) stars.push_back(std::move(star));
    }
  }

  std::vector<double> p;
  for (const auto& c : table.comparisons) p.push_back(c.test.p);
  const std::vector<double> holm = stats::holm(p), bh = stats::benjamini_hochberg(p);
  for (std::size_t i = 0; i < p.size(); ++i) table.comparisons[i].p_holm = holm[i], table.comparisons[i].p_bh = bh[i];
  for (Star& star : stars)
    star.score->significant = std::all_of(star.others.begin(), star.others.end(), [&](std::size_t i) {
      return p_value(table.comparisons[i], table.adjustment) < kSignificanceLevel;  // false for NaN (< 2 pairs)
    });
}

}  // namespace

Table build_table(const TableDef& def, const Selection& selection, Adjustment adjustment) {
  Table table;
  table.def = def;
  table.adjustment = adjustment;
  const bool cost = def.kind == TableKind::cost;
  const TableCells t = collect_cells(def, selection);
  table.results_used = t.results_used;
  for (const auto& corpus : t.corpora) {
    if (cost)
      table.columns.push_back({corpus});
    else
      for (Metric metric : def.metrics) table.columns.push_back({corpus, metric});
  }

  std::set<std::string> devices;
  bool never_run = false;
  for (std::size_t r = 0; r < def.rows.size(); ++r) {
    Row row{def.rows[r], {}, {}};
    for (const auto& corpus : t.corpora) {
      const Cell& cell = t.cells[r].at(corpus);
      std::set<std::int64_t> expected;
      if (selection.has_manifest())
        for (const auto& [seed, id] : cell.planned) expected.insert(seed);
      else if (!cell.trials.empty())
        expected = t.seeds_seen.at(corpus);
      const bool short_of_seeds =
          std::any_of(expected.begin(), expected.end(), [&](std::int64_t seed) { return !cell.trials.count(seed); });
      if (short_of_seeds)
        table.notes.push_back(missing_note(row.def, corpus, cell, expected, selection.results(), never_run));
      if (cost) {
        row.costs.push_back(cost_of(cell, devices));
        continue;
      }
      for (Metric metric : def.metrics) {
        const auto v = values(cell.trials, row.def.selector.condition, metric);
        row.scores.push_back({v.empty() ? 0 : stats::mean(v), stats::sample_sd(v), static_cast<int>(v.size()),
                              static_cast<int>(expected.size()), false});
      }
    }
    table.rows.push_back(std::move(row));
  }
  table.never_trained = never_run && selection.has_manifest();
  table.devices.assign(devices.begin(), devices.end());
  if (!cost) mark_significance(table, t);
  return table;
}

std::string signed_difference(double reproduced, double paper) {
  const double rounded = std::round((reproduced - paper) * 1000) / 1000;
  return fmt::format("{:+.3f}", rounded == 0 ? 0.0 : rounded);  // never "-0.000"
}

}  // namespace auxgrid::analysis
