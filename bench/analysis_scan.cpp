// Benchmark: how long `auxgrid-analyze tables` takes over a results directory
// of N cells shaped like the paper's (1,077 test utterances, 21 evaluation
// conditions, 25 epochs). Writes the files once (not timed), then times the
// scan (read every summary) and Table 1, over several repetitions.
//   analysis_scan DIR [N=1000] [REPEATS=3]
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "analysis/tables.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/store/result_file.hpp"

using namespace auxgrid;

namespace {

store::CellResult synthetic_cell(int index, std::mt19937_64& rng) {
  static const char* models[] = {"auxformer", "baseline1", "mult", "xmodal"};
  static const char* corpora[] = {"crema-d", "msp-improv"};
  store::CellResult r;
  r.config = Config::defaults();
  r.config.set("model.name", std::string(models[index % 4]));
  r.config.set("train.procedure", std::string(index / 4 % 2 ? "optimized" : "standard"));
  r.config.set("seed", std::int64_t{index / 16});
  r.config.set("data.corpus", fmt::format("corpora/{}.h5", corpora[index / 8 % 2]));
  r.cell_id = r.config.id();
  r.label = fmt::format("cell {}", index);
  r.grid = "bench";
  r.corpus_name = corpora[index / 8 % 2];
  r.class_names = {"anger", "disgust", "fear", "happiness", "sadness", "neutral"};
  r.n_params = 7054748;
  r.best_epoch = 20;
  std::uniform_real_distribution<double> u(0, 1);
  for (int e = 0; e < 25; ++e) r.epochs.push_back({1.5 - 0.02 * e, 1.4 - 0.01 * e, 7.25e-4, 80 + u(rng)});
  const int n = 1077, c = 6;
  for (int i = 0; i < n; ++i) r.test_ids.push_back(fmt::format("{}_{:05d}", 1000 + i % 91, i));
  for (const char* condition : {"ideal", "audio_only", "video_only"}) {
    store::EvalRecord e;
    e.condition = condition;
    e.confusion.assign(c * c, 0);
    for (int i = 0; i < n; ++i) {
      const int truth = i % c, guess = u(rng) < 0.75 ? truth : static_cast<int>(rng() % c);
      e.labels.push_back(truth), e.predictions.push_back(guess), ++e.confusion[truth * c + guess];
    }
    e.utterance_ids = r.test_ids;
    e.micro_f1 = 0.7 + 0.1 * u(rng), e.macro_f1 = e.micro_f1 - 0.01;
    r.evals.push_back(e);
  }
  for (const char* modality : {"audio", "video"})
    for (int p = 10; p <= 90; p += 10) {
      auto e = r.evals.front();
      e.condition = fmt::format("mask_{}_p{}", modality, p);
      r.evals.push_back(e);
    }
  return r;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: analysis_scan DIR [N=1000] [REPEATS=3]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int n = argc > 2 ? std::stoi(argv[2]) : 1000, repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  std::mt19937_64 rng(0);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const auto cell = synthetic_cell(i, rng);
    const auto path = store::result_path(dir, cell.cell_id);
    if (store::result_state(path) != store::ResultState::complete) store::write_result(path, cell);
  }
  fmt::print("prepared {} result files in {} ({:.1f} s)\n", n, dir, seconds_since(start));

  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    start = std::chrono::steady_clock::now();
    std::ostringstream table, warnings;
    analysis::write_tables(dir, analysis::Format::markdown, "", table, warnings);
    best = std::min(best, seconds_since(start));
  }
  fmt::print("auxgrid-analyze tables over {} files: {:.3f} s (best of {}), {:.0f} files/s\n", n, best, repeats,
             n / best);
  return 0;
}
