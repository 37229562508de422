#include "analysis/report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "analysis/export.hpp"
#include "analysis/figures.hpp"
#include "analysis/gnuplot.hpp"
#include "analysis/results.hpp"
#include "analysis/tables.hpp"
#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/version.hpp"

namespace auxgrid::analysis {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kListedCells = 200;  // the report lists at most this many missing or failed cells

// Whole or not at all: the previous version stays when the disk is full.
void write_file(const std::string& path, const std::string& text) { files::write_atomically(path, text, "output"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  AUXGRID_CHECK(in.is_open(), "cannot read '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string base64(const std::string& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += digits[(v >> shift) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The drawing's own width (gnuplot writes viewBox="0 0 W H"), so that the page
// shows a figure at its size rather than stretched to the page's width.
int svg_width(const std::string& svg) {
  const auto at = svg.find("viewBox=\"0 0 ");
  return at == std::string::npos ? 800 : std::atoi(svg.c_str() + at + 13);
}

std::string html(const std::string& text) { return escape(text, Style::html); }

// Everything one run of a command needs: the study, the results, the selection.
struct Analysis {
  Study study;
  ResultsDir results;
  Selection selection;
  // `study` is initialised first, from `r` before it moves: models no row names get rows of their own.
  Analysis(Study s, ResultsDir r)
      : study(with_unlisted_models(std::move(s), r)), results(std::move(r)), selection(results, study) {}

 private:
  static Study with_unlisted_models(Study s, const ResultsDir& r) {
    add_unlisted_models(s, r);
    return s;
  }
};

// "--where a=1 --where b=2": the selection, as the user gave it.
std::string where_flags(const AnalyzeOptions& options) {
  std::string out;
  for (const auto& w : options.where) out += (out.empty() ? "--where " : " --where ") + w;
  return out;
}

std::unique_ptr<Analysis> analyse(const AnalyzeOptions& options, std::ostream& log) {
  auto a = std::make_unique<Analysis>(
      study_of(options), load_results_dir(options.results_dir, options.model_revision, parse_where(options.where)));
  for (const auto& problem : a->results.unreadable) log << "warning: skipped " << problem << '\n';
  AUXGRID_CHECK(!a->results.results.empty(), "no complete result files in {}/cells{}", options.results_dir,
                options.where.empty() ? "" : " match " + where_flags(options));
  return a;
}

// Where a table's results come from: the directory and the --where that selected them.
std::string results_source(const AnalyzeOptions& options) {
  return options.where.empty() ? options.results_dir : options.results_dir + " " + where_flags(options);
}

// The tables named, or every table worth showing (the others named on `log`).
std::vector<Table> build_tables(const Analysis& a, const std::vector<std::string>& names, Adjustment adjust,
                                std::ostream& log) {
  for (const auto& name : names)
    if (!a.study.find_table(name)) {
      std::vector<std::string> known;
      for (const auto& t : a.study.tables) known.push_back(t.name);
      AUXGRID_FAIL("no table '{}' in the study (tables: {})", name, fmt::join(known, ", "));
    }
  std::vector<Table> tables;
  for (const auto& def : a.study.tables)
    if (names.empty() || std::find(names.begin(), names.end(), def.name) != names.end())
      tables.push_back(build_table(def, a.selection, adjust));
  if (!names.empty()) return tables;
  // Unasked for, a table is shown when it compares something; failing that
  // (a grid of one model, say), when it has any result at all.
  std::vector<Table> shown;
  for (const auto& table : tables)
    if (table.has_content()) shown.push_back(table);
  if (shown.empty())
    for (const auto& table : tables)
      if (table.results_used > 0) shown.push_back(table);
  for (const auto& table : tables)
    if (table.results_used > 0 &&
        std::none_of(shown.begin(), shown.end(), [&](const Table& t) { return t.def.name == table.def.name; }))
      log << "note: " << table.def.name << " left out: its " << table.results_used
          << " results compare nothing (one row); show it with --table " << table.def.name << '\n';
  return shown;
}

std::string render(const Table& table, const std::string& format, const RenderOptions& options) {
  if (format == "latex") return render_latex(table, options);
  if (format == "csv") return render_csv(table, options);
  return render_markdown(table, options);
}

// Renders every figure that has results into `dir`; notes the others on `log`.
std::vector<std::pair<const FigureDef*, FigureFiles>> plot_figures(const Analysis& a, const std::string& dir,
                                                                   std::ostream& log) {
  std::vector<std::pair<const FigureDef*, FigureFiles>> files;
  for (const auto& def : a.study.figures) {
    const FigureData data = build_figure(def, a.selection);
    if (data.panels.empty()) {
      log << "figure " << def.name << ": no results for it, skipped\n";
      continue;
    }
    // As a table of one row: a figure whose panels each hold one category (bars, box) or one point per line
    // (lines) compares nothing. Its series (metrics, procedures) do not compare the study's variants.
    const bool lines = data.kind == FigureKind::lines;
    const bool compares = std::any_of(data.panels.begin(), data.panels.end(), [&](const PanelData& panel) {
      std::set<std::size_t> categories;
      for (const auto& series : panel.series) {
        std::size_t points = 0;
        for (std::size_t i = 0; i < series.values.size(); ++i)
          if (!series.values[i].empty()) ++points, categories.insert(i);
        if (lines && points > 1) return true;
      }
      return !lines && categories.size() > 1;
    });
    if (!compares && data.kind != FigureKind::traces) {
      log << "figure " << def.name << ": its results make one " << (lines ? "point per line" : "category")
          << " per corpus, which compares nothing; skipped\n";
      continue;
    }
    files.emplace_back(&def, plot_figure(data, dir));
  }
  return files;
}

std::string gnuplot_missing_message() {
  return "figures skipped: no gnuplot program found (install it with `apt-get install gnuplot-nox`, or set " +
         std::string(kGnuplotEnv) + " to its path)";
}

// ---- the HTML page ----

std::string html_table(const Table& table, const RenderOptions& options) {
  const Layout l = layout(table, options, Style::html);
  std::string out =
      fmt::format("<section id=\"{}\">\n<h3>{}</h3>\n<table>\n<thead>\n", html(table.def.name), html(table.def.title));
  // Corpus headers spanning their columns.
  out += "<tr>";
  for (std::size_t c = 0; c < l.label_columns; ++c) out += "<th></th>";
  for (std::size_t c = l.label_columns; c < l.titles.size();) {
    std::size_t end = c;
    while (end < l.titles.size() && l.groups[end] == l.groups[c]) ++end;
    out += fmt::format("<th colspan=\"{}\" class=\"group\">{}</th>", end - c, l.groups[c]);
    c = end;
  }
  out += "</tr>\n<tr>";
  for (std::size_t c = 0; c < l.titles.size(); ++c)
    out += fmt::format(c < l.label_columns ? "<th class=\"label\">{}</th>" : "<th>{}</th>", l.titles[c]);
  out += "</tr>\n</thead>\n<tbody>\n";
  for (std::size_t r = 0; r < l.rows.size(); ++r) {
    out += l.block_starts[r] ? "<tr class=\"block\">" : "<tr>";
    for (std::size_t c = 0; c < l.rows[r].size(); ++c)
      out += fmt::format(c < l.label_columns ? "<td class=\"label\">{}</td>" : "<td>{}</td>", l.rows[r][c]);
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  for (const auto& line : legend(table, options))
    out += fmt::format("<p class=\"{}\">{}</p>\n", line.rfind("Fewer", 0) == 0 ? "warn" : "legend", html(line));
  return out + "</section>\n";
}

// A figure inlined as SVG, with links to its files (which lie under figures/);
// `kind` is its image's class: "figure" for the study's, counted by kFigureCheck.
std::string figure_element(const std::string& name, const std::string& title, const FigureFiles& files,
                           const char* kind = "figure") {
  const std::string svg = read_file(files.svg);
  const auto relative = [](const std::string& path) {
    const auto at = path.rfind("/figures/");
    return at == std::string::npos ? path : path.substr(at + 1);
  };
  return fmt::format(
      "<figure id=\"{0}\"><img class=\"{6}\" alt=\"{1}\" width=\"{3}\" src=\"data:image/svg+xml;base64,{2}\">"
      "<figcaption>{1} <a href=\"{4}\">PNG</a> <a href=\"{5}\">SVG</a></figcaption></figure>\n",
      html(name), html(title), base64(svg), svg_width(svg), html(relative(files.png)), html(relative(files.svg)), kind);
}

// A table's training curves under it, folded: train and dev loss per epoch of
// each seed, a figure per model (figures/curves/).
std::string curves_html(const Table& table, const Selection& selection, const std::string& figures_dir) {
  const auto figures = build_training_curves(table, selection);
  if (figures.empty()) return "";
  std::string out = fmt::format(
      "<details class=\"curves\"><summary>Training curves: train and dev loss per epoch, a "
      "line per seed ({} models)</summary>\n",
      figures.size());
  for (const auto& fig : figures)
    out += figure_element(fig.name, fig.title, plot_figure(fig, figures_dir + "/curves"), "curves");
  return out + "</details>\n";
}

// Distinct values of a provenance key over the results, most frequent first.
std::string provenance_values(const ResultsDir& results, const std::string& key) {
  std::map<std::string, int> counts;
  for (const auto& r : results.results) {
    const auto it = r.provenance.find(key);
    if (it != r.provenance.end()) ++counts[it->second];
  }
  std::vector<std::pair<int, std::string>> ordered;
  for (const auto& [value, n] : counts) ordered.push_back({-n, value});
  std::sort(ordered.begin(), ordered.end());
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < ordered.size() && i < 5; ++i)
    shown.push_back(ordered.size() == 1
                        ? html(ordered[i].second)
                        : fmt::format("{} <small>({} cells)</small>", html(ordered[i].second), -ordered[i].first));
  if (ordered.size() > 5) shown.push_back(fmt::format("and {} more", ordered.size() - 5));
  return shown.empty() ? "-" : fmt::format("{}", fmt::join(shown, "<br>"));
}

std::string status_section(const ResultsDir& r) {
  const std::size_t complete = r.results.size(), failed = r.failed.size();
  std::string out = "<section id=\"status\">\n<h2>Status</h2>\n";
  if (r.manifest.empty()) {
    out += fmt::format(
        "<p>{} complete cells. No manifest.tsv in the results directory (written by <code>auxgrid run</code>), so "
        "cells that never ran cannot be listed.</p>\n",
        complete);
  } else {
    const std::size_t planned = r.manifest.size();
    const double share = planned ? 100.0 * static_cast<double>(complete) / static_cast<double>(planned) : 0;
    out += fmt::format(
        "<p><meter min=\"0\" max=\"{0}\" value=\"{1}\"></meter> <b>{1} of {0} planned cells complete</b> ({2:.1f} "
        "%): {3} missing, of which {4} failed.</p>\n",
        planned, complete, share, r.missing.size(), failed);
  }
  if (!r.unreadable.empty()) {
    out += fmt::format("<p class=\"warn\">{} result files could not be used:</p>\n<ul>\n", r.unreadable.size());
    for (const auto& u : r.unreadable) out += fmt::format("<li><code>{}</code></li>\n", html(u));
    out += "</ul>\n";
  }
  if (!r.failed.empty()) {
    out +=
        "<h3>Failed cells</h3>\n<table class=\"list\">\n<tr><th>cell</th><th>label</th><th>attempts</th>"
        "<th>last error</th></tr>\n";
    for (std::size_t i = 0; i < r.failed.size() && i < kListedCells; ++i)
      out +=
          fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>\n", html(r.failed[i].cell_id),
                      html(r.failed[i].label), r.failed[i].attempts, html(r.failed[i].last_error));
    out += "</table>\n";
    if (r.failed.size() > kListedCells) out += fmt::format("<p>... and {} more.</p>\n", r.failed.size() - kListedCells);
  }
  std::vector<const store::ManifestCell*> never_ran;
  for (const auto& cell : r.missing)
    if (!r.find_failed(cell.cell_id)) never_ran.push_back(&cell);
  if (!never_ran.empty()) {
    out +=
        "<h3>Missing cells (no result, no error)</h3>\n<table class=\"list\">\n<tr><th>cell</th><th>corpus</th>"
        "<th>label</th></tr>\n";
    for (std::size_t i = 0; i < never_ran.size() && i < kListedCells; ++i)
      out += fmt::format("<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n", html(never_ran[i]->cell_id),
                         html(never_ran[i]->corpus), html(never_ran[i]->label));
    out += "</table>\n";
    if (never_ran.size() > kListedCells)
      out += fmt::format("<p>... and {} more.</p>\n", never_ran.size() - kListedCells);
  }
  return out + "</section>\n";
}

std::string provenance_section(const ResultsDir& r) {
  std::set<std::string> grids;
  std::string first, last;
  double wall = 0;
  for (const auto& result : r.results) {
    grids.insert(result.grid);
    const auto finished = result.provenance.find(store::provenance::kFinishedUtc);
    if (finished != result.provenance.end()) {
      if (first.empty() || finished->second < first) first = finished->second;
      if (last.empty() || finished->second > last) last = finished->second;
    }
    const auto seconds = result.provenance.find(store::provenance::kWallSeconds);
    if (seconds != result.provenance.end()) wall += std::atof(seconds->second.c_str());
  }
  std::string out = "<section id=\"provenance\">\n<h2>Provenance</h2>\n<table class=\"list\">\n";
  auto row = [&](const std::string& name, const std::string& value) {
    out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", name, value);
  };
  row("grids", html(fmt::format("{}", fmt::join(grids, ", "))));
  row("cells finished", html(first.empty() ? "-" : first + " to " + last));
  row("training time", fmt::format("{:.2f} h of cell wall time", wall / 3600));
  namespace prov = store::provenance;
  for (const auto& [key, title] :
       std::vector<std::pair<std::string, std::string>>{{prov::kAuxgridVersion, "auxgrid"},
                                                        {prov::kGitCommit, "git commit"},
                                                        {prov::kGitDirty, "uncommitted changes"},
                                                        {prov::kLibtorchVersion, "LibTorch"},
                                                        {prov::kMpiVersion, "MPI"},
                                                        {prov::kHdf5Version, "HDF5"},
                                                        {prov::kDeviceName, "device"},
                                                        {prov::kCommunicator, "communicator"},
                                                        {prov::kHost, "hosts"},
                                                        {prov::kCommand, "command"}})
    row(title, provenance_values(r, key));
  return out + "</table>\n</section>\n";
}

constexpr const char* kStyle = R"(
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1280px;
       padding: 1.5em 2em; color: #1d2330; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #dfe3ea; padding-bottom: 0.2em; }
nav a { margin-right: 1em; } code { font-size: 0.9em; background: #f3f5f8; padding: 0 0.25em; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #e6e9ef; text-align: right; }
td { white-space: nowrap; }
td.label, th.label, table.list td, table.list th { text-align: left; white-space: normal; }
th.group { text-align: center; border-bottom: 1px solid #9aa3b2; }
thead th { background: #f5f7fa; } tr.block td { border-top: 2px solid #9aa3b2; }
sup { color: #b3261e; font-weight: bold; } small { color: #6b7280; } small.short { color: #b3261e; font-weight: bold; }
p.legend { color: #4b5563; font-size: 0.9em; margin: 0.2em 0; } .warn { color: #b3261e; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #e6e9ef; }
figcaption { color: #4b5563; font-size: 0.9em; } meter { width: 14em; }
)";

// Marks <body> with the figures that decoded and take up space, for headless checks
// (tests/e2e_report.sh reads data-figures from chromium's DOM dump).
constexpr const char* kFigureCheck = R"(<script>
window.addEventListener('load', function () {
  var images = document.querySelectorAll('img.figure'), shown = 0;
  images.forEach(function (i) {
    if (i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 100) shown++;
  });
  document.body.setAttribute('data-figures', shown + '/' + images.length);
});
</script>
)";

}  // namespace

Study study_of(const AnalyzeOptions& options) {
  Study study = builtin_study();
  for (const auto& file : options.study_files) merge_study(study, load_study(file));
  return study;
}

void tables_command(const AnalyzeOptions& options, std::ostream& out, std::ostream& log) {
  const std::string format = options.format.empty() ? "md" : options.format;
  AUXGRID_CHECK(format == "md" || format == "latex" || format == "csv", "--format must be md, latex or csv, got '{}'",
                format);
  const auto a = analyse(options, log);
  const std::vector<Table> tables = build_tables(*a, options.tables, options.adjust, log);
  const RenderOptions render_options{options.paper, results_source(options)};
  AUXGRID_CHECK(!tables.empty(), "none of the {} results in {} belongs to a table of the study",
                a->results.results.size(), options.results_dir);
  for (const auto& table : tables) {
    if (&table != &tables.front()) out << '\n';
    out << render(table, format, render_options);
    for (const auto& note : table.notes)
      log << "warning: " << table.def.name << ": fewer seeds than planned: " << note << '\n';
    if (options.paper) {  // a paper column left empty is explained, not silent
      std::set<std::string> reported, unreported;
      for (const auto& row : table.rows)
        for (const auto& [corpus, values] : row.def.paper) reported.insert(corpus);
      for (const auto& column : table.columns)
        if (!reported.count(column.corpus)) unreported.insert(column.corpus);
      if (!unreported.empty())
        log << "note: " << table.def.name << ": --paper: the paper reports no values for "
            << fmt::format("{}", fmt::join(unreported, ", ")) << " (it reports "
            << (reported.empty() ? std::string("none for this table") : fmt::format("{}", fmt::join(reported, ", ")))
            << "); their paper and diff columns are empty\n";
    }
  }
  if (!options.comparisons_path.empty()) write_file(options.comparisons_path, render_comparisons_csv(tables));
}

void export_command(const AnalyzeOptions& options, std::ostream& out, std::ostream& log) {
  AUXGRID_CHECK(options.format.empty() || options.format == "csv",
                "export: --format must be csv (pandas, R and pyarrow read it), got '{}'", options.format);
  const auto a = analyse(options, log);
  const std::string csv = export_csv(a->results);
  if (options.out.empty()) {
    out << csv;
    return;
  }
  write_file(options.out, csv);
  log << "wrote " << options.out << ": " << a->results.results.size() << " results\n";
}

void power_command(const AnalyzeOptions& options, std::ostream& out, std::ostream& log) {
  AUXGRID_CHECK(options.format.empty() || options.format == "csv",
                "power: --format must be csv (or left out for a text table), got '{}'", options.format);
  const auto a = analyse(options, log);
  const std::vector<Table> tables = build_tables(*a, options.tables, Adjustment::none, log);
  const bool any = std::any_of(tables.begin(), tables.end(), [](const Table& t) { return !t.comparisons.empty(); });
  AUXGRID_CHECK(any, "power: no table compares two rows with results in {}", results_source(options));
  out << render_power(tables, options.power, options.format == "csv");
}

int figures_command(const AnalyzeOptions& options, std::ostream& log) {
  const auto a = analyse(options, log);
  if (gnuplot_version().empty()) {
    log << gnuplot_missing_message() << '\n';
    return 0;
  }
  fs::create_directories(options.out);
  const auto files = plot_figures(*a, options.out, log);
  for (const auto& [def, f] : files) log << "wrote " << f.svg << " and " << f.png << '\n';
  return static_cast<int>(files.size());
}

void report_command(const AnalyzeOptions& options, std::ostream& log) {
  const auto a = analyse(options, log);
  const fs::path out(options.out);
  fs::create_directories(out / "tables");
  fs::create_directories(out / "figures");

  // Every table in every format beside the page, and the page's copy with the paper's values.
  const std::vector<Table> tables = build_tables(*a, {}, options.adjust, log);
  const RenderOptions with_paper{true, results_source(options)};
  const std::string gnuplot = gnuplot_version();
  std::string table_html;
  bool paper_values = false;
  for (const auto& table : tables) {
    for (const auto& [format, extension] :
         std::vector<std::pair<std::string, std::string>>{{"md", "md"}, {"latex", "tex"}, {"csv", "csv"}})
      write_file((out / "tables" / (table.def.name + "." + extension)).string(), render(table, format, with_paper));
    table_html += html_table(table, with_paper);
    if (!gnuplot.empty()) table_html += curves_html(table, a->selection, (out / "figures").string());
    for (const auto& row : table.def.rows)
      for (const auto& corpus : a->selection.corpora()) paper_values = paper_values || row.paper.count(corpus) > 0;
  }
  write_file((out / "tables" / "comparisons.csv").string(), render_comparisons_csv(tables));

  std::string figure_html;
  if (gnuplot.empty()) {
    log << gnuplot_missing_message() << '\n';
    figure_html = fmt::format("<p class=\"warn\">{}</p>\n", html(gnuplot_missing_message()));
  } else {
    for (const auto& [def, files] : plot_figures(*a, (out / "figures").string(), log))
      figure_html += figure_element(def->name, def->title, files);
    if (figure_html.empty()) figure_html = "<p>No figure has results yet.</p>\n";
  }

  std::set<std::string> grids;
  for (const auto& r : a->results.results) grids.insert(r.grid);
  std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>auxgrid report: {0}</title>\n"
      "<style>{1}</style>\n</head>\n<body>\n<h1>auxgrid report: {0}</h1>\n"
      "<p>Results in <code>{2}</code>{5}, analysed by auxgrid {3}{4}. {6}</p>\n"
      "<nav><a href=\"#status\">Status</a><a href=\"#tables\">Tables</a><a href=\"#figures\">Figures</a>"
      "<a href=\"#provenance\">Provenance</a></nav>\n",
      html(fmt::format("{}", fmt::join(grids, ", "))), kStyle, html(options.results_dir), html(version()),
      gnuplot.empty() ? "" : ", figures by " + html(gnuplot),
      options.where.empty() ? "" : html(" (" + where_flags(options) + ")"),
      paper_values ? "Tables show the reproduced means beside the paper's values (Goncalves and Busso, 2022)."
                   : "The paper reports no values for these corpora (" +
                         html(fmt::format("{}", fmt::join(a->selection.corpora(), ", "))) +
                         "), so the tables show the reproduced means only.");
  page += status_section(a->results);
  if (table_html.empty()) table_html = "<p>No table of the study has results yet.</p>\n";
  page += "<section id=\"tables\">\n<h2>Tables</h2>\n" + table_html +
          "<p class=\"legend\">Every table as Markdown, LaTeX and CSV, and every t-test, in <code>tables/</code>."
          "</p>\n</section>\n";
  page += "<section id=\"figures\">\n<h2>Figures</h2>\n" + figure_html + "</section>\n";
  page += provenance_section(a->results);
  page += kFigureCheck;
  page += "</body>\n</html>\n";
  write_file((out / "index.html").string(), page);
  log << "wrote " << (out / "index.html").string() << '\n';
}

}  // namespace auxgrid::analysis
