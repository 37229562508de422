#include "auxgrid/core/main.hpp"

#include <csignal>
#include <exception>
#include <iostream>

namespace auxgrid {

int run_command(const std::string& program, const std::function<int()>& command) {
  // A file-size limit (ulimit -f, a quota) then fails the write with EFBIG,
  // which auxgrid reports and recovers from, instead of killing the process
  // in the middle of a file.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return command();
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace auxgrid
