#include "analysis/figures.hpp"

#include <fmt/format.h>

#include "auxgrid/stats/metrics.hpp"

namespace auxgrid::analysis {

namespace {

// A bar is its category and its series together: the union of their matches;
// the condition and metric that one of them sets apart from the figure's.
PlotItem combine(const PlotItem& category, const PlotItem& series, const PlotItem& common) {
  PlotItem out = category;
  for (const auto& [key, value] : series.selector.match) out.selector.match[key] = value;
  if (series.selector.condition != common.selector.condition) out.selector.condition = series.selector.condition;
  if (series.metric != common.metric) out.metric = series.metric;
  return out;
}

// "mask_audio_p{x}" at x = 30 -> "mask_audio_p30"
PlotItem at_x(PlotItem item, double x) {
  const auto at = item.selector.condition.find("{x}");
  if (at != std::string::npos) item.selector.condition.replace(at, 3, fmt::format("{:g}", x));
  return item;
}

std::vector<double> per_seed(const PlotItem& item, const Selection& selection, const std::string& corpus,
                             const FigureDef& def) {
  std::vector<double> out;
  const auto what = fmt::format("figure '{}', '{}'", def.name, item.label);
  for (const auto& [seed, result] : selection.trials(item.selector, corpus, what))
    out.push_back(score_of(*result, item.selector.condition, item.metric));
  return out;
}

}  // namespace

FigureData build_figure(const FigureDef& def, const Selection& selection) {
  FigureData fig;
  fig.name = def.name;
  fig.title = def.title;
  fig.kind = def.kind;
  fig.x_label = def.x_label;
  fig.x = def.x;
  bool one_metric = true;
  for (const auto& s : def.series) one_metric = one_metric && s.metric == def.metric;
  fig.y_label = one_metric ? metric_title(def.metric) : "F1";
  for (const auto& c : def.categories) fig.categories.push_back(c.label);

  for (const auto& corpus : selection.corpora()) {
    PanelData panel;
    panel.title = corpus;
    bool any = false;
    auto add = [&](SeriesData& series, const PlotItem& item) {
      series.values.push_back(per_seed(item, selection, corpus, def));
      any = any || !series.values.back().empty();
    };
    switch (def.kind) {
      case FigureKind::box: {
        SeriesData series{metric_title(def.metric), {}};
        for (const auto& category : def.categories) add(series, category);
        panel.series.push_back(std::move(series));
        break;
      }
      case FigureKind::bars:
        for (const auto& s : def.series) {
          SeriesData series{s.label, {}};
          for (const auto& category : def.categories) add(series, combine(category, s, def.common));
          panel.series.push_back(std::move(series));
        }
        break;
      case FigureKind::lines:
        for (const auto& s : def.series) {
          SeriesData series{s.label, {}};
          for (double x : def.x) add(series, at_x(s, x));
          panel.series.push_back(std::move(series));
        }
        for (const auto& line : def.reference_lines) {
          const auto v = per_seed(line, selection, corpus, def);
          if (!v.empty()) panel.reference_lines.push_back({line.label, stats::mean(v)});
        }
        break;
    }
    if (any) fig.panels.push_back(std::move(panel));
  }
  return fig;
}

}  // namespace auxgrid::analysis
