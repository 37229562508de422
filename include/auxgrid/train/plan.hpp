#pragma once
// Planning a grid: which cells are done, which are pending and valid, and
// how pending cells are spread over the tasks of a SLURM array. Nothing here
// trains; every problem is found before anything does.
#include <map>
#include <string>
#include <vector>

#include "auxgrid/core/grid.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/result_file.hpp"

namespace auxgrid::train {

struct PlannedCell {
  const Cell* cell = nullptr;
  store::ResultState state = store::ResultState::missing;
  std::string why;        // why an existing file is not complete
  std::string problem;    // why this cell cannot run (empty = valid)
  int attempts = 0;       // failed attempts so far (store::failed_attempts)
  bool given_up = false;  // attempts >= the maximum: not run unless retried
  double flops = 0;       // estimated training work: 6 x parameters x training frames x epochs
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
  // Things that do not stop a cell but make its numbers suspect (a class with
  // no test utterances in a trial's split), one line each, once per corpus and split.
  std::vector<std::string> warnings;
};

// Checks every cell whose result is not complete before anything is trained:
// known model, valid settings, a readable corpus whose feature widths match,
// whose contents are sound (store::validate_corpus_file, once per corpus file
// and process) and whose split for the cell's seed is possible; a class with
// no test (or training) utterances in that split is a warning.
// Problems are collected, not thrown (see throw_if_invalid). A cell that has
// failed max_attempts times is given up (not pending) unless retry_failed.
Plan make_plan(const Grid& grid, const std::string& out_dir, int max_attempts = 3, bool retry_failed = false);
// One error naming the grid file, the first invalid cells, the key and the file.
void throw_if_invalid(const Plan& plan, const Grid& grid);

// Splits cells (longest first) into `shards` lists of about equal total
// work: each cell goes to the shard with the least work so far.
std::vector<std::vector<std::size_t>> balanced_shards(const std::vector<double>& costs, int shards);

// The cells for the results directory's manifest, with each corpus's name as
// its file records it (the file stem when the file cannot be read).
std::vector<store::ManifestCell> manifest_cells(const Grid& grid);

}  // namespace auxgrid::train
