#include "analysis/study.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/config.hpp"

namespace auxgrid::analysis {

extern const char* const kBuiltinStudyToml;  // generated from experiments/study.toml by CMake

namespace {

// "file:line" of a node, for messages.
std::string at(const std::string& source, const toml::node& node) {
  const auto line = node.source().begin.line;
  return line == 0 ? source : fmt::format("{}:{}", source, line);
}

// Every key of `table` must be one of `known`: a typo is an error, not a silently ignored line.
void check_keys(const toml::table& table, const std::vector<std::string>& known, const std::string& source,
                const std::string& what) {
  for (const auto& [key, node] : table)
    AUXGRID_CHECK(std::find(known.begin(), known.end(), key.str()) != known.end(),
                  "{}: {}: unknown key '{}' (known: {})", at(source, node), what, key.str(), fmt::join(known, ", "));
}

std::string get_string(const toml::table& table, const std::string& key, const std::string& source,
                       const std::string& what, const std::string& fallback = "") {
  const toml::node* node = table.get(key);
  if (!node) return fallback;
  const auto* s = node->as_string();
  AUXGRID_CHECK(s, "{}: {}: '{}' must be a string", at(source, *node), what, key);
  return s->get();
}

Metric parse_metric(const std::string& name, const std::string& where) {
  if (name == "micro_f1") return Metric::micro_f1;
  if (name == "macro_f1") return Metric::macro_f1;
  AUXGRID_FAIL("{}: metric '{}' is not one of: micro_f1, macro_f1", where, name);
}

Value scalar(const toml::node& node, const std::string& where) {
  if (auto v = node.as_boolean()) return v->get();
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_string()) return v->get();
  AUXGRID_FAIL("{}: a setting's value must be a boolean, number or string", where);
}

// match = { model.name = "auxformer", train.procedure = "standard" }: nested
// tables are dotted keys; each value is checked against the setting's rule and
// kept in the canonical text the result files use (0.20 -> "0.2").
void read_match(const toml::table& table, const std::string& source, const std::string& what, Selector& into,
                const std::string& prefix = "") {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table()) {
      read_match(*sub, source, what, into, key);
      continue;
    }
    const std::string where = fmt::format("{}: {}", at(source, node), what);
    AUXGRID_CHECK(key != "seed" && key != "data.corpus",
                  "{}: match cannot name '{}': every table and figure spans the seeds and corpora", where, key);
    Config config = Config::defaults();
    config.set(key, scalar(node, where), where);
    into.match[key] = to_string(config.get(key));
  }
}

// The `match`, `condition` and `metric` of a table, figure, row or plot item,
// on top of what it inherits.
void read_selection(const toml::table& table, const std::string& source, const std::string& what, Selector& selector) {
  if (const toml::node* match = table.get("match")) {
    const auto* t = match->as_table();
    AUXGRID_CHECK(t, "{}: {}: 'match' must be a table, e.g. {{ model.name = \"auxformer\" }}", at(source, *match),
                  what);
    read_match(*t, source, what, selector);
  }
  selector.condition = get_string(table, "condition", source, what, selector.condition);
}

std::vector<PaperValue> paper_values(const toml::node& node, const std::string& where) {
  const auto* array = node.as_array();
  AUXGRID_CHECK(array, "{}: paper values must be a list, e.g. [0.769, \"0.768*\"]", where);
  std::vector<PaperValue> out;
  for (const auto& item : *array) {
    if (auto v = item.value<double>()) {
      out.push_back({*v, false});
      continue;
    }
    const auto* text = item.as_string();
    AUXGRID_CHECK(text, "{}: a paper value must be a number or a string like \"0.769*\"", where);
    std::string s = text->get();
    const bool star = !s.empty() && s.back() == '*';
    if (star) s.pop_back();
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    AUXGRID_CHECK(used == s.size() && used > 0, "{}: paper value '{}' is not a number (a trailing * marks a star)",
                  where, text->get());
    out.push_back({value, star});
  }
  return out;
}

void collect_keys(const Selector& selector, Study& study) {
  for (const auto& [key, value] : selector.match) study.study_keys.insert(key);
}

TableDef parse_table(const toml::table& t, const std::string& source, Study& study) {
  TableDef table;
  table.source = source;
  table.name = get_string(t, "name", source, "table");
  const std::string what = fmt::format("table '{}'", table.name);
  AUXGRID_CHECK(!table.name.empty(), "{}: a table needs a name", at(source, t));
  check_keys(
      t, {"name", "title", "block_title", "label_title", "kind", "paper_note", "metrics", "condition", "match", "row"},
      source, what);
  table.title = get_string(t, "title", source, what, table.name);
  table.block_title = get_string(t, "block_title", source, what, "block");
  table.label_title = get_string(t, "label_title", source, what, "model");
  table.paper_note = get_string(t, "paper_note", source, what);
  const std::string kind = get_string(t, "kind", source, what, "scores");
  AUXGRID_CHECK(kind == "scores" || kind == "cost", "{}: {}: kind '{}' is not one of: scores, cost", at(source, t),
                what, kind);
  table.kind = kind == "cost" ? TableKind::cost : TableKind::scores;

  if (const auto* metrics = t.get_as<toml::array>("metrics"))
    for (const auto& m : *metrics)
      table.metrics.push_back(parse_metric(m.value_or(std::string()), fmt::format("{}: {}", at(source, m), what)));
  if (table.kind == TableKind::scores && table.metrics.empty()) table.metrics = {Metric::micro_f1, Metric::macro_f1};

  Selector common;
  read_selection(t, source, what, common);
  const auto* rows = t.get_as<toml::array>("row");
  AUXGRID_CHECK(rows && !rows->empty(), "{}: {} has no [[table.row]]", at(source, t), what);
  for (const auto& node : *rows) {
    const auto* r = node.as_table();
    AUXGRID_CHECK(r, "{}: {}: each row must be a table", at(source, node), what);
    RowDef row;
    row.label = get_string(*r, "label", source, what);
    const std::string row_what = fmt::format("{}, row '{}'", what, row.label);
    AUXGRID_CHECK(!row.label.empty(), "{}: {}: a row needs a label", at(source, *r), what);
    check_keys(*r, {"block", "label", "reference", "match", "condition", "paper"}, source, row_what);
    row.block = get_string(*r, "block", source, row_what);
    row.reference = r->get("reference") && r->get("reference")->value_or(false);
    row.selector = common;
    read_selection(*r, source, row_what, row.selector);
    if (table.kind == TableKind::scores)
      AUXGRID_CHECK(!row.selector.condition.empty(), "{}: {}: no evaluation condition (set condition = \"ideal\", ...)",
                    at(source, *r), row_what);
    if (const auto* paper = r->get_as<toml::table>("paper"))
      for (const auto& [corpus, values] : *paper) {
        const std::string where = fmt::format("{}: {}", at(source, values), row_what);
        row.paper[std::string(corpus.str())] = paper_values(values, where);
        const std::size_t want = table.kind == TableKind::cost ? 2 : table.metrics.size();
        AUXGRID_CHECK(row.paper[std::string(corpus.str())].size() == want,
                      "{}: paper values for '{}' must be {} (one per {}), got {}", where, corpus.str(), want,
                      table.kind == TableKind::cost ? "parameters, seconds" : "metric", values.as_array()->size());
      }
    collect_keys(row.selector, study);
    table.rows.push_back(std::move(row));
  }
  std::set<std::string> references;
  for (const auto& row : table.rows)
    if (row.reference)
      AUXGRID_CHECK(references.insert(row.block).second, "{}: {}: block '{}' has two reference rows", source, what,
                    row.block);
  return table;
}

std::vector<PlotItem> plot_items(const toml::table& t, const char* key, const PlotItem& common,
                                 const std::string& source, const std::string& what) {
  std::vector<PlotItem> out;
  const toml::node* node = t.get(key);
  if (!node) return out;
  const auto* array = node->as_array();
  AUXGRID_CHECK(array, "{}: {}: '{}' must be a list of {{ label = ..., match = ... }}", at(source, *node), what, key);
  for (const auto& entry : *array) {
    const auto* e = entry.as_table();
    AUXGRID_CHECK(e, "{}: {}: each of '{}' must be a table", at(source, entry), what, key);
    PlotItem item = common;
    item.label = get_string(*e, "label", source, what);
    const std::string item_what = fmt::format("{}, {} '{}'", what, key, item.label);
    check_keys(*e, {"label", "match", "condition", "metric"}, source, item_what);
    read_selection(*e, source, item_what, item.selector);
    if (const auto metric = e->get_as<std::string>("metric"))
      item.metric = parse_metric(metric->get(), fmt::format("{}: {}", at(source, entry), item_what));
    out.push_back(std::move(item));
  }
  return out;
}

FigureDef parse_figure(const toml::table& t, const std::string& source, Study& study) {
  FigureDef figure;
  figure.source = source;
  figure.name = get_string(t, "name", source, "figure");
  const std::string what = fmt::format("figure '{}'", figure.name);
  AUXGRID_CHECK(!figure.name.empty(), "{}: a figure needs a name", at(source, t));
  check_keys(t,
             {"name", "title", "kind", "metric", "condition", "match", "x_label", "x", "categories", "series",
              "reference_lines"},
             source, what);
  figure.title = get_string(t, "title", source, what, figure.name);
  figure.x_label = get_string(t, "x_label", source, what);
  const std::string kind = get_string(t, "kind", source, what, "bars");
  AUXGRID_CHECK(kind == "box" || kind == "bars" || kind == "lines", "{}: {}: kind '{}' is not one of: box, bars, lines",
                at(source, t), what, kind);
  figure.kind = kind == "box" ? FigureKind::box : kind == "lines" ? FigureKind::lines : FigureKind::bars;
  figure.metric = parse_metric(get_string(t, "metric", source, what, "micro_f1"), fmt::format("{}: {}", source, what));

  PlotItem common;
  common.metric = figure.metric;
  read_selection(t, source, what, common.selector);
  figure.common = common;
  figure.categories = plot_items(t, "categories", common, source, what);
  figure.series = plot_items(t, "series", common, source, what);
  figure.reference_lines = plot_items(t, "reference_lines", common, source, what);
  if (const auto* x = t.get_as<toml::array>("x"))
    for (const auto& v : *x) {
      const auto value = v.value<double>();
      AUXGRID_CHECK(value, "{}: {}: x values must be numbers", at(source, v), what);
      figure.x.push_back(*value);
    }

  switch (figure.kind) {
    case FigureKind::box:
      AUXGRID_CHECK(!figure.categories.empty() && figure.series.empty(), "{}: {}: a box figure needs categories only",
                    at(source, t), what);
      break;
    case FigureKind::bars:
      if (figure.series.empty()) {  // one bar per category: the figure's metric
        figure.series.push_back(common);
        figure.series.back().label = metric_title(figure.metric);
      }
      AUXGRID_CHECK(!figure.categories.empty(), "{}: {}: a bars figure needs categories", at(source, t), what);
      break;
    case FigureKind::lines:
      AUXGRID_CHECK(!figure.x.empty() && !figure.series.empty() && figure.categories.empty(),
                    "{}: {}: a lines figure needs x and series (and no categories)", at(source, t), what);
      break;
    case FigureKind::traces: break;  // never parsed: training curves come from the results (figures.hpp)
  }
  const std::vector<const std::vector<PlotItem>*> all{&figure.categories, &figure.series, &figure.reference_lines};
  for (const auto* items : all)
    for (const auto& item : *items) collect_keys(item.selector, study);
  return figure;
}

}  // namespace

const char* metric_name(Metric metric) { return metric == Metric::micro_f1 ? "micro_f1" : "macro_f1"; }
const char* metric_title(Metric metric) { return metric == Metric::micro_f1 ? "micro-F1" : "macro-F1"; }

const TableDef* Study::find_table(const std::string& name) const {
  for (const auto& table : tables)
    if (table.name == name) return &table;
  return nullptr;
}

Study parse_study(const std::string& toml_text, const std::string& source) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    AUXGRID_FAIL("{}:{}: {}", source, e.source().begin.line, e.description());
  }
  check_keys(doc, {"corpora", "table", "figure"}, source, "study");
  Study study;
  if (const auto* corpora = doc.get_as<toml::array>("corpora"))
    for (const auto& c : *corpora) study.corpus_order.push_back(c.value_or(std::string()));
  if (const auto* tables = doc.get_as<toml::array>("table"))
    for (const auto& t : *tables) {
      AUXGRID_CHECK(t.is_table(), "{}: [[table]] entries must be tables", at(source, t));
      study.tables.push_back(parse_table(*t.as_table(), source, study));
    }
  if (const auto* figures = doc.get_as<toml::array>("figure"))
    for (const auto& f : *figures) {
      AUXGRID_CHECK(f.is_table(), "{}: [[figure]] entries must be tables", at(source, f));
      study.figures.push_back(parse_figure(*f.as_table(), source, study));
    }
  Study checked;  // merging into an empty study checks for names defined twice in one file
  checked.corpus_order = study.corpus_order;
  merge_study(checked, study);
  return checked;
}

Study load_study(const std::string& path) {
  files::require_regular_file(path, "study file");
  std::ifstream in(path);
  AUXGRID_CHECK(in.is_open(), "cannot read study file '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_study(text.str(), path);
}

Study builtin_study() { return parse_study(kBuiltinStudyToml, "experiments/study.toml (built in)"); }
const char* builtin_study_text() { return kBuiltinStudyToml; }

void merge_study(Study& into, const Study& more) {
  for (const auto& table : more.tables) {
    const TableDef* existing = into.find_table(table.name);
    AUXGRID_CHECK(!existing, "table '{}' is defined twice: in {} and in {}", table.name,
                  existing ? existing->source : "", table.source);
    into.tables.push_back(table);
  }
  for (const auto& figure : more.figures) {
    const auto same = std::find_if(into.figures.begin(), into.figures.end(),
                                   [&](const FigureDef& f) { return f.name == figure.name; });
    AUXGRID_CHECK(same == into.figures.end(), "figure '{}' is defined twice: in {} and in {}", figure.name,
                  same == into.figures.end() ? "" : same->source, figure.source);
    into.figures.push_back(figure);
  }
  for (const auto& corpus : more.corpus_order)
    if (std::find(into.corpus_order.begin(), into.corpus_order.end(), corpus) == into.corpus_order.end())
      into.corpus_order.push_back(corpus);
  into.study_keys.insert(more.study_keys.begin(), more.study_keys.end());
}

}  // namespace auxgrid::analysis
