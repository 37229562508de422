#include "auxgrid/train/plan.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/results_dir.hpp"
#include "auxgrid/train/options.hpp"

namespace auxgrid::train {

namespace {

// Every check that needs no training, so that a bad grid fails before any work.
// Returns the model's parameter count.
std::int64_t validate_cell(const Cell& cell, const store::CorpusInfo& corpus,
                           std::map<std::string, std::int64_t>& params_by_model) {
  const Config& c = cell.config;
  for (const char* key : {"model.audio_dim", "model.video_dim"}) {
    const bool audio = std::string(key) == "model.audio_dim";
    const auto want = c.integer(key), have = audio ? corpus.audio_dim : corpus.video_dim;
    AUXGRID_CHECK(want == 0 || want == have, "{} = {} but corpus '{}' has {} features of width {}", key, want,
                  corpus.path, audio ? "audio" : "video", have);
  }
  AUXGRID_CHECK(corpus.class_names.size() >= 2, "corpus '{}' has fewer than 2 classes", corpus.path);
  TrainOptions::from(c);  // every training setting takes its type

  // Building the model checks the model's own settings; one build per distinct model.
  const models::ModelDims dims{corpus.audio_dim, corpus.video_dim,
                               static_cast<std::int64_t>(corpus.class_names.size())};
  std::string key = fmt::format("{} {} {}\n", dims.audio_dim, dims.video_dim, dims.num_classes);
  for (const auto& [k, v] : c.values())
    if (k.rfind("model.", 0) == 0) key += k + "=" + to_string(v) + "\n";
  auto it = params_by_model.find(key);
  if (it == params_by_model.end())
    it = params_by_model.emplace(key, models::count_parameters(*models::make_model(c, dims))).first;
  return it->second;
}

// A corpus file's validated index, or why it is unusable, read once per file
// and process: a scan reads every feature (gigabytes for the real corpora). A
// file changed since (size or modification time) is read again.
struct CheckedCorpus {
  std::uintmax_t size = 0;
  std::filesystem::file_time_type modified;
  std::shared_ptr<const store::CorpusIndex> index;
  std::string error;
};

std::shared_ptr<const store::CorpusIndex> checked_corpus(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, CheckedCorpus> cache;
  std::error_code size_error, time_error;
  const auto size = std::filesystem::file_size(path, size_error);
  const auto modified = std::filesystem::last_write_time(path, time_error);
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(path);
  const bool fresh =
      it != cache.end() && !size_error && !time_error && it->second.size == size && it->second.modified == modified;
  if (!fresh) {
    CheckedCorpus c;
    c.size = size, c.modified = modified;
    try {
      c.index = std::make_shared<const store::CorpusIndex>(store::validate_corpus_file(path));
    } catch (const Error& e) {
      c.error = e.what();
    }
    it = cache.insert_or_assign(path, std::move(c)).first;
  }
  AUXGRID_CHECK(it->second.index, "{}", it->second.error);
  return it->second.index;
}

// Classes a trial's split leaves without test or training utterances. Not an
// error: the split follows the protocol and the data are sound, so the cell
// still trains and its micro-F1 is comparable; but macro-F1 counts a class
// with no test utterances as 0 when a model predicts it and leaves it out
// otherwise (stats::macro_f1), so such cells' macro-F1 must be read with care.
std::vector<std::string> split_warnings(const store::CorpusIndex& index, const data::Split& split, std::int64_t seed) {
  std::vector<std::string> out;
  const auto& classes = index.info.class_names;
  const std::pair<const char*, const std::vector<std::int64_t>*> sets[] = {{"test", &split.test},
                                                                           {"training", &split.train}};
  for (const auto& [name, set] : sets) {
    std::vector<bool> seen(classes.size(), false);
    for (auto i : *set) seen[index.labels[i]] = true;
    for (std::size_t c = 0; c < classes.size(); ++c)
      if (!seen[c])
        out.push_back(
            fmt::format("corpus '{}', seed {}: class '{}' has no {} utterances in the speaker-independent split{}",
                        index.info.path, seed, classes[c], name,
                        std::string(name) == "test"
                            ? " (macro-F1 counts it as 0 where a model predicts it and leaves it out otherwise)"
                            : " (the model never learns it)"));
  }
  return out;
}

}  // namespace

Plan make_plan(const Grid& grid, const std::string& out_dir, int max_attempts, bool retry_failed) {
  Plan plan;
  plan.warnings = grid.warnings;
  std::set<std::string> splits_seen;  // corpus, seed and fractions whose split was checked
  std::map<std::string, std::int64_t> params_by_model;
  std::set<std::string> scripts_seen;  // model.path of the TorchScript models warned about
  for (const auto& cell : grid.cells) {
    PlannedCell planned;
    planned.cell = &cell;
    planned.state = store::result_state(out_dir, cell.id, &planned.why, &cell.config);
    if (planned.state == store::ResultState::complete) {
      ++plan.complete;
      plan.cells.push_back(planned);
      continue;
    }
    planned.attempts = store::failed_attempts(out_dir, cell.id);
    if (!retry_failed && planned.attempts >= max_attempts) {
      planned.given_up = true;
      ++plan.given_up;
      plan.cells.push_back(planned);
      continue;
    }
    try {
      const auto path = cell.config.str("data.corpus");
      AUXGRID_CHECK(!path.empty(), "data.corpus is not set (the corpus file to train on)");
      const auto index = checked_corpus(path);
      const auto& info = index->info;
      // The trial's split, as train_cell will draw it: possible (3 speakers or
      // more), and a warning for each class it leaves out of a set.
      const auto seed = cell.config.integer("seed");
      const auto train_fraction = cell.config.real("data.train_fraction");
      const auto dev_fraction = cell.config.real("data.dev_fraction");
      const auto split_key = fmt::format("{}\n{}\n{}\n{}", path, seed, train_fraction, dev_fraction);
      if (!splits_seen.count(split_key)) {
        const auto split =
            data::speaker_split(index->speakers, static_cast<std::uint64_t>(seed), train_fraction, dev_fraction, path);
        for (auto& w : split_warnings(*index, split, seed)) plan.warnings.push_back(std::move(w));
        splits_seen.insert(split_key);  // after the split: a split that throws makes each of its cells invalid
      }
      const double train_frames = cell.config.real("data.train_fraction") * static_cast<double>(info.audio_frames);
      planned.flops = 6.0 * static_cast<double>(validate_cell(cell, info, params_by_model)) * train_frames *
                      static_cast<double>(cell.config.integer("train.epochs"));
      if (cell.config.str("model.name") == "torchscript" && scripts_seen.insert(cell.config.str("model.path")).second)
        if (auto w = models::scripted_model_warning(cell.config.str("model.path")); !w.empty())
          plan.warnings.push_back(std::move(w));
    } catch (const Error& e) {
      planned.problem = e.what();
      ++plan.invalid;
      ++plan.problem_counts[planned.problem];
      if (plan.problems.size() < 5)
        plan.problems.push_back(fmt::format("cell '{}' ({}): {}", cell.label, cell.id, planned.problem));
      plan.cells.push_back(planned);
      continue;
    }
    plan.cells.push_back(planned);
    plan.pending.push_back(planned);
    plan.pending_flops += planned.flops;
  }
  std::stable_sort(plan.pending.begin(), plan.pending.end(),
                   [](const PlannedCell& a, const PlannedCell& b) { return a.flops > b.flops; });
  return plan;
}

std::vector<std::vector<std::size_t>> balanced_shards(const std::vector<double>& costs, int shards) {
  AUXGRID_CHECK(shards >= 1, "the number of shards must be at least 1, got {}", shards);
  std::vector<std::size_t> order(costs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return costs[a] > costs[b]; });
  std::vector<std::vector<std::size_t>> out(shards);
  std::vector<double> load(shards, 0.0);
  for (auto i : order) {
    const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    out[lightest].push_back(i);
    load[lightest] += costs[i];
  }
  return out;
}

void throw_if_invalid(const Plan& plan, const Grid& grid) {
  if (plan.invalid == 0) return;
  AUXGRID_FAIL("{}: {}{}", grid.path, fmt::join(plan.problems, "\n  "),
               plan.invalid > plan.problems.size()
                   ? fmt::format("\n  ... {} invalid cells in all; nothing was trained", plan.invalid)
                   : std::string());
}

std::vector<store::ManifestCell> manifest_cells(const Grid& grid) {
  std::map<std::string, std::string> corpus_names;
  std::vector<store::ManifestCell> out;
  for (const auto& cell : grid.cells) {
    const auto path = cell.config.str("data.corpus");
    auto name = corpus_names.find(path);
    if (name == corpus_names.end()) {
      std::string corpus = std::filesystem::path(path).stem().string();
      try {
        corpus = store::read_corpus_info(path).name;
      } catch (const std::exception&) {
        // keep the stem: the plan reports unreadable corpora of cells still to run
      }
      name = corpus_names.emplace(path, corpus).first;
    }
    store::ManifestCell entry{cell.id, name->second, cell.label, {}};
    for (const auto& [key, value] : cell.config.values()) entry.config[key] = to_string(value);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace auxgrid::train
