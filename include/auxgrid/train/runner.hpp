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
#include "auxgrid/train/plan.hpp"

namespace auxgrid::train {

struct RunOptions {
  std::string out_dir;
  std::string command_line;  // recorded in every result's provenance
  int threads = 0;           // torch intra-op threads per rank; 0 = cores / ranks on this node
  Verbosity verbosity = Verbosity::normal;
  // Ranks that train one cell together (data parallel); must divide the world.
  int ranks_per_cell = 1;
  std::string device = "auto";  // auto (a GPU when there is one), cpu or cuda
  // SLURM arrays: this launch runs shard `shard` of `shards` (cost-balanced).
  int shard = 0, shards = 1;
  // A cell's lock whose heartbeat is older than this is taken over.
  double stale_lock_seconds = 600;
  int max_attempts = 3;         // failed attempts after which a cell is given up
  bool retry_failed = false;    // run given-up cells again
  int fail_fast = 0;            // stop claiming cells after this many failures in this launch (0 = never)
  double watchdog_seconds = 0;  // abort when no step completes for this long (0 = off)
};

// The exit code of a launch stopped by SIGUSR1/SIGTERM after checkpointing:
// the batch script requeues the job on it (slurm/array.sbatch).
inline constexpr int kExitPreempted = 3;
// The exit code of a launch stopped by Ctrl-C (SIGINT) after checkpointing: the shell's 128 + 2.
inline constexpr int kExitInterrupted = 130;
// The exit code of a launch that the watchdog aborted (see RunOptions::watchdog_seconds).
inline constexpr int kExitStalled = 4;
// The exit code of a launch that ended with cells it could not claim and that
// are not complete: held by another launch past the wait (at most
// RunOptions::stale_lock_seconds), or left by a holder that ended (the ranks
// of a killed mpirun). A rerun trains them; never 0 with the grid incomplete.
inline constexpr int kExitUnclaimed = 5;

// "cpu" or "cuda:<node-local rank % GPUs>" for --device auto|cpu|cuda; an
// error for cuda where no GPU is usable.
std::string resolve_device(const std::string& requested);

// Runs every pending cell of the grid on the ranks of `world`. Returns the
// process exit code: 0 when every cell is complete, 1 when a cell failed (a
// write that failed included: an error record names the path and the reason),
// kExitPreempted when a signal stopped it (the cells in training checkpointed),
// kExitUnclaimed when cells held by other launches are still not complete.
int run_grid(const Grid& grid, const RunOptions& options, dist::World& world);

}  // namespace auxgrid::train
