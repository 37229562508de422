// Tables as Markdown, LaTeX (booktabs) and CSV. layout() decides what each
// cell says; the renderers only arrange and escape.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "analysis/tables.hpp"
#include "auxgrid/stats/ttest.hpp"

namespace auxgrid::analysis {

namespace {

std::string star(Style style) { return style == Style::latex ? "$^{*}$" : style == Style::html ? "<sup>*</sup>" : "*"; }

// "(n=20)", "(n=17 of 20)": the seeds behind a value, small where the format allows.
std::string seeds(int n, int expected, Style style) {
  const std::string text = expected > n ? fmt::format("n={} of {}", n, expected) : fmt::format("n={}", n);
  switch (style) {
    case Style::latex:
      return fmt::format("{{\\scriptsize({})}}", expected > n ? fmt::format("{}/{}", n, expected) : std::to_string(n));
    case Style::html: return fmt::format("<small class=\"{}\">({})</small>", expected > n ? "short" : "n", text);
    case Style::markdown: break;
  }
  return "(" + text + ")";
}

std::string score_text(const Score& s, Style style) {
  if (s.n == 0) return s.expected > 0 ? fmt::format("- {}", seeds(0, s.expected, style)) : "-";
  return fmt::format("{:.3f}{} {}", s.mean, s.significant ? star(style) : "", seeds(s.n, s.expected, style));
}

// 7054748 -> "7,054,748"
std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

// The table's corpora for which the paper's values are to be shown.
std::set<std::string> corpora_with_paper_values(const Table& table, const RenderOptions& options) {
  std::set<std::string> out;
  if (!options.paper) return out;
  for (const auto& column : table.columns)
    for (const auto& row : table.rows)
      if (row.def.paper.count(column.corpus)) out.insert(column.corpus);
  return out;
}

// A row without results is shown only for the paper's values beside it.
bool shown(const Row& row, const std::set<std::string>& paper_corpora) {
  if (!row.empty()) return true;
  for (const auto& corpus : paper_corpora)
    if (row.def.paper.count(corpus)) return true;
  return false;
}

// "Holm-adjusted ", for the legend's "Holm-adjusted p < 0.05"; "" for none.
std::string adjustment_name(Adjustment adjustment) {
  switch (adjustment) {
    case Adjustment::holm: return "Holm-adjusted ";
    case Adjustment::bh: return "Benjamini-Hochberg-adjusted ";
    case Adjustment::none: break;
  }
  return "";
}

// " over the table's 24 tests": the family an adjusted p-value is adjusted over.
std::string family(const Table& table) {
  if (table.adjustment == Adjustment::none) return "";
  const auto tests = std::count_if(table.comparisons.begin(), table.comparisons.end(),
                                   [](const Comparison& c) { return !std::isnan(c.test.p); });
  return fmt::format(" over the table's {} test{}", tests, tests == 1 ? "" : "s");
}

const PaperValue* paper_value(const RowDef& row, const std::string& corpus, std::size_t index) {
  const auto it = row.paper.find(corpus);
  return it == row.paper.end() || index >= it->second.size() ? nullptr : &it->second[index];
}

}  // namespace

std::string escape(const std::string& text, Style style) {
  std::string out;
  for (char c : text) {
    switch (style) {
      case Style::markdown: out += c == '|' ? std::string("\\|") : std::string(1, c); break;
      case Style::html:
        out += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;" : std::string(1, c);
        break;
      case Style::latex:
        if (c == '\\')
          out += "\\textbackslash{}";
        else if (c == '~' || c == '^')
          out += fmt::format("\\{}{{}}", c == '~' ? "textasciitilde" : "textasciicircum");
        else if (std::string("&%$#_{}").find(c) != std::string::npos)
          out += std::string("\\") + c;
        else
          out += c;
        break;
    }
  }
  return out;
}

Layout layout(const Table& table, const RenderOptions& options, Style style) {
  Layout out;
  const bool cost = table.def.kind == TableKind::cost;
  const bool blocks = table.has_blocks();
  out.label_columns = blocks ? 2 : 1;
  if (blocks) out.groups.push_back(""), out.titles.push_back(escape(table.def.block_title, style));
  out.groups.push_back(""), out.titles.push_back(escape(table.def.label_title, style));
  const std::set<std::string> paper_corpora = corpora_with_paper_values(table, options);
  auto add = [&](const std::string& corpus, const std::string& title) {
    out.groups.push_back(escape(corpus, style));
    out.titles.push_back(escape(title, style));
  };
  for (const auto& column : table.columns) {
    if (cost) {
      add(column.corpus, "parameters");
      add(column.corpus, "s/epoch");
      if (paper_corpora.count(column.corpus))
        add(column.corpus, "paper parameters"), add(column.corpus, "paper s/epoch");
    } else {
      add(column.corpus, metric_title(column.metric));
      if (paper_corpora.count(column.corpus)) add(column.corpus, "paper"), add(column.corpus, "diff");
    }
  }

  std::string previous_block;
  for (const Row& row : table.rows) {
    if (!shown(row, paper_corpora)) continue;
    std::vector<std::string> cells;
    const bool starts = out.rows.empty() || row.def.block != previous_block;
    previous_block = row.def.block;
    if (blocks) cells.push_back(starts ? escape(row.def.block, style) : "");
    cells.push_back(escape(row.def.label, style));
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      const std::string& corpus = table.columns[c].corpus;
      if (cost) {
        const Cost& k = row.costs[c];
        cells.push_back(k.cells == 0                   ? "-"
                        : k.params_min == k.params_max ? grouped(k.params_max)
                                                       : grouped(k.params_min) + "-" + grouped(k.params_max));
        cells.push_back(k.cells == 0 ? "-" : fmt::format("{:.1f} {}", k.seconds_per_epoch, seeds(k.cells, 0, style)));
        if (paper_corpora.count(corpus)) {
          const PaperValue* params = paper_value(row.def, corpus, 0);
          const PaperValue* seconds = paper_value(row.def, corpus, 1);
          cells.push_back(params ? grouped(std::llround(params->value)) : "");
          cells.push_back(seconds ? fmt::format("{:g}", seconds->value) : "");
        }
        continue;
      }
      const Score& s = row.scores[c];
      cells.push_back(score_text(s, style));
      if (!paper_corpora.count(corpus)) continue;
      // Columns are corpus x metric in the definition's metric order.
      const std::size_t metric_index = c % table.def.metrics.size();
      const PaperValue* paper = paper_value(row.def, corpus, metric_index);
      cells.push_back(paper ? fmt::format("{:.3f}{}", paper->value, paper->significant ? star(style) : "") : "");
      cells.push_back(paper && s.n > 0 ? signed_difference(s.mean, paper->value) : "");
    }
    out.block_starts.push_back(starts && !out.rows.empty());
    out.rows.push_back(std::move(cells));
  }
  return out;
}

std::vector<std::string> legend(const Table& table, const RenderOptions& options) {
  std::vector<std::string> lines;
  const bool paper = !corpora_with_paper_values(table, options).empty();
  if (table.def.kind == TableKind::cost) {
    lines.push_back(fmt::format(
        "{} result files. s/epoch: median over cells of each cell's mean seconds per training epoch (n = cells); "
        "measured on: {}.",
        table.results_used, table.devices.empty() ? "-" : fmt::format("{}", fmt::join(table.devices, "; "))));
    if (paper && !table.def.paper_note.empty())
      lines.push_back(fmt::format("The paper's timings: {}.", table.def.paper_note));
  } else {
    lines.push_back(fmt::format(
        "{} result files. Mean over seeds (n = seeds). * = the block's reference row is better than every other "
        "row of its block (one-tailed paired t-test over shared seeds, {}p < {}{}).",
        table.results_used, adjustment_name(table.adjustment), kSignificanceLevel, family(table)));
    if (paper) lines.push_back("paper: the value the paper reports (* its star); diff: reproduced - paper.");
  }
  for (const auto& note : table.notes) lines.push_back("Fewer seeds than planned: " + note + ".");
  if (table.never_trained)
    lines.push_back(
        "Missing seeds were planned (manifest.tsv) but never trained: `auxgrid run GRID` trains them; "
        "`auxgrid forget GRID` takes cells that are not wanted off the plan.");
  return lines;
}

std::string render_markdown(const Table& table, const RenderOptions& options) {
  const Layout l = layout(table, options, Style::markdown);
  std::string out = fmt::format("### {}\n\n", escape(table.def.title, Style::markdown));
  if (!options.source.empty()) out += fmt::format("Results: {}\n\n", options.source);
  std::vector<std::string> titles;
  for (std::size_t c = 0; c < l.titles.size(); ++c)
    titles.push_back(l.groups[c].empty() ? l.titles[c] : l.groups[c] + " " + l.titles[c]);
  out += fmt::format("| {} |\n|", fmt::join(titles, " | "));
  for (std::size_t c = 0; c < titles.size(); ++c) out += c < l.label_columns ? "---|" : "---:|";
  out += "\n";
  for (const auto& row : l.rows) out += fmt::format("| {} |\n", fmt::join(row, " | "));
  out += "\n";
  for (const auto& line : legend(table, options)) out += escape(line, Style::markdown) + "\n";
  return out;
}

std::string render_latex(const Table& table, const RenderOptions& options) {
  const Layout l = layout(table, options, Style::latex);
  const std::vector<std::string> notes = legend(table, options);
  const std::size_t n = l.titles.size();
  std::string out = fmt::format("% {} (auxgrid-analyze{}); needs \\usepackage{{booktabs}}\n", table.def.name,
                                options.source.empty() ? "" : ", results " + options.source);
  // A table of more than 6 columns would run past a journal's text column: it
  // spans both columns (table*), set tighter.
  const bool wide = n > 6;
  const char* environment = wide ? "table*" : "table";
  out += fmt::format("\\begin{{{}}}[t]\n  \\centering\n  \\small\n", environment);
  if (wide) out += "  \\setlength{\\tabcolsep}{4pt}\n";
  out += fmt::format("  \\caption{{{}. {}}}\n", escape(table.def.title, Style::latex),
                     escape(notes.front(), Style::latex));
  out += fmt::format("  \\label{{tab:{}}}\n", table.def.name);
  out += fmt::format("  \\begin{{tabular}}{{{}{}}}\n    \\toprule\n", std::string(l.label_columns, 'l'),
                     std::string(n - l.label_columns, 'r'));
  // Corpus headers spanning their columns, with a rule under each.
  std::string spans = "   ", rules;
  for (std::size_t c = 0; c < l.label_columns; ++c) spans += c == 0 ? "" : " &";
  for (std::size_t c = l.label_columns; c < n;) {
    std::size_t end = c;
    while (end < n && l.groups[end] == l.groups[c]) ++end;
    spans += fmt::format(" & \\multicolumn{{{}}}{{c}}{{{}}}", end - c, l.groups[c]);
    rules += fmt::format("\\cmidrule(lr){{{}-{}}}", c + 1, end);
    c = end;
  }
  out += spans + " \\\\\n    " + rules + "\n";
  out += fmt::format("    {} \\\\\n    \\midrule\n", fmt::join(l.titles, " & "));
  for (std::size_t r = 0; r < l.rows.size(); ++r) {
    if (l.block_starts[r]) out += "    \\midrule\n";
    out += fmt::format("    {} \\\\\n", fmt::join(l.rows[r], " & "));
  }
  out += "    \\bottomrule\n  \\end{tabular}\n";
  for (std::size_t i = 1; i < notes.size(); ++i) out += fmt::format("  % {}\n", notes[i]);
  out += fmt::format("\\end{{{}}}\n", environment);
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

namespace {

std::string csv_number(double x, bool present) { return present && std::isfinite(x) ? fmt::format("{}", x) : ""; }

}  // namespace

// Long format, one line per row and column, full precision: what a script wants.
std::string render_csv(const Table& table, const RenderOptions& options) {
  const bool cost = table.def.kind == TableKind::cost;
  std::string out = cost ? "table,block,row,corpus,parameters_min,parameters_max,seconds_per_epoch,cells"
                         : "table,block,row,corpus,metric,mean,sd,n,expected,significant";
  if (options.paper) out += cost ? ",paper_parameters,paper_seconds_per_epoch" : ",paper,paper_significant,difference";
  out += "\n";
  const std::set<std::string> paper_corpora = corpora_with_paper_values(table, options);
  for (const auto& row : table.rows) {
    if (!shown(row, paper_corpora)) continue;
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      const Column& column = table.columns[c];
      out += fmt::format("{},{},{},{}", csv_field(table.def.name), csv_field(row.def.block), csv_field(row.def.label),
                         csv_field(column.corpus));
      if (cost) {
        const Cost& k = row.costs[c];
        out += fmt::format(",{},{},{},{}", k.cells ? std::to_string(k.params_min) : "",
                           k.cells ? std::to_string(k.params_max) : "", csv_number(k.seconds_per_epoch, k.cells > 0),
                           k.cells);
        if (options.paper) {
          const PaperValue* params = paper_value(row.def, column.corpus, 0);
          const PaperValue* seconds = paper_value(row.def, column.corpus, 1);
          out += fmt::format(",{},{}", params ? csv_number(params->value, true) : "",
                             seconds ? csv_number(seconds->value, true) : "");
        }
      } else {
        const Score& s = row.scores[c];
        out += fmt::format(",{},{},{},{},{},{}", metric_name(column.metric), csv_number(s.mean, s.n > 0),
                           csv_number(s.sd, s.n > 1), s.n, s.expected, s.significant ? 1 : 0);
        if (options.paper) {
          const PaperValue* paper = paper_value(row.def, column.corpus, c % table.def.metrics.size());
          out += paper ? fmt::format(",{},{},{}", paper->value, paper->significant ? 1 : 0,
                                     csv_number(s.mean - paper->value, s.n > 0))
                       : ",,,";
        }
      }
      out += "\n";
    }
  }
  return out;
}

std::string render_comparisons_csv(const std::vector<Table>& tables) {
  std::string out =
      "table,block,corpus,metric,reference,other,n,mean_reference,mean_other,mean_difference,"
      "mean_difference_ci95_low,mean_difference_ci95_high,sd_difference,cohens_dz,t,df,p,significant,p_two_sided,"
      "p_holm,p_bh\n";
  for (const auto& table : tables)
    for (const auto& c : table.comparisons) {
      const auto& t = c.test;
      const double dz = t.n > 1 && t.sd_diff > 0 ? t.mean_diff / t.sd_diff : std::nan("");  // paired effect size
      out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(c.table),
                         csv_field(c.block), csv_field(c.corpus), metric_name(c.metric), csv_field(c.reference),
                         csv_field(c.other), t.n, t.mean_a, t.mean_b, t.mean_diff, csv_number(t.ci95_low, true),
                         csv_number(t.ci95_high, true), t.sd_diff, csv_number(dz, true), t.t, t.df, t.p,
                         t.p < kSignificanceLevel ? 1 : 0, c.p_two_sided, c.p_holm, c.p_bh);
    }
  return out;
}

namespace {

// One comparison's answer for `power`: the seeds needed, or why there is no number.
struct Needed {
  double difference = 0;  // the difference to detect
  int seeds = 0;          // 0: `why` says why there is no number
  std::string why;
};

Needed seeds_needed(const Comparison& c, const PowerOptions& options) {
  const stats::TTest& t = c.test;
  Needed out;
  out.difference = options.difference > 0 ? options.difference : t.mean_diff;
  if (t.n < 2) {
    out.why = "fewer than 2 paired seeds";  // no sd to plan with
  } else if (!(out.difference > 0)) {
    out.why = "no positive difference observed";  // nothing to detect (only without --difference)
  } else {
    out.seeds = stats::paired_trials_needed(out.difference, t.sd_diff, options.power, kSignificanceLevel);
    if (out.seeds > stats::kMaxPairs) out.seeds = 0, out.why = fmt::format("more than {}", stats::kMaxPairs);
  }
  return out;
}

std::string number(double x) { return std::isfinite(x) ? fmt::format("{:.4g}", x) : "-"; }

// Display width of UTF-8 text: its code points (labels may hold any).
std::size_t width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

std::string render_power(const std::vector<Table>& tables, const PowerOptions& options, bool csv) {
  std::string out;
  if (csv)
    out =
        "table,block,corpus,metric,reference,other,n,mean_difference,sd_difference,difference,power,seeds_needed,"
        "note\n";
  std::vector<std::vector<std::string>> rows;  // text only
  for (const auto& table : tables)
    for (const auto& c : table.comparisons) {
      const Needed needed = seeds_needed(c, options);
      const stats::TTest& t = c.test;
      const std::string seeds = needed.seeds ? std::to_string(needed.seeds) : "";
      if (csv)
        out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(c.table), csv_field(c.block),
                           csv_field(c.corpus), metric_name(c.metric), csv_field(c.reference), csv_field(c.other), t.n,
                           csv_number(t.mean_diff, true), csv_number(t.sd_diff, t.n > 1),
                           csv_number(needed.difference, true), options.power, seeds, csv_field(needed.why));
      else
        rows.push_back({c.table, c.block, c.corpus, metric_name(c.metric), c.reference, c.other, std::to_string(t.n),
                        number(t.mean_diff), t.n > 1 ? number(t.sd_diff) : "-", number(needed.difference),
                        needed.seeds ? seeds : needed.why});
    }
  if (csv) return out;

  // Text in aligned columns: the labels left, the numbers right.
  const std::vector<std::string> titles{"table",     "block",     "corpus",  "metric",    "reference",   "other",
                                        "seeds now", "mean diff", "sd diff", "to detect", "seeds needed"};
  constexpr std::size_t kFirstNumber = 6;
  std::vector<std::size_t> widths(titles.size());
  for (std::size_t i = 0; i < titles.size(); ++i) {
    widths[i] = width(titles[i]);
    for (const auto& row : rows) widths[i] = std::max(widths[i], width(row[i]));
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(widths[i] - width(cells[i]), ' ');
      text += (i == 0 ? "" : "  ") + (i < kFirstNumber ? cells[i] + pad : pad + cells[i]);
    }
    return text + "\n";
  };
  out = fmt::format(
      "Seeds a one-tailed paired t-test (p < {}) needs to detect the difference with power {}, at each "
      "comparison's observed sd of the paired differences; to detect: {}.\n\n",
      kSignificanceLevel, options.power,
      options.difference > 0 ? fmt::format("{} for every comparison (--difference)", options.difference)
                             : "the observed mean difference (--difference sets one)");
  out += line(titles);
  for (const auto& row : rows) out += line(row);
  return out;
}

}  // namespace auxgrid::analysis
