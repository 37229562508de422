#pragma once
// The executables' one catch policy: library code throws (AUXGRID_CHECK), and
// only a main catches, through run_command.
#include <functional>
#include <string>

namespace auxgrid {

// Returns command()'s exit code; for any exception, prints
// "PROGRAM: error: MESSAGE" to stderr (an auxgrid::Error's message names the
// file, cell or key) and returns 1. SIGXFSZ is ignored: a write past a file
// size limit fails with "File too large" instead of killing the process.
int run_command(const std::string& program, const std::function<int()>& command);

}  // namespace auxgrid
