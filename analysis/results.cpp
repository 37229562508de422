#include "analysis/results.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::analysis {

namespace {

namespace fs = std::filesystem;

// Cells with a failure record and no complete result (failed before, then succeeded: not listed).
std::vector<FailedCell> failed_cells(const std::string& dir, const std::set<std::string>& complete) {
  std::vector<FailedCell> failed;
  for (const auto& id : store::cells_with_failures(dir)) {
    if (complete.count(id)) continue;
    const auto records = store::read_failures(dir, id);
    if (records.empty()) continue;
    failed.push_back({id, records.back().label, static_cast<int>(records.size()), records.back().message});
  }
  return failed;
}

// The value of `key` in a result, "(unset)" where it records none.
std::string value_of(const store::ResultSummary& r, const std::string& key) {
  const auto it = r.config.find(key);
  return it == r.config.end() ? "(unset)" : it->second;
}

// Every key, in order, whose value differs between two results.
std::vector<std::string> differing_keys(const store::ResultSummary& a, const store::ResultSummary& b) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a.config) keys.insert(k);
  for (const auto& [k, v] : b.config) keys.insert(k);
  std::vector<std::string> out;
  for (const auto& k : keys)
    if (value_of(a, k) != value_of(b, k)) out.push_back(k);
  return out;
}

// "key=a/b" for every setting that differs, to say why two results collide.
std::string differing_settings(const store::ResultSummary& a, const store::ResultSummary& b) {
  std::vector<std::string> diffs;
  for (const auto& k : differing_keys(a, b))
    diffs.push_back(fmt::format("{}={}/{}", k, value_of(a, k), value_of(b, k)));
  return diffs.empty() ? "no differing settings" : fmt::format("differing settings: {}", fmt::join(diffs, ", "));
}

// "--where k=v" on the first setting in which the two differ: the option that keeps `b`.
std::string separating_where(const store::ResultSummary& a, const store::ResultSummary& b) {
  for (const auto& k : differing_keys(a, b))
    if (find_setting(k) && b.config.count(k)) return fmt::format("--where {}={}", k, value_of(b, k));
  return "--where";
}

}  // namespace

const FailedCell* ResultsDir::find_failed(const std::string& cell_id) const {
  for (const auto& cell : failed)
    if (cell.cell_id == cell_id) return &cell;
  return nullptr;
}

void find_missing(ResultsDir& results) {
  std::set<std::string> complete;
  for (const auto& r : results.results) complete.insert(r.cell_id);
  results.missing.clear();
  for (const auto& cell : results.manifest)
    if (!complete.count(cell.cell_id)) results.missing.push_back(cell);
}

Where parse_where(const std::vector<std::string>& texts) {
  Where where;
  for (const auto& text : texts) {
    const auto eq = text.find('=');
    AUXGRID_CHECK(eq != std::string::npos && eq > 0, "--where expects key=value, got '{}'", text);
    const auto key = text.substr(0, eq);
    Config config = Config::defaults();
    config.set_from_text(key, text.substr(eq + 1), "--where " + text);  // throws naming an unknown key or bad value
    where[key] = to_string(config.get(key));
  }
  return where;
}

bool matches_where(const std::map<std::string, std::string>& config, const Where& where) {
  static const Config defaults = Config::defaults();
  for (const auto& [key, want] : where) {
    const auto have = config.find(key);
    if ((have == config.end() ? to_string(defaults.get(key)) : have->second) != want) return false;
  }
  return true;
}

ResultsDir load_results_dir(const std::string& dir, int revision, const Where& where) {
  std::error_code ec;
  AUXGRID_CHECK(fs::is_directory(dir, ec), "results directory '{}' does not exist or is not a directory", dir);
  ResultsDir out;
  out.dir = dir;
  out.results = store::scan_results(dir, &out.unreadable, revision);
  out.manifest = store::read_manifest(dir);
  const auto unwanted = [&](const auto& cell) { return !matches_where(cell.config, where); };
  std::set<std::string> excluded;  // planned cells that `where` leaves out: their failures too
  for (const auto& cell : out.manifest)
    if (unwanted(cell)) excluded.insert(cell.cell_id);
  out.results.erase(std::remove_if(out.results.begin(), out.results.end(), unwanted), out.results.end());
  out.manifest.erase(std::remove_if(out.manifest.begin(), out.manifest.end(), unwanted), out.manifest.end());
  find_missing(out);
  std::set<std::string> complete;
  for (const auto& r : out.results) complete.insert(r.cell_id);
  out.failed = failed_cells(dir, complete);
  out.failed.erase(std::remove_if(out.failed.begin(), out.failed.end(),
                                  [&](const FailedCell& cell) { return excluded.count(cell.cell_id) > 0; }),
                   out.failed.end());
  return out;
}

double score_of(const store::ResultSummary& result, const std::string& condition, Metric metric) {
  const auto& [micro, macro] = result.f1.at(condition);
  return metric == Metric::micro_f1 ? micro : macro;
}

Selection::Selection(const ResultsDir& results, const Study& study) : results_(results) {
  const Config defaults = Config::defaults();
  for (const auto& key : study.study_keys) study_defaults_[key] = to_string(defaults.get(key));

  std::set<std::string> seen;
  for (const auto& r : results.results) seen.insert(r.corpus);
  for (const auto& c : results.manifest) seen.insert(c.corpus);
  for (const auto& corpus : study.corpus_order)
    if (seen.erase(corpus)) corpora_.push_back(corpus);
  corpora_.insert(corpora_.end(), seen.begin(), seen.end());  // the rest, alphabetically
}

bool Selection::matches(const std::map<std::string, std::string>& config, const Selector& selector) const {
  for (const auto& [key, default_text] : study_defaults_) {
    const auto wanted = selector.match.find(key);
    const std::string& want = wanted == selector.match.end() ? default_text : wanted->second;
    const auto have = config.find(key);
    if ((have == config.end() ? default_text : have->second) != want) return false;
  }
  return true;
}

Trials Selection::trials(const Selector& selector, const std::string& corpus, const std::string& what) const {
  Trials out;
  for (const auto& r : results_.results) {
    if (r.corpus != corpus || (!selector.condition.empty() && !r.f1.count(selector.condition)) ||
        !matches(r.config, selector))
      continue;
    const auto [it, inserted] = out.emplace(r.seed, &r);
    AUXGRID_CHECK(inserted,
                  "{}: two results for seed {} on corpus '{}': {} and {} ({}); select one with {} (or the other "
                  "file's value), or name the setting in the row's match",
                  what, r.seed, corpus, it->second->path, r.path, differing_settings(*it->second, r),
                  separating_where(*it->second, r));
  }
  return out;
}

std::map<std::int64_t, std::string> Selection::planned(const Selector& selector, const std::string& corpus) const {
  std::map<std::int64_t, std::string> out;
  for (const auto& cell : results_.manifest) {
    if (cell.corpus != corpus || !matches(cell.config, selector)) continue;
    const auto seed = cell.config.find("seed");
    if (seed == cell.config.end()) continue;
    // The manifest is a text file that can be edited: a bad seed names it, not std::stoll.
    std::int64_t value = 0;
    const auto& text = seed->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    AUXGRID_CHECK(!text.empty() && ec == std::errc() && end == text.data() + text.size(),
                  "{}: cell {}: seed '{}' is not a 64-bit integer", store::manifest_path(results_.dir), cell.cell_id,
                  text);
    out.emplace(value, cell.cell_id);
  }
  return out;
}

void add_unlisted_models(Study& study, const ResultsDir& results) {
  std::set<std::string> named;  // by a row, bar or line of the study
  const auto name = [&](const Selector& s) {
    if (const auto it = s.match.find("model.name"); it != s.match.end()) named.insert(it->second);
  };
  for (const auto& table : study.tables)
    for (const auto& row : table.rows) name(row.selector);
  for (const auto& figure : study.figures) {
    name(figure.common.selector);
    for (const auto* items : {&figure.categories, &figure.series, &figure.reference_lines})
      for (const auto& item : *items) name(item.selector);
  }
  // (model.name, model.file_hash) -> label, in the order first seen.
  struct Model {
    std::string name, hash, stem;
  };
  std::vector<Model> models;
  const auto add = [&](const std::map<std::string, std::string>& config) {
    const auto get = [&](const char* key) {
      const auto it = config.find(key);
      return it == config.end() ? std::string() : it->second;
    };
    const auto name = get("model.name");
    if (name.empty() || named.count(name)) return;
    const auto hash = get("model.file_hash");
    if (std::none_of(models.begin(), models.end(), [&](const Model& m) { return m.name == name && m.hash == hash; }))
      models.push_back({name, hash, fs::path(get("model.path")).stem().string()});
  };
  for (const auto& r : results.results) add(r.config);
  for (const auto& c : results.manifest) add(c.config);
  if (models.empty()) return;

  std::map<std::string, int> stems;  // TorchScript files of one name with different bytes
  for (const auto& m : models)
    if (!m.hash.empty()) ++stems[m.stem];
  for (auto& table : study.tables) {
    std::set<std::string> table_models;
    for (const auto& row : table.rows)
      if (const auto it = row.selector.match.find("model.name"); it != row.selector.match.end())
        table_models.insert(it->second);
    if (table_models.size() < 2) continue;  // an ablation of one model
    std::vector<RowDef> rows;
    std::set<std::string> blocks_done;
    for (const auto& row : table.rows) {
      rows.push_back(row);
      const bool last_of_block = &row == &table.rows.back() || (&row + 1)->block != row.block;
      if (!last_of_block || blocks_done.count(row.block)) continue;
      blocks_done.insert(row.block);
      // The row the new ones copy: the block's reference, else its first row.
      const RowDef* model_row = nullptr;
      for (const auto& r : table.rows)
        if (r.block == row.block && (!model_row || (r.reference && !model_row->reference))) model_row = &r;
      for (const auto& m : models) {
        RowDef extra{row.block, m.name, model_row->selector, false, {}};
        for (auto it = extra.selector.match.begin(); it != extra.selector.match.end();)  // the model's own settings
          it = it->first.rfind("model.", 0) == 0 ? extra.selector.match.erase(it) : std::next(it);
        extra.selector.match["model.name"] = m.name;
        if (!m.hash.empty()) {
          extra.selector.match["model.file_hash"] = m.hash;
          extra.label = stems[m.stem] > 1 ? fmt::format("{} (TorchScript, file {})", m.stem, m.hash.substr(0, 8))
                                          : fmt::format("{} (TorchScript)", m.stem);
        }
        rows.push_back(std::move(extra));
      }
    }
    table.rows = std::move(rows);
  }
  study.study_keys.insert("model.name");
  if (std::any_of(models.begin(), models.end(), [](const Model& m) { return !m.hash.empty(); }))
    study.study_keys.insert("model.file_hash");
}

}  // namespace auxgrid::analysis
