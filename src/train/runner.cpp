#include "auxgrid/train/runner.hpp"

#include <fmt/ranges.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <boost/filesystem.hpp>
#include <atomic>
#include <fstream>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/stop_signals.hpp"
#include "auxgrid/core/version.hpp"
#include "auxgrid/dist/communicator.hpp"
#include "auxgrid/dist/device.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/train/claim.hpp"
#include "auxgrid/train/trainer.hpp"
#include "auxgrid/train/watchdog.hpp"

namespace auxgrid::train {

namespace {

using Clock = std::chrono::steady_clock;

std::string duration_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string hostname() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

std::string now_iso8601() {
  const auto t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

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
  conditions_of(c);

  // Building the model checks the model's own settings; one build per distinct model.
  const models::ModelDims dims{corpus.audio_dim, corpus.video_dim, static_cast<std::int64_t>(corpus.class_names.size())};
  std::string key = fmt::format("{} {} {}\n", dims.audio_dim, dims.video_dim, dims.num_classes);
  for (const auto& [k, v] : c.values())
    if (k.rfind("model.", 0) == 0) key += k + "=" + to_string(v) + "\n";
  auto it = params_by_model.find(key);
  if (it == params_by_model.end())
    it = params_by_model.emplace(key, models::count_parameters(*models::make_model(c, dims))).first;
  return it->second;
}

}  // namespace

std::string checkpoint_path(const std::string& out_dir, const std::string& cell_id) {
  return out_dir + "/checkpoints/" + cell_id + ".pt";
}

std::string error_log_path(const std::string& out_dir, const std::string& cell_id) {
  return out_dir + "/errors/" + cell_id + ".log";
}

int failed_attempts(const std::string& out_dir, const std::string& cell_id) {
  std::ifstream in(error_log_path(out_dir, cell_id));
  int lines = 0;
  for (std::string line; std::getline(in, line);) lines += !line.empty();
  return lines;
}

namespace {
void record_failure(const std::string& out_dir, const Cell& cell, int rank, const std::string& message) {
  const auto path = error_log_path(out_dir, cell.id);
  boost::filesystem::create_directories(boost::filesystem::path(path).parent_path());
  const int attempt = failed_attempts(out_dir, cell.id) + 1;
  std::string one_line = message;
  std::replace(one_line.begin(), one_line.end(), '\n', ' ');
  std::ofstream(path, std::ios::app) << fmt::format("{} host={} rank={} attempt={} cell='{}': {}\n", now_iso8601(),
                                                    hostname(), rank, attempt, cell.label, one_line);
}
}  // namespace

Plan make_plan(const Grid& grid, const std::string& out_dir, int max_attempts, bool retry_failed) {
  Plan plan;
  std::map<std::string, store::CorpusInfo> corpora;
  std::map<std::string, std::string> unreadable;  // corpus path -> why
  std::map<std::string, std::int64_t> params_by_model;
  for (const auto& cell : grid.cells) {
    PlannedCell planned;
    planned.cell = &cell;
    planned.state = store::result_state(store::result_path(out_dir, cell.id), &planned.why);
    if (planned.state == store::ResultState::complete) {
      ++plan.complete;
      plan.cells.push_back(planned);
      continue;
    }
    planned.attempts = failed_attempts(out_dir, cell.id);
    if (!retry_failed && planned.attempts >= max_attempts) {
      planned.given_up = true;
      ++plan.given_up;
      plan.cells.push_back(planned);
      continue;
    }
    try {
      const auto path = cell.config.str("data.corpus");
      AUXGRID_CHECK(!path.empty(), "data.corpus is not set (the corpus file to train on)");
      AUXGRID_CHECK(!unreadable.count(path), "{}", unreadable[path]);
      auto corpus = corpora.find(path);
      if (corpus == corpora.end()) {
        try {
          corpus = corpora.emplace(path, store::read_corpus_info(path)).first;
        } catch (const Error& e) {
          unreadable[path] = e.what();  // one read per corpus, also when it fails
          throw;
        }
      }
      const auto& info = corpus->second;
      const double train_frames = cell.config.real("data.train_fraction") * static_cast<double>(info.audio_frames);
      planned.flops = 6.0 * static_cast<double>(validate_cell(cell, info, params_by_model)) * train_frames *
                      static_cast<double>(cell.config.integer("train.epochs"));
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

std::string resolve_device(const std::string& requested) {
  AUXGRID_CHECK(requested == "auto" || requested == "cpu" || requested == "cuda",
                "--device must be auto, cpu or cuda, got '{}'", requested);
  const bool cuda = torch::cuda::is_available();
  AUXGRID_CHECK(requested != "cuda" || cuda,
                "--device cuda: no usable CUDA device (LibTorch {}; a GPU run needs a CUDA LibTorch and a GPU)",
                TORCH_VERSION);
  if (requested == "cpu" || !cuda) return "cpu";
  // Ranks that share a node spread over its GPUs.
  return fmt::format("cuda:{}", dist::local_device_index(static_cast<int>(torch::cuda::device_count())));
}

namespace {
// The grid's cells for DIR/manifest.tsv, with each corpus's name as its file
// records it (the file stem when the file cannot be read).
std::vector<store::ManifestCell> manifest_cells(const Grid& grid) {
  std::map<std::string, std::string> corpus_names;
  std::vector<store::ManifestCell> out;
  for (const auto& cell : grid.cells) {
    const auto path = cell.config.str("data.corpus");
    auto name = corpus_names.find(path);
    if (name == corpus_names.end()) {
      std::string corpus = boost::filesystem::path(path).stem().string();
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
}  // namespace

int run_grid(const Grid& grid, const RunOptions& options, dist::World& world) {
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world.local_size());
  torch::set_num_threads(threads);

  // Rank 0 plans and validates; the others follow its decision.
  std::vector<std::int64_t> pending;  // indices into grid.cells, longest first
  std::string error;
  std::int64_t complete = 0;
  if (world.rank() == 0) {
    try {
      const auto plan = make_plan(grid, options.out_dir, options.max_attempts, options.retry_failed);
      if (plan.given_up)
        spdlog::warn("{} cell(s) failed {} times and are not run again (see {}/errors; --retry-failed runs them)",
                     plan.given_up, options.max_attempts, options.out_dir);
      throw_if_invalid(plan, grid);
      // Settings this run's device cannot take fail before any work.
      if ((options.device == "cpu" || !torch::cuda::is_available()) && !bf16_supported(/*on_cuda=*/false))
        for (const auto& cell : grid.cells)
          AUXGRID_CHECK(cell.config.str("train.precision") != "bf16",
                        "{}: cell '{}': train.precision = bf16 needs a CUDA device or LibTorch 2.x on the CPU; "
                        "this run has no CUDA device and LibTorch {}",
                        grid.path, cell.label, libtorch_version());
      store::add_to_manifest(options.out_dir, manifest_cells(grid));
      complete = static_cast<std::int64_t>(plan.complete);
      std::vector<double> costs;
      for (const auto& p : plan.pending) costs.push_back(p.flops);
      AUXGRID_CHECK(options.shard >= 0 && options.shard < options.shards, "shard {} is not in 0..{}", options.shard,
                    options.shards - 1);
      const auto shards = balanced_shards(costs, options.shards);
      // This shard first, then every other pending cell: a task that starts
      // later plans from fewer pending cells, so a cell could fall into no
      // task's shard; the claims keep this sweep from training a cell twice.
      std::vector<bool> in_shard(plan.pending.size(), false);
      for (auto i : shards[options.shard]) in_shard[i] = true;
      for (auto i : shards[options.shard]) pending.push_back(plan.pending[i].cell - grid.cells.data());
      for (std::size_t i = 0; i < plan.pending.size(); ++i)
        if (!in_shard[i]) pending.push_back(plan.pending[i].cell - grid.cells.data());
      for (const auto& p : plan.pending)
        if (p.state == store::ResultState::incomplete)
          spdlog::warn("cell '{}' ({}): existing result is not complete ({}); it will be re-run", p.cell->label,
                       p.cell->id, p.why);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  world.broadcast(error);
  if (!error.empty()) {
    if (world.rank() == 0) spdlog::error("{}", error);
    return 1;
  }
  world.broadcast(pending);
  const auto total = static_cast<std::int64_t>(pending.size());
  if (total == 0) {
    if (world.rank() == 0)
      spdlog::info("grid '{}': nothing to train, {} of {} cells are complete in {}", grid.name, complete,
                   grid.cells.size(), options.out_dir);
    return 0;
  }
  if (world.rank() == 0) {
    spdlog::info("grid '{}': {} cells, {} complete, {} to train on {} rank(s) x {} thread(s)", grid.name,
                 grid.cells.size(), complete, total, world.size(), threads);
  }

  watch_stop_signals();  // SIGUSR1 or SIGTERM: checkpoint at the next step boundary
  TrainControl control;
  control.stop_requested = [] { return stop_signal_received() != 0; };

  // Groups of ranks_per_cell ranks train one cell each; the group's first rank
  // claims cells from the shared counter and the others follow it.
  int group_index = 0;
  control.device = resolve_device(options.device);
  const std::string device_name = dist::device_name(control.device);
  const auto group = dist::make_group_communicator(world, options.ranks_per_cell, "auto",
                                                   control.device != "cpu", &group_index);
  const bool leader = group->rank() == 0;
  const int groups = world.size() / options.ranks_per_cell;
  control.group = group.get();

  // The watchdog fails the cell in training and aborts the launch when no
  // step or evaluation batch completed for the timeout (e.g. a stalled peer).
  std::atomic<const Cell*> current_cell{nullptr};
  std::unique_ptr<Watchdog> watchdog;
  if (options.watchdog_seconds > 0) {
    watchdog = std::make_unique<Watchdog>(options.watchdog_seconds, [&](double silent) {
      const Cell* cell = current_cell.load();
      const auto what = fmt::format("watchdog: rank {} (host {}) made no progress for {:.0f} s{}; aborting the launch",
                                    world.rank(), hostname(), silent, cell ? " in cell '" + cell->label + "'" : "");
      spdlog::critical("{}", what);
      if (cell) record_failure(options.out_dir, *cell, world.rank(), what);
      spdlog::default_logger()->flush();
      world.abort(kExitStalled);
    });
    control.heartbeat = [&] { watchdog->beat(); };
  }

  dist::SharedCounter counter(world), failures(world);
  std::map<std::string, store::CorpusData> corpora;  // loaded once per process
  const auto run_start = Clock::now();
  std::int64_t trained = 0, failed = 0, preempted = 0, held = 0;
  while (true) {
    std::int64_t decision[2] = {total, 0};  // the cell to train (total = none left), and whether to train it
    std::unique_ptr<CellClaim> claim;
    const bool too_many_failures = options.fail_fast > 0 && failures.fetch_add(0) >= options.fail_fast;
    if (leader && !stop_signal_received() && !too_many_failures) {
      decision[0] = counter.fetch_add();
      if (decision[0] < total) {
        const Cell& cell = grid.cells[pending[decision[0]]];
        // The claim keeps other launches (overlapping array tasks, a
        // resubmission) off this cell while it trains.
        claim = CellClaim::try_claim(options.out_dir, cell.id, options.stale_lock_seconds);
        if (!claim && ++held)
          spdlog::info("[cell {}/{}] {} ({}) is being trained by {}; skipped", decision[0] + 1, total, cell.label,
                       cell.id, CellClaim::owner_of(lock_path(options.out_dir, cell.id)));
        else if (store::result_state(store::result_path(options.out_dir, cell.id)) == store::ResultState::complete)
          spdlog::info("[cell {}/{}] {} ({}) was completed by another launch; skipped", decision[0] + 1, total,
                       cell.label, cell.id);
        else
          decision[1] = 1;
      }
    }
    group->broadcast_host(decision, 2, 0);
    if (decision[0] >= total) break;
    if (!decision[1]) continue;
    const auto k = decision[0];
    const Cell& cell = grid.cells[pending[k]];
    current_cell = &cell;
    if (watchdog) watchdog->beat();
    const auto progress = fmt::format("[cell {}/{}]", k + 1, total);
    const auto cell_start = Clock::now();
    if (leader)
      spdlog::info("{} {} ({}) started{}", progress, cell.label, cell.id,
                   group->size() > 1 ? fmt::format(" on group {} ({} ranks, {})", group_index, group->size(),
                                                   group->backend())
                                     : "");
    try {
      const auto corpus_path = cell.config.str("data.corpus");
      auto corpus = corpora.find(corpus_path);
      if (corpus == corpora.end()) corpus = corpora.emplace(corpus_path, store::read_corpus(corpus_path)).first;

      control.checkpoint_path = checkpoint_path(options.out_dir, cell.id);
      auto result = train_cell(
          cell, corpus->second,
          [&](const EpochReport& r) {
            spdlog::info("{} {} epoch {}/{}: train loss {:.4f}, dev loss {:.4f}{}, lr {:.3g}, {:.1f} s", progress,
                         cell.label, r.epoch, r.epochs, r.record.train_loss, r.record.dev_loss,
                         r.best ? " (best)" : "", r.record.lr, r.record.seconds);
          },
          control);
      const double wall = std::chrono::duration<double>(Clock::now() - cell_start).count();
      result.grid = grid.name;
      result.provenance = {{"auxgrid_version", version()},
                           {"host", hostname()},
                           {"rank", std::to_string(world.rank())},
                           {"world_size", std::to_string(world.size())},
                           {"threads", std::to_string(threads)},
                           {"device", control.device},
                           {"device_name", device_name},
                           {"libtorch_version", TORCH_VERSION},
                           {"mpi_version", world.uses_mpi() ? world.library_version() : "none"},
                           {"hdf5_version", store::hdf5_version()},
                           {"nccl", dist::communicator_backends().contains("nccl") ? "built" : "not built"},
                           {"git_commit", git_commit()},
                           {"git_dirty", git_dirty()},
                           {"command", options.command_line},
                           {"finished_utc", now_iso8601()},
                           {"wall_seconds", fmt::format("{:.3f}", wall)}};
      result.provenance["ranks_per_cell"] = std::to_string(group->size());
      result.provenance["communicator"] = group->backend();
      if (!leader) continue;  // the group's first rank writes the result
      store::write_result(store::result_path(options.out_dir, cell.id), result);
      std::remove(control.checkpoint_path.c_str());
      ++trained;

      const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
      const double per_cell = elapsed / static_cast<double>(trained + failed);
      const auto left = std::max<std::int64_t>(0, total - k - 1);
      const auto eta = per_cell * static_cast<double>((left + groups - 1) / groups);
      const auto& ideal = result.evals.front();
      spdlog::info("{} {} done in {}: {} micro-F1 {:.3f}, macro-F1 {:.3f}; ETA ~{}", progress, cell.label,
                   duration_text(wall), ideal.condition, ideal.micro_f1, ideal.macro_f1, duration_text(eta));
    } catch (const Preempted& e) {
      preempted += leader;
      spdlog::warn("{} {}; exiting with code {} so that the job is requeued", progress, e.what(), kExitPreempted);
    } catch (const std::exception& e) {
      failed += leader;
      if (leader) {
        record_failure(options.out_dir, cell, world.rank(), e.what());
        failures.fetch_add(1);
      }
      spdlog::error("{} {} ({}) failed: {} (attempt {} of {}, recorded in {}; a rerun retries it)", progress,
                    cell.label, cell.id, e.what(), failed_attempts(options.out_dir, cell.id), options.max_attempts,
                    error_log_path(options.out_dir, cell.id));
    }
  }

  trained = world.sum(trained);
  failed = world.sum(failed);
  held = world.sum(held);
  preempted = world.sum(preempted);
  if (preempted || stop_signal_received()) {
    if (world.rank() == 0)
      spdlog::warn("grid '{}': stopped by a signal after {} cells; {} checkpointed; rerun to continue", grid.name,
                   trained, preempted);
    return kExitPreempted;
  }
  if (world.rank() == 0) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
    if (failed)
      spdlog::error("grid '{}': {} of {} cells trained, {} failed, in {}{}", grid.name, trained, total, failed,
                    duration_text(elapsed),
                    options.fail_fast > 0 && failed >= options.fail_fast ? " (stopped early: --fail-fast)" : "");
    else if (held)
      spdlog::warn("grid '{}': {} cells trained in {}; {} are held by other launches (see {}/locks)", grid.name,
                   trained, duration_text(elapsed), held, options.out_dir);
    else
      spdlog::info("grid '{}': all {} cells trained in {}; results in {}", grid.name, trained, duration_text(elapsed),
                   options.out_dir);
  }
  return failed ? 1 : 0;
}

}  // namespace auxgrid::train
