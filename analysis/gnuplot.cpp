#include "analysis/gnuplot.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <system_error>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/stats/metrics.hpp"

namespace auxgrid::analysis {

namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Tableau 10: distinct hues that stay apart in print and for most colour-blind readers.
constexpr const char* kColours[] = {"#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                                    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC"};
const char* colour(std::size_t i) { return kColours[i % std::size(kColours)]; }
constexpr const char* kSeedColour = "#60404040";  // per-seed points: translucent dark grey

// Layout in pixels. The two terminals get font sizes that render text about
// kCharWidth px per character, so one layout suits both.
constexpr int kPanelWidth = 340, kPlotHeight = 280, kLeft = 90, kGap = 55, kRight = 25;
constexpr double kCharWidth = 7.0;

// ---- text ------------------------------------------------------------------

// A gnuplot single-quoted string: printed literally (no backslash escapes; with
// the noenhanced terminals no _ ^ @ { } markup either). Control characters become spaces.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'')
      out += "''";
    else
      out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  return out + "'";
}

// Text for a comment line (one line) or a quoted column of the data file.
std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}
std::string data_string(const std::string& s) {
  std::string out = one_line(s);
  std::replace(out.begin(), out.end(), '"', '\'');
  return '"' + out + '"';
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Numbers as written to the data file and the script; NaN marks "no result".
std::string num(double v) { return std::isnan(v) ? "NaN" : fmt::format("{:.6g}", v); }

std::size_t max_length(const std::vector<std::string>& texts) {
  std::size_t n = 0;
  for (const auto& t : texts) n = std::max(n, t.size());
  return n;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const FigureData& fig, const fs::path& path, const std::string& text) {
  files::write_atomically(path.string(), text, fmt::format("figure {}'s", fig.name));
}

// ---- numbers ---------------------------------------------------------------

struct Summary {
  double mean = kNaN, sd = kNaN;
  std::size_t n = 0;
};
Summary summarize(const std::vector<double>& v) {
  if (v.empty()) return {};
  return {stats::mean(v), stats::sample_sd(v), v.size()};
}

// Linear-interpolation quantile of sorted values (R's type 7, numpy's default).
double quantile(const std::vector<double>& sorted, double p) {
  const double h = p * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<std::size_t>(h);
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (h - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // The range with a margin of `margin` times its span; kept within [0, 1] when
  // the data are (F1 scores), so the axis does not run into impossible values.
  std::string padded(double margin, bool clamp01) const {
    if (lo > hi) return "[0:1]";
    const double span = hi - lo;
    const double pad = span > 0 ? margin * span : std::max(0.05 * std::abs(hi), 0.05);
    double a = lo - pad, b = hi + pad;
    if (clamp01 && lo >= 0 && a < 0) a = 0;
    if (clamp01 && hi <= 1 && b > 1) b = 1;
    return fmt::format("[{}:{}]", num(a), num(b));
  }
};

// The widest per-category list of values in a box figure: its data file has as many value columns.
std::size_t max_values(const FigureData& fig) {
  std::size_t n = 0;
  for (const auto& panel : fig.panels)
    if (!panel.series.empty())
      for (const auto& v : panel.series[0].values) n = std::max(n, v.size());
  return n;
}

// ---- checks and styles -----------------------------------------------------

bool has_numeric_x(const FigureData& fig) { return fig.kind == FigureKind::lines || fig.kind == FigureKind::traces; }

// Traces: every series of every panel is a column of the data file, in order.
std::size_t trace_count(const FigureData& fig) {
  std::size_t n = 0;
  for (const auto& panel : fig.panels) n = std::max(n, panel.series.size());
  return n;
}

void check_shape(const FigureData& fig) {
  AUXGRID_CHECK(!fig.name.empty() && fig.name.find('/') == std::string::npos,
                "figure '{}' ({}): the name must be a file stem", fig.name, fig.title);
  AUXGRID_CHECK(!fig.panels.empty(), "figure {}: no panels", fig.name);
  const bool numeric_x = has_numeric_x(fig);
  const std::size_t n = numeric_x ? fig.x.size() : fig.categories.size();
  const char* what = numeric_x ? "x values" : "categories";
  AUXGRID_CHECK(n > 0, "figure {}: no {}", fig.name, what);
  for (const double x : fig.x) AUXGRID_CHECK(std::isfinite(x), "figure {}: x value {} is not finite", fig.name, x);
  for (const auto& panel : fig.panels) {
    std::set<std::string> labels;  // series are told apart by label: colour, data columns
    for (const auto& s : panel.series) {
      AUXGRID_CHECK(labels.insert(s.label).second || fig.kind == FigureKind::box || fig.kind == FigureKind::traces,
                    "figure {}, panel '{}': two series labelled '{}'", fig.name, panel.title, s.label);
      AUXGRID_CHECK(s.values.size() == n, "figure {}, panel '{}', series '{}': {} value lists for {} {}", fig.name,
                    panel.title, s.label, s.values.size(), n, what);
      if (fig.kind == FigureKind::traces)
        for (const auto& v : s.values)
          AUXGRID_CHECK(v.size() <= 1, "figure {}, panel '{}', trace '{}': {} values at one x, at most 1", fig.name,
                        panel.title, s.label, v.size());
    }
  }
}

// The same label gets the same colour (series) or dash style (reference lines) in every panel.
struct Styles {
  std::map<std::string, std::size_t> series, references;
};
Styles assign_styles(const FigureData& fig) {
  Styles st;
  for (const auto& panel : fig.panels) {
    for (const auto& s : panel.series) st.series.emplace(s.label, st.series.size());
    for (const auto& r : panel.reference_lines) st.references.emplace(r.label, st.references.size());
  }
  return st;
}

std::string series_style(const FigureData& fig, std::size_t i) {
  switch (fig.kind) {
    case FigureKind::box: return fmt::format("with boxes lc rgb '{}' fs solid 0.3 border", colour(i));
    case FigureKind::bars:
      return fmt::format("with boxes fs solid 0.85 border lc rgb '#333333' lc rgb '{}'", colour(i));
    case FigureKind::lines: return fmt::format("with linespoints lw 2 pt 7 ps 0.8 lc rgb '{}'", colour(i));
    case FigureKind::traces: return fmt::format("with lines lw 1 lc rgb '{}'", colour(i));
  }
  return {};
}
// Reference lines: dashed, in the colours after the series'.
std::string reference_style(const Styles& st, std::size_t i) {
  constexpr int kDashes[] = {2, 4, 5, 3};  // dashed, dash-dot, dash-dot-dot, dotted
  return fmt::format("with lines dt {} lw 2 lc rgb '{}'", kDashes[i % 4], colour(st.series.size() + i));
}

struct LegendEntry {
  std::string label, style;
};
std::vector<LegendEntry> legend(const FigureData& fig, const Styles& st) {
  std::vector<LegendEntry> out(st.series.size() + st.references.size());
  for (const auto& [label, i] : st.series) out[i] = {label, series_style(fig, i)};
  for (const auto& [label, i] : st.references) out[st.series.size() + i] = {label, reference_style(st, i)};
  if (fig.kind == FigureKind::box) {
    // Only series[0] is drawn; the box stands for quartiles, median and min-max.
    out.resize(std::min<std::size_t>(out.size(), 1));
    out.push_back({"per-seed values", fmt::format("with points pt 7 ps 0.55 lc rgb '{}'", kSeedColour)});
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const LegendEntry& e) { return e.label.empty(); }), out.end());
  return out;
}

// ---- layout ----------------------------------------------------------------

struct Layout {
  int width = 0, height = 0, panel_width = kPanelWidth;
  double top = 0, bottom = 0;          // of the panels' plot areas, as screen fractions
  double key_top = 0, key_bottom = 0;  // the band of the shared legend
  bool rotate_xtics = false;
  double left(std::size_t p) const { return (kLeft + static_cast<double>(p) * (panel_width + kGap)) / width; }
  double right(std::size_t p) const { return left(p) + static_cast<double>(panel_width) / width; }
};

Layout layout(const FigureData& fig, const std::vector<LegendEntry>& entries) {
  Layout lay;
  const auto panels = static_cast<int>(fig.panels.size());
  // Panels get wider when the figure's title (larger font) would not fit above them.
  const double title_width = 1.3 * kCharWidth * static_cast<double>(fig.title.size()) + 40;
  const double spare = title_width - (kLeft + panels * kPanelWidth + (panels - 1) * kGap + kRight);
  if (spare > 0) lay.panel_width += static_cast<int>(std::ceil(spare / panels));
  lay.width = kLeft + panels * lay.panel_width + (panels - 1) * kGap + kRight;

  // Category labels are rotated when they would run into each other.
  const bool categorical = !has_numeric_x(fig);
  const double label_px = static_cast<double>(max_length(fig.categories)) * kCharWidth;
  lay.rotate_xtics = categorical && label_px > 0.9 * lay.panel_width / static_cast<double>(fig.categories.size());

  // Top down: figure title, legend rows (as gnuplot fills them), panel titles.
  const int title_px = fig.title.empty() ? 10 : 40;
  int key_px = 0;
  if (!entries.empty()) {
    std::vector<std::string> labels;
    for (const auto& e : entries) labels.push_back(e.label);
    const double column_px = kCharWidth * static_cast<double>(max_length(labels) + 9);
    const auto columns = std::max<std::size_t>(1, static_cast<std::size_t>((lay.width - 40) / column_px));
    key_px = static_cast<int>((entries.size() + columns - 1) / columns) * 20 + 14;
  }
  bool panel_titles = false;
  for (const auto& panel : fig.panels) panel_titles = panel_titles || !panel.title.empty();
  const int top_px = title_px + key_px + (panel_titles ? 38 : 10);
  // Bottom up: x label, tick labels.
  const int ticks_px = lay.rotate_xtics ? static_cast<int>(label_px * 0.5) + 16 : 22;
  const int bottom_px = 12 + ticks_px + (fig.x_label.empty() ? 0 : 24);

  lay.height = top_px + kPlotHeight + bottom_px;
  lay.top = 1 - static_cast<double>(top_px) / lay.height;
  lay.bottom = static_cast<double>(bottom_px) / lay.height;
  lay.key_top = 1 - static_cast<double>(title_px) / lay.height;
  lay.key_bottom = 1 - static_cast<double>(title_px + key_px) / lay.height;
  return lay;
}

// ---- data file -------------------------------------------------------------
// One block (gnuplot `index`) per panel, one row per category or x value.

std::string data_file(const FigureData& fig, const Styles& st) {
  std::string out =
      fmt::format("# {}: {}\n# Drawn by {}.gp. One block per panel (gnuplot index 0, 1, ...); NaN: no result.\n",
                  fig.name, one_line(fig.title), fig.name);
  if (!fig.x_label.empty()) out += fmt::format("# x: {}\n", one_line(fig.x_label));
  if (!fig.y_label.empty()) out += fmt::format("# y: {}\n", one_line(fig.y_label));
  const std::size_t k = max_values(fig);
  switch (fig.kind) {
    case FigureKind::box:
      out += "# columns: x category min q1 median q3 max mean n, then the per-seed values (NaN-padded)\n";
      break;
    case FigureKind::bars:
    case FigureKind::lines:
      out += fmt::format("# columns: x{}, then mean sd n of each series:\n",
                         fig.kind == FigureKind::bars ? " category" : "");
      for (const auto& [label, i] : st.series) out += fmt::format("#   series {}: {}\n", i + 1, one_line(label));
      break;
    case FigureKind::traces:
      out += "# columns: x, then each trace's value (the panel's series in order, as its comment lists them)\n";
      break;
  }

  for (std::size_t p = 0; p < fig.panels.size(); ++p) {
    const PanelData& panel = fig.panels[p];
    out += fmt::format("{}# panel {}: {}\n", p ? "\n\n" : "\n", p + 1, one_line(panel.title));
    if (fig.kind == FigureKind::traces)
      for (std::size_t t = 0; t < panel.series.size(); ++t)
        out += fmt::format("#   column {}: {}\n", t + 2, one_line(panel.series[t].label));
    const std::size_t rows = has_numeric_x(fig) ? fig.x.size() : fig.categories.size();
    for (std::size_t i = 0; i < rows; ++i) {
      if (has_numeric_x(fig))
        out += num(fig.x[i]);
      else
        out += fmt::format("{} {}", i, data_string(fig.categories[i]));

      if (fig.kind == FigureKind::traces) {
        for (std::size_t t = 0; t < trace_count(fig); ++t)
          out += ' ' + num(t < panel.series.size() && !panel.series[t].values[i].empty() ? panel.series[t].values[i][0]
                                                                                         : kNaN);
      } else if (fig.kind == FigureKind::box) {
        std::vector<double> v = panel.series.empty() ? std::vector<double>{} : panel.series[0].values[i];
        const Summary s = summarize(v);
        std::vector<double> sorted = v;
        std::sort(sorted.begin(), sorted.end());
        const auto q = [&](double at) { return sorted.empty() ? kNaN : quantile(sorted, at); };
        for (const double c : {q(0), q(0.25), q(0.5), q(0.75), q(1), s.mean}) out += ' ' + num(c);
        out += fmt::format(" {}", s.n);
        v.resize(k, kNaN);
        for (const double c : v) out += ' ' + num(c);
      } else {
        // Series as assigned in Styles: a panel may lack some, their columns stay NaN.
        std::vector<Summary> row(st.series.size());
        for (const auto& s : panel.series) row[st.series.at(s.label)] = summarize(s.values[i]);
        for (const auto& s : row) out += fmt::format(" {} {} {}", num(s.mean), num(s.sd), s.n);
      }
      out += '\n';
    }
  }
  return out;
}

// ---- script ----------------------------------------------------------------

// What a panel plots: its plot items, the y range they cover, and the set
// commands they need before the plot command.
struct PanelPlot {
  std::string commands;
  std::vector<std::string> items;
  Range y;
};

// Error bars of mean +- sd, cut at 0 and 1 when every value lies in [0, 1]
// (F1 scores cannot go past them, their sd can), as gnuplot column expressions
// of the data file's "mean sd n" triples, series i's from column first + 3 i.
class ErrorBars {
 public:
  explicit ErrorBars(const FigureData& fig, std::size_t first_column = 2) : first_(first_column) {
    for (const auto& panel : fig.panels)
      for (const auto& s : panel.series)
        for (const auto& v : s.values)
          for (const double x : v) unit_ = unit_ && x >= 0 && x <= 1;
  }
  double low(const Summary& m) const { return unit_ ? std::max(0.0, m.mean - m.sd) : m.mean - m.sd; }
  double high(const Summary& m) const { return unit_ ? std::min(1.0, m.mean + m.sd) : m.mean + m.sd; }
  std::string low_column(std::size_t i) const {
    const auto [mean, sd] = columns(i);
    return unit_ ? fmt::format("(${0} - ${1} < 0 ? 0 : ${0} - ${1})", mean, sd) : fmt::format("(${} - ${})", mean, sd);
  }
  std::string high_column(std::size_t i) const {
    const auto [mean, sd] = columns(i);
    return unit_ ? fmt::format("(${0} + ${1} > 1 ? 1 : ${0} + ${1})", mean, sd) : fmt::format("(${} + ${})", mean, sd);
  }

 private:
  std::pair<std::size_t, std::size_t> columns(std::size_t i) const { return {first_ + 3 * i, first_ + 3 * i + 1}; }
  std::size_t first_;
  bool unit_ = true;
};

// Lines: one line per series with its sd as error bars, and the reference lines.
void plot_lines(const FigureData& fig, std::size_t p, const Styles& st, PanelPlot& plot) {
  const PanelData& panel = fig.panels[p];
  Range x;
  for (const double v : fig.x) x.add(v);
  plot.commands += fmt::format("  set xrange {}\n", x.padded(0.05, false));
  if (fig.x.size() <= 12) {  // ticks at the data's x values
    std::vector<std::string> tics;
    for (const double v : fig.x) tics.push_back(num(v));
    plot.commands += fmt::format("  set xtics ({})\n", fmt::join(tics, ", "));
  }
  const ErrorBars bars(fig);
  for (const auto& s : panel.series) {
    const std::size_t i = st.series.at(s.label);
    for (const auto& v : s.values) {
      const Summary m = summarize(v);
      plot.y.add(bars.low(m)), plot.y.add(bars.high(m));
    }
    plot.items.push_back(
        fmt::format("data index {} using 1:{}:{}:{} with yerrorlines lw 2 pt 7 ps 0.8 lc rgb '{}' notitle", p,
                    2 + 3 * i, bars.low_column(i), bars.high_column(i), colour(i)));
  }
  for (const auto& r : panel.reference_lines) {
    plot.y.add(r.y);
    plot.items.push_back(fmt::format("{} {} notitle", num(r.y), reference_style(st, st.references.at(r.label))));
  }
}

// Traces: a thin line per series, coloured by its label.
void plot_traces(const FigureData& fig, std::size_t p, const Styles& st, PanelPlot& plot) {
  const PanelData& panel = fig.panels[p];
  Range x;
  for (const double v : fig.x) x.add(v);
  plot.commands += fmt::format("  set xrange {}\n", x.padded(0.02, false));
  for (std::size_t t = 0; t < panel.series.size(); ++t) {
    for (const auto& v : panel.series[t].values)
      for (const double y : v) plot.y.add(y);
    plot.items.push_back(fmt::format("data index {} using 1:{} {} notitle", p, t + 2,
                                     series_style(fig, st.series.at(panel.series[t].label))));
  }
}

// Box: quartiles; whiskers: min and max; thick line: median; dots: the seeds, spread a little.
void plot_boxes(const FigureData& fig, std::size_t p, PanelPlot& plot) {
  const PanelData& panel = fig.panels[p];
  for (const auto& v : panel.series[0].values)
    for (const double value : v) plot.y.add(value);
  std::size_t k = 0;  // seed columns with a value in this panel
  for (const auto& v : panel.series[0].values) k = std::max(k, v.size());
  const char* c = colour(0);
  plot.commands += "  set boxwidth 0.5 absolute\n";
  plot.items.push_back(
      fmt::format("data index {} using 1:4:3:7:6 with candlesticks whiskerbars 0.5 lw 1.5 lc rgb '{}' "
                  "fs solid 0.3 border notitle",
                  p, c));
  plot.items.push_back(fmt::format("data index {} using 1:5:5:5:5 with candlesticks lw 3 lc rgb '{}' notitle", p, c));
  if (k > 0)
    plot.items.push_back(fmt::format(
        "for [k=1:{0}] data index {1} using ($1 + {2}*(k - {3})):(column(9 + k)) "
        "with points pt 7 ps 0.55 lc rgb '{4}' notitle",
        k, p, num(std::min(0.06, 0.4 / static_cast<double>(k))), num((static_cast<double>(k) + 1) / 2), kSeedColour));
}

// Bars: a group per category, 80% wide, one bar per series with its sd as error bar.
void plot_bars(const FigureData& fig, std::size_t p, const Styles& st, PanelPlot& plot) {
  const PanelData& panel = fig.panels[p];
  const double width = 0.8 / static_cast<double>(st.series.size());
  plot.commands += fmt::format("  set boxwidth {} absolute\n", num(width));
  const ErrorBars bars(fig, /*first_column=*/3);  // column 2 holds the category's name
  for (const auto& s : panel.series) {
    const std::size_t i = st.series.at(s.label);
    for (const auto& v : s.values) {
      const Summary m = summarize(v);
      plot.y.add(bars.low(m)), plot.y.add(bars.high(m));
    }
    const double offset = (static_cast<double>(i) + 0.5) * width - 0.4;
    const std::string x = fmt::format("($1 {} {})", offset < 0 ? '-' : '+', num(std::abs(offset)));
    plot.items.push_back(fmt::format("data index {} using {}:{} {} notitle", p, x, 3 + 3 * i, series_style(fig, i)));
    // Error bars as vectors from their low to their high end with flat heads (yerrorbars would blank a dot at the
    // mean).
    plot.items.push_back(fmt::format(
        "data index {0} using {1}:{2}:(0):({3} - {2}) with vectors heads size screen 0.008,90 lw 1.2 lc rgb "
        "'#333333' notitle",
        p, x, bars.low_column(i), bars.high_column(i)));
  }
}

// The commands that draw panel p (indented: they run inside the loop over outputs).
std::string panel_commands(const FigureData& fig, std::size_t p, const Styles& st, const Layout& lay) {
  const PanelData& panel = fig.panels[p];
  std::string out = fmt::format("\n  # Panel {}: {}\n", p + 1, one_line(panel.title));
  out += fmt::format("  set lmargin at screen {:.4f}; set rmargin at screen {:.4f}\n", lay.left(p), lay.right(p));
  out += fmt::format("  set title {} font pfont\n", quoted(panel.title));
  if (p == 1) out += "  unset ylabel\n";

  PanelPlot plot;
  if (fig.kind == FigureKind::lines) {
    plot_lines(fig, p, st, plot);
  } else if (fig.kind == FigureKind::traces) {
    plot_traces(fig, p, st, plot);
  } else {  // categories on the x axis
    std::vector<std::string> tics;
    for (std::size_t c = 0; c < fig.categories.size(); ++c)
      tics.push_back(fmt::format("{} {}", quoted(fig.categories[c]), c));
    plot.commands += fmt::format("  set xrange [-0.6:{}]\n", num(static_cast<double>(fig.categories.size()) - 0.4));
    plot.commands += fmt::format("  set xtics scale 0 {}({})\n", lay.rotate_xtics ? "rotate by 30 right " : "",
                                 fmt::join(tics, ", "));
  }
  if (fig.kind == FigureKind::box && !panel.series.empty()) plot_boxes(fig, p, plot);
  if (fig.kind == FigureKind::bars && !st.series.empty()) plot_bars(fig, p, st, plot);

  out += plot.commands;
  out += fmt::format("  set yrange {}\n", plot.y.padded(0.08, true));
  if (plot.items.empty()) plot.items.push_back("NaN notitle");  // an empty panel keeps its axes
  out += fmt::format("  plot {}\n", fmt::join(plot.items, ", \\\n       "));
  return out;
}

std::string script(const FigureData& fig, const Styles& st) {
  const std::vector<LegendEntry> entries = legend(fig, st);
  const Layout lay = layout(fig, entries);
  std::string out = fmt::format(
      "# {0}: {1}\n"
      "# Re-draw with `gnuplot {0}.gp` in this directory; the data are in {0}.dat.\n"
      "data = {2}\n\n"
      "# The same commands draw the SVG, then the PNG.\n"
      "do for [format in 'svg png'] {{\n"
      "  reset\n"
      "  if (format eq 'svg') {{\n"
      "    set terminal svg size {3},{4} dynamic background rgb 'white' font 'sans,12' noenhanced\n"
      "    tfont = ',16'; pfont = ',13'\n"
      "  }} else {{\n"
      "    set terminal pngcairo size {3},{4} background rgb 'white' font 'sans,10' noenhanced\n"
      "    tfont = ',13'; pfont = ',11'\n"
      "  }}\n"
      "  set output {5}.format\n"
      "  set datafile missing NaN\n"
      "  set border 3 back lc rgb '#555555'\n"
      "  set tics nomirror out scale 0.5\n"
      "  set grid {6}ytics back lt 1 lc rgb '#e4e4e4' lw 1\n"
      "  set key off\n"
      "  set xlabel {7}\n"
      "  set ylabel {8}\n"
      "  set multiplot title {9} font tfont\n"
      "  set tmargin at screen {10:.4f}; set bmargin at screen {11:.4f}\n",
      fig.name, one_line(fig.title), quoted(fig.name + ".dat"), lay.width, lay.height, quoted(fig.name + "."),
      has_numeric_x(fig) ? "xtics " : "", quoted(fig.x_label), quoted(fig.y_label), quoted(fig.title), lay.top,
      lay.bottom);

  for (std::size_t p = 0; p < fig.panels.size(); ++p) out += panel_commands(fig, p, st, lay);

  if (!entries.empty()) {
    // One legend for all panels: the key of an empty plot spanning the band under the title.
    std::vector<std::string> items;
    for (const auto& e : entries) items.push_back(fmt::format("NaN {} title {}", e.style, quoted(e.label)));
    out += fmt::format(
        "\n  # The legend, shared by the panels\n"
        "  set lmargin at screen 0.02; set rmargin at screen 0.98\n"
        "  set tmargin at screen {:.4f}; set bmargin at screen {:.4f}\n"
        "  unset border; unset tics; unset grid; unset title; unset xlabel; unset ylabel\n"
        "  set xrange [0:1]; set yrange [0:1]\n"
        "  set key center center horizontal Left reverse samplen 2.5 spacing 1.1 width 1\n"
        "  plot {}\n",
        lay.key_top, lay.key_bottom, fmt::join(items, ", \\\n       "));
  }
  out += "\n  unset multiplot\n  unset output\n}\n";
  return out;
}

std::string gnuplot_program() {
  const char* env = std::getenv(kGnuplotEnv);
  return env && *env ? env : "gnuplot";
}

}  // namespace

std::string gnuplot_version() {
  FILE* pipe = ::popen((shell_quoted(gnuplot_program()) + " --version 2>/dev/null").c_str(), "r");
  if (!pipe) return "";
  std::string line;
  char buffer[256];
  if (std::fgets(buffer, sizeof buffer, pipe)) line = buffer;
  while (std::fgets(buffer, sizeof buffer, pipe)) {
  }  // drain, so that gnuplot does not die of a broken pipe
  const int status = ::pclose(pipe);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  const bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return ok && line.rfind("gnuplot", 0) == 0 ? line : "";
}

FigureFiles plot_figure(const FigureData& fig, const std::string& out_dir) {
  check_shape(fig);
  const fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  AUXGRID_CHECK(fs::is_directory(dir), "figure {}: cannot create the output directory {}{}", fig.name, out_dir,
                ec ? ": " + ec.message() : "");

  // gnuplot draws in a private directory beside the figures (an unguessable
  // name, as a user re-running the script would, in the script's own
  // directory); each finished file is then renamed into place, so a figure
  // appears whole or not at all and the previous one stays until then.
  std::string scratch = (dir / fmt::format(".{}.XXXXXX", fig.name)).string();
  AUXGRID_CHECK(::mkdtemp(scratch.data()) != nullptr, "figure {}: cannot create a working directory in {}: {}",
                fig.name, out_dir, std::strerror(errno));
  struct Remove {
    std::string dir;
    ~Remove() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remove_scratch{scratch};
  const fs::path work(scratch);
  const Styles st = assign_styles(fig);
  const std::string gp = fig.name + ".gp", log = fig.name + ".log";
  // The data and the script stay beside the figures, for re-drawing, even when gnuplot fails.
  for (const auto& [name, text] : {std::pair{fig.name + ".dat", data_file(fig, st)}, {gp, script(fig, st)}}) {
    write_text(fig, dir / name, text);
    fs::copy_file(dir / name, work / name, ec);
    AUXGRID_CHECK(!ec, "figure {}: cannot copy {} to {}: {}", fig.name, name, scratch, ec.message());
  }
  const std::string command =
      fmt::format("cd {} && {} {} >{} 2>&1", shell_quoted(scratch), shell_quoted(gnuplot_program()),
                  shell_quoted(gp), shell_quoted(log));
  const int status = std::system(command.c_str());
  const int code = status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const std::string messages = read_text(work / log);
  AUXGRID_CHECK(code == 0, "figure {}: gnuplot ({}) failed on {} (exit status {}{}):\n{}", fig.name, gnuplot_program(),
                (dir / gp).string(), code,
                code == 127 ? ": no gnuplot program; install gnuplot or set AUXGRID_GNUPLOT" : "", messages);
  for (const auto* extension : {".svg", ".png"})
    AUXGRID_CHECK(fs::exists(work / (fig.name + extension)) && fs::file_size(work / (fig.name + extension)) > 0,
                  "figure {}: {} left its {} file missing or empty:\n{}", fig.name, (dir / gp).string(), extension,
                  messages);
  for (const auto* extension : {".svg", ".png"})
    files::commit((work / (fig.name + extension)).string(), (dir / (fig.name + extension)).string(),
                  fmt::format("figure {}'s", fig.name));
  if (!messages.empty()) files::write_atomically((dir / log).string(), messages, fmt::format("figure {}'s", fig.name));
  return {(dir / (fig.name + ".svg")).string(), (dir / (fig.name + ".png")).string()};
}

}  // namespace auxgrid::analysis
