#pragma once
// Running a grid: plan (what is done, what is pending, is every pending cell
// valid), then ranks claim pending cells from a shared counter, longest first,
// train them and write one result file per cell.
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
  double cost = 0;      // relative: parameters x frames x epochs
};

struct Plan {
  std::vector<PlannedCell> cells;  // grid order
  std::vector<PlannedCell> pending;  // to run, longest first
  std::size_t complete = 0;
};

// Checks every cell whose result is not complete before anything is trained:
// known model, valid settings, a readable corpus whose feature widths match.
// Throws one error naming the cell, the key and the file.
Plan make_plan(const Grid& grid, const std::string& out_dir);

struct RunOptions {
  std::string out_dir;
  int threads = 0;  // torch intra-op threads per rank; 0 = cores / ranks on this node
  Verbosity verbosity = Verbosity::normal;
};

// Runs every pending cell of the grid on the ranks of `world`. Returns the
// process exit code: 0 when every cell is complete, 1 when a cell failed.
int run_grid(const Grid& grid, const RunOptions& options, dist::World& world);

}  // namespace auxgrid::train
