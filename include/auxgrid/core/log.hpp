#pragma once
// Logging set-up shared by every executable: a console logger whose level
// follows --quiet / --verbose and whose lines carry the MPI rank when > 1.
#include <spdlog/spdlog.h>

namespace auxgrid {

enum class Verbosity { quiet, normal, verbose };

void setup_logging(Verbosity verbosity, int rank = 0, int world_size = 1);

}  // namespace auxgrid
