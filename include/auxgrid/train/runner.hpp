#pragma once
// Running a grid: plan (what is done, what is pending, is every pending cell
// valid), then ranks claim pending cells from a shared counter, longest first,
// train them and write one result file per cell.
#include <map>
#include <string>
#include <vector>

#include "auxgrid/core/grid.hpp"
#include "auxgrid/core/log.hpp"
#include "auxgrid/dist/world.hpp"
#include "auxgrid/store/result_file.hpp"

namespace auxgrid::train {

struct PlannedCell {
  const Cell* cell = nullptr;
  store::ResultState state = store::ResultState::missing;
  std::string why;      // why an existing file is not complete
  std::string problem;  // why this cell cannot run (empty = valid)
  int attempts = 0;     // failed attempts so far (DIR/errors/<id>.log)
  bool given_up = false;  // attempts >= the maximum: not run unless retried
  double flops = 0;     // estimated training work: 6 x parameters x training frames x epochs
};

struct Plan {
  std::vector<PlannedCell> cells;    // grid order
  std::vector<PlannedCell> pending;  // valid cells to run, longest first
  std::size_t complete = 0;
  std::size_t invalid = 0;
  std::size_t given_up = 0;
  double pending_flops = 0;
  // "cell '<label>' (<id>): <problem>" for the first invalid cells.
  std::vector<std::string> problems;
  // Distinct problems with the number of cells that have each.
  std::map<std::string, std::size_t> problem_counts;
};

// Checks every cell whose result is not complete before anything is trained:
// known model, valid settings, a readable corpus whose feature widths match.
// Problems are collected, not thrown (see throw_if_invalid). A cell that has
// failed max_attempts times is given up (not pending) unless retry_failed.
Plan make_plan(const Grid& grid, const std::string& out_dir, int max_attempts = 3, bool retry_failed = false);
// One error naming the grid file, the first invalid cells, the key and the file.
void throw_if_invalid(const Plan& plan, const Grid& grid);

struct RunOptions {
  std::string out_dir;
  std::string command_line;  // recorded in every result's provenance
  int threads = 0;  // torch intra-op threads per rank; 0 = cores / ranks on this node
  Verbosity verbosity = Verbosity::normal;
  // Ranks that train one cell together (data parallel); must divide the world.
  int ranks_per_cell = 1;
  std::string device = "auto";  // auto (a GPU when there is one), cpu or cuda
  // SLURM arrays: this launch runs shard `shard` of `shards` (cost-balanced).
  int shard = 0, shards = 1;
  // A cell's lock whose heartbeat is older than this is taken over.
  double stale_lock_seconds = 600;
  int max_attempts = 3;       // failed attempts after which a cell is given up
  bool retry_failed = false;  // run given-up cells again
  int fail_fast = 0;          // stop claiming cells after this many failures in this launch (0 = never)
  double watchdog_seconds = 0;  // abort when no step completes for this long (0 = off)
};

// Splits cells (longest first) into `shards` lists of about equal total
// work: each cell goes to the shard with the least work so far.
std::vector<std::vector<std::size_t>> balanced_shards(const std::vector<double>& costs, int shards);

// The exit code of a launch stopped by SIGUSR1/SIGTERM after checkpointing:
// the batch script requeues the job on it (slurm/array.sbatch).
inline constexpr int kExitPreempted = 3;
// The exit code of a launch that the watchdog aborted (see RunOptions::watchdog_seconds).
inline constexpr int kExitStalled = 4;

// DIR/checkpoints/<cell id>.pt: the restart point of a cell in training.
std::string checkpoint_path(const std::string& out_dir, const std::string& cell_id);
// DIR/errors/<cell id>.log: one line per failed attempt (time, host, rank, attempt, message).
std::string error_log_path(const std::string& out_dir, const std::string& cell_id);
int failed_attempts(const std::string& out_dir, const std::string& cell_id);

// "cpu" or "cuda:<node-local rank % GPUs>" for --device auto|cpu|cuda; an
// error for cuda where no GPU is usable.
std::string resolve_device(const std::string& requested);

// Runs every pending cell of the grid on the ranks of `world`. Returns the
// process exit code: 0 when every cell is complete, 1 when a cell failed,
// kExitPreempted when a signal stopped it (the cells in training checkpointed).
int run_grid(const Grid& grid, const RunOptions& options, dist::World& world);

}  // namespace auxgrid::train
