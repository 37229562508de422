#include "analysis/figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

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

// Leaves out the categories (box, bars) and the series (bars, lines) that no
// panel has a result for: a model that was not run gets no empty slot.
void drop_empty_slots(FigureData& fig) {
  const auto has_values = [](const std::vector<double>& v) { return !v.empty(); };
  if (fig.kind == FigureKind::box || fig.kind == FigureKind::bars) {
    std::vector<bool> keep(fig.categories.size(), false);
    for (const auto& panel : fig.panels)
      for (const auto& series : panel.series)
        for (std::size_t c = 0; c < keep.size(); ++c) keep[c] = keep[c] || has_values(series.values[c]);
    const auto filter = [&](auto& list) {
      std::size_t kept = 0;
      for (std::size_t c = 0; c < keep.size(); ++c)
        if (keep[c]) {
          if (kept != c) list[kept] = std::move(list[c]);  // never onto itself: that would empty it
          ++kept;
        }
      list.resize(kept);
    };
    filter(fig.categories);
    for (auto& panel : fig.panels)
      for (auto& series : panel.series) filter(series.values);
  }
  if (fig.kind == FigureKind::box) return;  // its one series stands for every category
  std::set<std::string> run;                // series labels with a result in some panel
  for (const auto& panel : fig.panels)
    for (const auto& series : panel.series)
      if (std::any_of(series.values.begin(), series.values.end(), has_values)) run.insert(series.label);
  for (auto& panel : fig.panels)
    panel.series.erase(std::remove_if(panel.series.begin(), panel.series.end(),
                                      [&](const SeriesData& series) { return !run.count(series.label); }),
                       panel.series.end());
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
      case FigureKind::traces: break;  // study figures are never traces
    }
    if (any) fig.panels.push_back(std::move(panel));
  }
  drop_empty_slots(fig);
  return fig;
}

std::vector<FigureData> build_training_curves(const Table& table, const Selection& selection) {
  if (table.def.kind != TableKind::scores) return {};
  struct Model {
    const RowDef* row;
    std::map<std::string, Trials> trials;  // corpus -> seed -> result
  };
  std::vector<Model> models;
  std::set<std::set<std::string>> seen;  // the cell ids behind each model already listed
  std::map<std::string, int> label_uses;
  for (const auto& row : table.rows) {
    Model m{&row.def, {}};
    std::set<std::string> ids;
    for (const auto& corpus : selection.corpora()) {
      auto trials =
          selection.trials(row.def.selector, corpus, fmt::format("{}, row '{}'", table.def.name, row.def.label));
      if (trials.empty()) continue;
      for (const auto& [seed, result] : trials) ids.insert(result->cell_id);
      m.trials[corpus] = std::move(trials);
    }
    if (ids.empty() || !seen.insert(ids).second) continue;  // Table 2's conditions share their model's cells
    ++label_uses[row.def.label];
    models.push_back(std::move(m));
  }

  std::vector<FigureData> figures;
  for (const auto& m : models) {
    // A label that stands for different results in different blocks (Table 1's procedures) is told apart by its block.
    const std::string name =
        label_uses[m.row->label] > 1 && !m.row->block.empty() ? m.row->block + " / " + m.row->label : m.row->label;
    FigureData fig;
    fig.name = fmt::format("{}-curves-{}", table.def.name, figures.size() + 1);
    fig.title = fmt::format("{}: loss per epoch ({})", name, table.def.name);
    fig.kind = FigureKind::traces;
    fig.x_label = "epoch";
    // Train and dev: the cross-entropy of the combined logits (what predicts), so the two compare. Results
    // written before train_combined_loss have only the training objective, drawn under its own name.
    fig.y_label = "cross-entropy of the combined logits (nats)";
    std::size_t epochs = 0;
    for (const auto& [corpus, trials] : m.trials)
      for (const auto& [seed, result] : trials) epochs = std::max(epochs, result->train_loss.size());
    for (std::size_t e = 1; e <= epochs; ++e) fig.x.push_back(static_cast<double>(e));
    for (const auto& corpus : selection.corpora()) {
      const auto it = m.trials.find(corpus);
      if (it == m.trials.end()) continue;
      PanelData panel;
      panel.title = corpus;
      for (const auto& [label, loss] : {std::pair{"train loss", &store::ResultSummary::train_combined_loss},
                                        std::pair{"dev loss", &store::ResultSummary::dev_loss}})
        for (const auto& [seed, result] : it->second) {
          const bool objective = loss == &store::ResultSummary::train_combined_loss && result->train_combined_loss.empty();
          SeriesData trace{objective ? "training objective (weighted heads)" : label,
                           std::vector<std::vector<double>>(epochs)};
          const auto& values = objective ? result->train_loss : result->*loss;
          for (std::size_t e = 0; e < values.size(); ++e) trace.values[e] = {values[e]};
          panel.series.push_back(std::move(trace));
        }
      fig.panels.push_back(std::move(panel));
    }
    if (epochs > 0) figures.push_back(std::move(fig));
  }
  return figures;
}

}  // namespace auxgrid::analysis
