// Test helper: a results directory shaped like a real run of a grid file,
// without training. Every cell of the grid (seeds below --seeds) gets a
// complete result file whose predictions hit a plausible accuracy for its
// model, ablation and evaluation condition (so the paper's stars can appear),
// the manifest lists them all, and --missing / --failed cells get no result
// (the failed ones an error log as the runner writes it).
//
//   synthetic_results OUT_DIR [GRID=experiments/paper.toml] [SEEDS=20] [UTTERANCES=1077] [MISSING=0] [FAILED=0]
#include <fmt/format.h>

#include <filesystem>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "auxgrid/core/config.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/stats/metrics.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/result_file.hpp"

using namespace auxgrid;

namespace {

struct ModelShape {
  double accuracy;       // ideal condition, CREMA-D-like
  std::int64_t params;   // the paper's Table 5
  double epoch_seconds;  // ditto
};

const std::map<std::string, ModelShape> kModels{{"auxformer", {0.77, 7054748, 83}}, {"baseline1", {0.71, 4776994, 48}},
                                                {"mult", {0.70, 358384, 30}},       {"xmodal", {0.63, 2211628, 39}},
                                                {"unimodal", {0.60, 4364354, 46}},  {"mult_up", {0.72, 7070406, 85}},
                                                {"xmodal_up", {0.65, 7125278, 88}}};

// How an ablation or an evaluation condition moves the accuracy.
double target_accuracy(const Config& c, const std::string& condition) {
  const auto model = kModels.find(c.str("model.name"));
  double a = model == kModels.end() ? 0.6 : model->second.accuracy;
  if (!c.flag("model.pos_encoding")) a -= 0.006;
  if (c.str("model.fusion_block") != "scaled_attention") a -= 0.012;
  if (c.str("model.token") != "last") a -= 0.008;
  if (c.real("train.lambda_av") == 0 || c.real("train.lambda_a") == 0 || c.real("train.lambda_v") == 0) a -= 0.03;
  const bool unimodal = c.str("model.name") == "unimodal";
  const bool sees_audio = !unimodal || c.str("model.modality") == "audio";
  const bool sees_video = !unimodal || c.str("model.modality") == "video";
  const double drop = c.str("train.procedure") == "optimized" ? 0.13 : 0.2;  // modality dropping helps
  if (condition == "audio_only" && sees_video) a -= sees_audio ? drop + 0.02 : 0.35;
  if (condition == "video_only" && sees_audio) a -= sees_video ? drop : 0.35;
  int kept = 0;
  if (std::sscanf(condition.c_str(), "mask_audio_p%d", &kept) == 1 && sees_audio) a -= (100 - kept) / 100.0 * drop;
  if (std::sscanf(condition.c_str(), "mask_video_p%d", &kept) == 1 && sees_video) a -= (100 - kept) / 100.0 * drop;
  return std::max(a, 0.2);
}

const std::vector<std::string> kConditions = [] {
  std::vector<std::string> out{"ideal", "audio_only", "video_only"};
  for (const char* m : {"audio", "video"})
    for (int p = 10; p <= 90; p += 10) out.push_back(fmt::format("mask_{}_p{}", m, p));
  return out;
}();

store::CellResult synthetic_cell(const Cell& cell, const std::string& grid, int utterances) {
  const Config& c = cell.config;
  const std::string corpus = std::filesystem::path(c.str("data.corpus")).stem().string();
  const int seed = static_cast<int>(c.integer("seed"));
  std::mt19937_64 rng(std::hash<std::string>{}(cell.id));
  std::mt19937_64 trial(static_cast<std::uint64_t>(seed) * 7919 + corpus.size());  // shared by every model of a trial
  std::normal_distribution<double> noise(0, 1);
  const double trial_effect = 0.012 * noise(trial), cell_effect = 0.006 * noise(rng);

  store::CellResult r;
  r.cell_id = cell.id;
  r.label = cell.label;
  r.grid = grid;
  r.config = c;
  r.corpus_name = corpus;
  r.class_names = corpus == "msp-improv"
                      ? std::vector<std::string>{"anger", "sadness", "happiness", "neutral"}
                      : std::vector<std::string>{"anger", "disgust", "fear", "happiness", "sadness", "neutral"};
  const auto model = kModels.find(c.str("model.name"));
  const ModelShape shape = model == kModels.end() ? ModelShape{0.6, 1000000, 40} : model->second;
  r.n_params = shape.params;
  r.best_epoch = 20;
  std::uniform_real_distribution<double> u(0, 1);
  for (int e = 0; e < 25; ++e)
    r.epochs.push_back({1.6 - 0.03 * e, 1.5 - 0.02 * e, 7.25e-4, shape.epoch_seconds * (0.95 + 0.1 * u(rng))});
  const int classes = static_cast<int>(r.class_names.size());
  for (int i = 0; i < utterances; ++i) r.test_ids.push_back(fmt::format("{}_{:05d}", 1001 + i % 17, i));
  r.train_ids = {r.test_ids.front()};
  r.dev_ids = {r.test_ids.back()};
  for (const auto& condition : kConditions) {
    store::EvalRecord e;
    e.condition = condition;
    const double accuracy = std::clamp(target_accuracy(c, condition) + trial_effect + cell_effect, 0.05, 0.99);
    for (int i = 0; i < utterances; ++i) {
      const int truth = i % classes;
      const int wrong = (truth + 1 + static_cast<int>(rng() % static_cast<unsigned>(classes - 1))) % classes;
      e.labels.push_back(truth);
      e.predictions.push_back(u(rng) < accuracy ? truth : wrong);
    }
    e.utterance_ids = r.test_ids;
    const auto confusion = stats::confusion_matrix(e.labels, e.predictions, classes);
    e.confusion = confusion.counts;
    e.micro_f1 = stats::micro_f1(confusion);
    e.macro_f1 = stats::macro_f1(confusion);
    r.evals.push_back(std::move(e));
  }
  r.provenance = {{"device", "cuda:0"},
                  {"device_name", "GPU: synthetic"},
                  {"host", "synthetic"},
                  {"finished_utc", "2026-01-01T00:00:00Z"},
                  {"wall_seconds", fmt::format("{}", 25 * shape.epoch_seconds)}};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {  // --help is no directory to fill with 1.3 GB
    std::fprintf(stderr,
                 "usage: synthetic_results OUT_DIR [GRID=experiments/paper.toml] [SEEDS=20] [UTTERANCES=1077] "
                 "[MISSING=0] [FAILED=0]\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string out = argv[1];
  const std::string grid_path = argc > 2 ? argv[2] : "experiments/paper.toml";
  const int seeds = argc > 3 ? std::stoi(argv[3]) : 20, utterances = argc > 4 ? std::stoi(argv[4]) : 1077;
  const int missing = argc > 5 ? std::stoi(argv[5]) : 0, failed = argc > 6 ? std::stoi(argv[6]) : 0;
  try {
    const Grid grid = load_grid(grid_path);
    std::vector<const Cell*> cells;
    for (const auto& cell : grid.cells)
      if (cell.config.integer("seed") < seeds) cells.push_back(&cell);

    std::vector<store::ManifestCell> manifest;
    for (const Cell* cell : cells) {
      store::ManifestCell entry{
          cell->id, std::filesystem::path(cell->config.str("data.corpus")).stem().string(), cell->label, {}};
      for (const auto& [key, value] : cell->config.values()) entry.config[key] = to_string(value);
      manifest.push_back(std::move(entry));
    }
    store::add_to_manifest(out, manifest);

    // Cells 8, 15, 22, ... go missing (in paper.toml: Baseline 1 and MulT cells of
    // Table 1, so AuxFormer keeps every seed), the first `failed` of them with an error log.
    std::size_t written = 0;
    std::vector<bool> skip(cells.size(), false);
    for (int k = 0; k < missing + failed && static_cast<std::size_t>(8 + 7 * k) < cells.size(); ++k) {
      const std::size_t i = static_cast<std::size_t>(8 + 7 * k);
      skip[i] = true;
      if (k < failed) {
        std::filesystem::create_directories(out + "/errors");
        std::ofstream(out + "/errors/" + cells[i]->id + ".log") << fmt::format(
            "2026-01-01T00:00:00Z host=synthetic rank=0 attempt=1 cell='{}': CUDA out of memory\n", cells[i]->label);
      }
    }
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (skip[i]) continue;
      if (store::result_state(out, cells[i]->id) != store::ResultState::complete)
        store::write_result(store::result_path(out, cells[i]->id), synthetic_cell(*cells[i], grid.name, utterances));
      ++written;
    }
    fmt::print("{}: {} cells of {} planned ({} missing, {} of them failed)\n", out, written, cells.size(),
               cells.size() - written, failed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synthetic_results: %s\n", e.what());
    return 1;
  }
  return 0;
}
