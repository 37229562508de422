#include "auxgrid/train/runner.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/stop_signals.hpp"
#include "auxgrid/core/version.hpp"
#include "auxgrid/dist/communicator.hpp"
#include "auxgrid/dist/device.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/results_dir.hpp"
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

// Rank 0's decision before anything trains: the pending cells (indices into
// grid.cells) in the order this launch claims them. Plans, validates, records
// the manifest and takes this launch's shard; throws on an invalid grid.
struct Schedule {
  std::vector<std::int64_t> pending;
  std::int64_t complete = 0;
  std::int64_t given_up = 0;  // failed --max-attempts times: not complete, not run
};

Schedule schedule(const Grid& grid, const RunOptions& options) {
  const auto plan = make_plan(grid, options.out_dir, options.max_attempts, options.retry_failed);
  if (plan.given_up)
    spdlog::warn("{} cell(s) failed {} times and are not run again (see {}/errors; --retry-failed runs them)",
                 plan.given_up, options.max_attempts, options.out_dir);
  throw_if_invalid(plan, grid);
  for (const auto& w : plan.warnings) spdlog::warn("{}: {}", grid.path, w);
  // Settings this run's device cannot take fail before any work.
  if ((options.device == "cpu" || !torch::cuda::is_available()) && !bf16_supported(/*on_cuda=*/false))
    for (const auto& cell : grid.cells)
      AUXGRID_CHECK(TrainOptions::from(cell.config).precision != Precision::bf16,
                    "{}: cell '{}': train.precision = bf16 needs a CUDA device or LibTorch 2.x on the CPU; "
                    "this run has no CUDA device and LibTorch {}",
                    grid.path, cell.label, libtorch_version());
  // Every directory the launch will write takes a file before anything trains:
  // a read-only or misplaced one fails now, in one line, not after a cell's epochs.
  if (!plan.pending.empty())
    for (const auto& [dir, what] : {std::pair{options.out_dir, "the results directory"},
                                    {store::cells_dir(options.out_dir), "the results' directory"},
                                    {store::locks_dir(options.out_dir), "the locks' directory"},
                                    {store::checkpoints_dir(options.out_dir), "the checkpoints' directory"},
                                    {store::errors_dir(options.out_dir), "the error records' directory"}})
      files::probe_directory(dir, what);
  store::add_to_manifest(options.out_dir, manifest_cells(grid));
  for (const auto& p : plan.pending)
    if (p.state == store::ResultState::incomplete)
      spdlog::warn("cell '{}' ({}): existing result is rejected ({}); it will be set aside and retrained",
                   p.cell->label, p.cell->id, p.why);

  AUXGRID_CHECK(options.shard >= 0 && options.shard < options.shards, "shard {} is not in 0..{}", options.shard,
                options.shards - 1);
  std::vector<double> costs;
  for (const auto& p : plan.pending) costs.push_back(p.flops);
  const auto shards = balanced_shards(costs, options.shards);
  // This shard first, then every other pending cell: a task that starts
  // later plans from fewer pending cells, so a cell could fall into no
  // task's shard; the claims keep this sweep from training a cell twice.
  Schedule s;
  s.complete = static_cast<std::int64_t>(plan.complete);
  s.given_up = static_cast<std::int64_t>(plan.given_up);
  std::vector<bool> in_shard(plan.pending.size(), false);
  for (auto i : shards[options.shard]) in_shard[i] = true;
  for (auto i : shards[options.shard]) s.pending.push_back(plan.pending[i].cell - grid.cells.data());
  for (std::size_t i = 0; i < plan.pending.size(); ++i)
    if (!in_shard[i]) s.pending.push_back(plan.pending[i].cell - grid.cells.data());
  return s;
}

// One launch's ranks working through the pending cells: groups of
// ranks_per_cell ranks train one cell each; the group's first rank claims
// cells from the shared counter and the others follow it.
class GridRun {
 public:
  GridRun(const Grid& grid, const RunOptions& options, dist::World& world, std::vector<std::int64_t> pending,
          int threads);
  int run();  // the process exit code

 private:
  // The next cell this group trains (an index into pending_), or none when
  // no cell is left; cells held by another launch or completed meanwhile are
  // skipped.
  std::optional<std::int64_t> next_cell();
  // Trains, evaluates and (on the group's first rank) writes one cell; a
  // failure is recorded and the grid goes on.
  void train(std::int64_t k);
  std::map<std::string, std::string> provenance(const dist::Communicator& group, double wall_seconds) const;
  int summary() const;
  // The cells of this launch left without a complete result, each with why
  // ("held by ..."); waits while other live launches hold some of them, at
  // most --stale-lock seconds. Rank 0 only.
  std::vector<std::string> unfinished_cells() const;
  void start_watchdog();
  // Claims a cell for this group; a lock that cannot be written is a failure
  // of the cell (recorded; `failed` set), not of the launch.
  std::unique_ptr<CellClaim> claim(const Cell& cell, const std::string& where, bool& failed);
  // What a failure log line ends with: which attempt, where it is recorded, what a rerun does.
  std::string after_failure(const Cell& cell) const;
  // Appends the cell's failure record; where even that fails (a full disk),
  // says so on stderr with the failure itself.
  void record(const Cell& cell, const std::string& message) const;

  const Grid& grid_;
  const RunOptions& options_;
  dist::World& world_;
  const std::vector<std::int64_t> pending_;
  const std::int64_t total_;
  const int threads_;
  TrainControl control_;
  int group_index_ = 0;
  std::unique_ptr<dist::Communicator> group_;
  bool leader_ = false;
  std::string device_name_;
  std::atomic<const Cell*> current_cell_{nullptr};
  std::unique_ptr<Watchdog> watchdog_;
  dist::SharedCounter counter_, failures_;
  std::unique_ptr<CellClaim> claim_;                  // the cell this group trains
  std::map<std::string, store::CorpusData> corpora_;  // loaded once per process
  const Clock::time_point start_ = Clock::now();
  std::int64_t trained_ = 0, failed_ = 0, preempted_ = 0;
};

GridRun::GridRun(const Grid& grid, const RunOptions& options, dist::World& world, std::vector<std::int64_t> pending,
                 int threads)
    : grid_(grid),
      options_(options),
      world_(world),
      pending_(std::move(pending)),
      total_(static_cast<std::int64_t>(pending_.size())),
      threads_(threads),
      counter_(world),
      failures_(world) {
  watch_stop_signals();  // SIGUSR1 or SIGTERM: checkpoint at the next step boundary
  control_.stop_requested = [] { return stop_signal_received() != 0; };
  control_.device = resolve_device(options.device);
  device_name_ = dist::device_name(control_.device);
  group_ =
      dist::make_group_communicator(world, options.ranks_per_cell, "auto", control_.device != "cpu", &group_index_);
  leader_ = group_->rank() == 0;
  control_.group = group_.get();
  if (options.watchdog_seconds > 0) start_watchdog();
}

// The watchdog fails the cell in training and aborts the launch when no
// step or evaluation batch completed for the timeout (e.g. a stalled peer).
void GridRun::start_watchdog() {
  watchdog_ = std::make_unique<Watchdog>(options_.watchdog_seconds, [this](double silent) {
    const Cell* cell = current_cell_.load();
    const auto what = fmt::format("watchdog: rank {} (host {}) made no progress for {:.0f} s{}; aborting the launch",
                                  world_.rank(), host_name(), silent, cell ? " in cell '" + cell->label + "'" : "");
    spdlog::critical("{}", what);
    if (cell) record(*cell, what);
    spdlog::default_logger()->flush();
    world_.abort(kExitStalled);
  });
  control_.heartbeat = [this] { watchdog_->beat(); };
}

std::optional<std::int64_t> GridRun::next_cell() {
  while (true) {
    std::int64_t decision[2] = {total_, 0};  // the cell (total_ = none left), and whether to train it
    claim_.reset();
    const bool too_many_failures = options_.fail_fast > 0 && failures_.fetch_add(0) >= options_.fail_fast;
    if (leader_ && !stop_signal_received() && !too_many_failures) {
      decision[0] = counter_.fetch_add();
      if (decision[0] < total_) {
        const Cell& cell = grid_.cells[pending_[decision[0]]];
        const auto where = fmt::format("[cell {}/{}] {} ({})", decision[0] + 1, total_, cell.label, cell.id);
        // The claim keeps other launches (overlapping array tasks, a
        // resubmission) off this cell while it trains.
        bool lock_failed = false;
        claim_ = claim(cell, where, lock_failed);
        if (lock_failed) {
          // recorded as a failure of the cell; on to the next one
        } else if (!claim_) {
          const auto lock =
              store::lock_status(store::lock_path(options_.out_dir, cell.id), options_.stale_lock_seconds);
          spdlog::info("{} is being trained by {}; skipped", where, lock.owner());
        } else {
          // Checked under the claim: another launch may have completed it,
          // and a result that fails verification is replaced.
          const auto path = store::result_path(options_.out_dir, cell.id);
          std::string why;
          const auto state = store::result_state(options_.out_dir, cell.id, &why, &cell.config);
          if (state == store::ResultState::complete) {
            spdlog::info("{} was completed by another launch; skipped", where);
          } else {
            if (state == store::ResultState::incomplete)
              spdlog::warn("{}: result rejected ({}); set aside as {}, the cell is retrained", where, why,
                           store::set_aside(path));
            decision[1] = 1;
          }
        }
      }
    }
    group_->broadcast_host(decision, 2, 0);
    if (decision[0] >= total_) return std::nullopt;
    if (decision[1]) return decision[0];
  }
}

std::string GridRun::after_failure(const Cell& cell) const {
  // Under --retry-failed attempts go past --max-attempts: the count is not "of" it then.
  const int attempts = store::failed_attempts(options_.out_dir, cell.id);
  const bool last = attempts >= options_.max_attempts;
  const auto attempt = attempts > options_.max_attempts
                           ? fmt::format("attempt {}, past --max-attempts {} (--retry-failed)", attempts,
                                         options_.max_attempts)
                       : last ? fmt::format("attempt {}, the last of --max-attempts {}", attempts, options_.max_attempts)
                              : fmt::format("attempt {} of {}", attempts, options_.max_attempts);
  return fmt::format("{}, recorded in {}; {}", attempt, store::error_log_path(options_.out_dir, cell.id),
                     last ? "a rerun leaves it out; --retry-failed runs it again" : "a rerun retries it");
}

std::unique_ptr<CellClaim> GridRun::claim(const Cell& cell, const std::string& where, bool& failed) {
  try {
    return CellClaim::try_claim(options_.out_dir, cell.id, options_.stale_lock_seconds);
  } catch (const std::exception& e) {
    failed = true;
    ++failed_;
    record(cell, e.what());
    failures_.fetch_add(1);
    spdlog::error("{} cannot be claimed: {} ({})", where, e.what(), after_failure(cell));
    return nullptr;
  }
}

void GridRun::record(const Cell& cell, const std::string& message) const {
  try {
    store::record_failure(options_.out_dir, cell.id, world_.rank(), cell.label, message);
  } catch (const std::exception& e) {
    spdlog::error("cannot record the failure of cell '{}' ({}): {}; the failure was: {}", cell.label, cell.id, e.what(),
                  message);
  }
}

std::map<std::string, std::string> GridRun::provenance(const dist::Communicator& group, double wall_seconds) const {
  namespace prov = store::provenance;
  return {{prov::kAuxgridVersion, version()},
          {prov::kHost, host_name()},
          {prov::kRank, std::to_string(world_.rank())},
          {prov::kWorldSize, std::to_string(world_.size())},
          {prov::kThreads, std::to_string(threads_)},
          {prov::kDevice, control_.device},
          {prov::kDeviceName, device_name_},
          {prov::kLibtorchVersion, TORCH_VERSION},
          {prov::kMpiVersion, world_.uses_mpi() ? world_.library_version() : "none"},
          {prov::kHdf5Version, store::hdf5_version()},
          {prov::kNccl, dist::communicator_backends().contains("nccl") ? "built" : "not built"},
          {prov::kGitCommit, git_commit()},
          {prov::kGitDirty, git_dirty()},
          {prov::kCommand, options_.command_line},
          {prov::kFinishedUtc, utc_now()},
          {prov::kWallSeconds, fmt::format("{:.3f}", wall_seconds)},
          {prov::kRanksPerCell, std::to_string(group.size())},
          {prov::kCommunicator, group.backend()}};
}

void GridRun::train(std::int64_t k) {
  const Cell& cell = grid_.cells[pending_[k]];
  current_cell_ = &cell;
  // The watchdog watches while this cell trains, whichever way train() ends.
  struct Watching {
    Watchdog* watchdog;
    explicit Watching(Watchdog* w) : watchdog(w) {
      if (watchdog) watchdog->watch(true);
    }
    ~Watching() {
      if (watchdog) watchdog->watch(false);
    }
  } watching(watchdog_.get());
  const auto progress = fmt::format("[cell {}/{}]", k + 1, total_);
  const auto cell_start = Clock::now();
  if (leader_)
    spdlog::info("{} {} ({}) started{}", progress, cell.label, cell.id,
                 group_->size() > 1
                     ? fmt::format(" on group {} ({} ranks, {})", group_index_, group_->size(), group_->backend())
                     : "");
  try {
    const auto corpus_path = cell.config.str("data.corpus");
    auto corpus = corpora_.find(corpus_path);
    if (corpus == corpora_.end()) corpus = corpora_.emplace(corpus_path, store::read_corpus(corpus_path)).first;
    control_.checkpoint_path = store::checkpoint_path(options_.out_dir, cell.id);
    const auto on_epoch = [&](const EpochReport& r) {
      const auto repaired = r.repaired_steps > 0 ? fmt::format(", {} step{} with non-finite gradients set to zero",
                                                               r.repaired_steps, r.repaired_steps == 1 ? "" : "s")
                                                 : "";
      // The objective weighs every head; train and dev loss are the combined logits' cross-entropy, which compare.
      spdlog::info("{} {} epoch {}/{}: objective {:.4f}, train loss {:.4f}, dev loss {:.4f}{}, lr {:.3g}, {:.1f} s{}",
                   progress, cell.label, r.epoch, r.epochs, r.record.train_loss, r.record.train_combined_loss,
                   r.record.dev_loss, r.best ? " (best)" : "", r.record.lr, r.record.seconds, repaired);
    };
    auto result = train_cell(cell, corpus->second, on_epoch, control_);
    const double wall = std::chrono::duration<double>(Clock::now() - cell_start).count();
    result.grid = grid_.name;
    result.provenance = provenance(*group_, wall);
    if (!leader_) return;  // the group's first rank writes the result
    store::write_result(store::result_path(options_.out_dir, cell.id), result);
    std::remove(control_.checkpoint_path.c_str());
    ++trained_;

    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double per_cell = elapsed / static_cast<double>(trained_ + failed_);
    const auto left = std::max<std::int64_t>(0, total_ - k - 1);
    const int groups = world_.size() / options_.ranks_per_cell;
    const auto eta = per_cell * static_cast<double>((left + groups - 1) / groups);
    const auto& ideal = result.evals.front();
    spdlog::info("{} {} done in {}: {} micro-F1 {:.3f}, macro-F1 {:.3f}; ETA ~{}", progress, cell.label,
                 duration_text(wall), ideal.condition, ideal.micro_f1, ideal.macro_f1, duration_text(eta));
  } catch (const Preempted& e) {
    preempted_ += leader_;
    if (stop_signal_received() == SIGINT)
      spdlog::warn("{} {} (interrupted); run the same command again to resume it", progress, e.what());
    else
      spdlog::warn("{} {}; exiting with code {} so that the job is requeued", progress, e.what(), kExitPreempted);
  } catch (const std::exception& e) {
    failed_ += leader_;
    if (leader_) {
      record(cell, e.what());
      failures_.fetch_add(1);
    }
    spdlog::error("{} {} ({}) failed: {} ({})", progress, cell.label, cell.id, e.what(), after_failure(cell));
  }
}

int GridRun::run() {
  while (const auto k = next_cell()) train(*k);
  claim_.reset();
  return summary();
}

std::vector<std::string> GridRun::unfinished_cells() const {
  const auto complete = [&](const Cell& c) {
    return store::result_state(options_.out_dir, c.id, nullptr, &c.config) == store::ResultState::complete;
  };
  const auto lock_of = [&](const Cell& c) {
    return store::lock_status(store::lock_path(options_.out_dir, c.id), options_.stale_lock_seconds);
  };
  std::vector<const Cell*> left;
  for (const auto i : pending_)
    if (!complete(grid_.cells[i])) left.push_back(&grid_.cells[i]);
  // Another live launch may still complete them (an overlapping array task,
  // the ranks of a killed mpirun that have not noticed yet): wait while it holds them.
  const auto deadline = Clock::now() + std::chrono::duration<double>(options_.stale_lock_seconds);
  for (double pause = 0.5; !left.empty() && !stop_signal_received(); pause = std::min(pause * 2, 10.0)) {
    std::vector<const Cell*> held;
    for (const Cell* c : left)
      if (!complete(*c) && lock_of(*c).state == store::LockState::running) held.push_back(c);
    if (held.empty() || Clock::now() >= deadline) break;
    if (pause == 0.5) {
      std::vector<std::string> ids;
      for (const Cell* c : held) ids.push_back(c->id);
      spdlog::warn("grid '{}': waiting for {} cell(s) held by other launches, at most {} (--stale-lock): {}",
                   grid_.name, held.size(), duration_text(options_.stale_lock_seconds), fmt::join(ids, ", "));
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(pause));
  }
  std::vector<std::string> why;
  for (const Cell* c : left) {
    if (complete(*c)) continue;
    const auto lock = lock_of(*c);
    const char* state = lock.state == store::LockState::running      ? ""
                        : lock.state == store::LockState::dead_owner ? ", which ended"
                        : lock.state == store::LockState::stale      ? ", whose heartbeat stopped"
                                                                     : "";
    const auto skew = lock.skew_note(store::lock_path(options_.out_dir, c->id));
    why.push_back(lock.state == store::LockState::none
                      ? fmt::format("{} ({}): not claimed, and no one holds it now", c->id, c->label)
                      : fmt::format("{} ({}): held by {}{}{}", c->id, c->label, lock.owner(), state,
                                    skew.empty() ? "" : "; " + skew));
  }
  return why;
}

int GridRun::summary() const {
  const auto trained = world_.sum(trained_), failed = world_.sum(failed_), preempted = world_.sum(preempted_);
  // A stop that came after this launch's last cell completed leaves nothing to requeue.
  const bool all_trained = preempted == 0 && trained == total_;
  if (stop_signal_received() && all_trained && world_.rank() == 0)
    spdlog::info("grid '{}': a stop signal arrived after the last cell completed; nothing is left to requeue",
                 grid_.name);
  if (preempted || (stop_signal_received() && !all_trained)) {
    const bool interrupted = stop_signal_received() == SIGINT;
    if (world_.rank() == 0)
      spdlog::warn("grid '{}': {} after {} cells; {} checkpointed; rerun to continue (exit code {})", grid_.name,
                   interrupted ? "interrupted (Ctrl-C)" : "stopped by a signal", trained, preempted,
                   interrupted ? kExitInterrupted : kExitPreempted);
    return interrupted ? kExitInterrupted : kExitPreempted;
  }
  // Every rank returns rank 0's code: it alone checks what is left.
  std::vector<std::int64_t> code{failed ? 1 : 0};
  if (world_.rank() == 0) {
    const auto elapsed = duration_text(std::chrono::duration<double>(Clock::now() - start_).count());
    if (failed) {
      spdlog::error("grid '{}': {} of {} cells trained, {} failed, in {}{}", grid_.name, trained, total_, failed,
                    elapsed,
                    options_.fail_fast > 0 && failed >= options_.fail_fast ? " (stopped early: --fail-fast)" : "");
    } else if (const auto left = unfinished_cells(); !left.empty()) {
      code[0] = stop_signal_received() == SIGINT ? kExitInterrupted
                : stop_signal_received()         ? kExitPreempted
                                                 : kExitUnclaimed;
      spdlog::error(
          "grid '{}': {} of {} cells trained in {}; {} cell(s) could not be claimed and are not complete: "
          "{}{}; rerun when their holders have ended to train them (exit code {})",
          grid_.name, trained, total_, elapsed, left.size(),
          fmt::join(left.begin(), left.begin() + std::min<std::size_t>(left.size(), 5), "; "),
          left.size() > 5 ? fmt::format("; and {} more", left.size() - 5) : "", code[0]);
    } else if (trained < total_) {
      spdlog::info("grid '{}': all {} cells complete, {} trained here in {} and {} by other launches; results in {}",
                   grid_.name, total_, trained, elapsed, total_ - trained, options_.out_dir);
    } else {
      spdlog::info("grid '{}': all {} cells trained in {}; results in {}", grid_.name, trained, elapsed,
                   options_.out_dir);
    }
  }
  world_.broadcast(code);
  return static_cast<int>(code[0]);
}

// LibTorch's threads, and OpenBLAS's where LibTorch's BLAS is OpenBLAS: its
// pthread build keeps a pool of its own that set_num_threads does not reach
// (its OpenMP build and MKL follow OpenMP's count), so ranks sharing a node
// would each start one per core.
void set_threads(int threads) {
  torch::set_num_threads(threads);
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set_blas(threads);
}

}  // namespace

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

int run_grid(const Grid& grid, const RunOptions& options, dist::World& world) {
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world.local_size());
  set_threads(threads);

  // Rank 0 plans and validates; the others follow its decision. A device it
  // cannot have is refused first: a refused launch records no planned cells.
  Schedule s;
  std::string error;
  if (world.rank() == 0) {
    try {
      resolve_device(options.device);
      s = schedule(grid, options);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  world.broadcast(error);
  if (!error.empty()) {
    if (world.rank() == 0) spdlog::error("{}", error);
    return 1;
  }
  world.broadcast(s.pending);
  std::vector<std::int64_t> given_up{s.given_up};
  world.broadcast(given_up);
  int code = 0;
  if (s.pending.empty()) {
    if (world.rank() == 0)
      spdlog::info("grid '{}': nothing to train, {} of {} cells are complete in {}", grid.name, s.complete,
                   grid.cells.size(), options.out_dir);
  } else {
    if (world.rank() == 0)
      spdlog::info("grid '{}': {} cells, {} complete, {} to train on {} rank(s) x {} thread(s)", grid.name,
                   grid.cells.size(), s.complete, s.pending.size(), world.size(), threads);
    code = GridRun(grid, options, world, std::move(s.pending), threads).run();
  }
  // Given-up cells are failed cells: the grid is not complete, so no success.
  if (code == 0 && given_up[0] > 0) {
    if (world.rank() == 0)
      spdlog::error("grid '{}': {} cell(s) are given up after {} failed attempts and have no result (--retry-failed)",
                    grid.name, given_up[0], options.max_attempts);
    return 1;
  }
  return code;
}

}  // namespace auxgrid::train
