#include "auxgrid/core/main.hpp"

#include <exception>
#include <iostream>

namespace auxgrid {

int run_command(const std::string& program, const std::function<int()>& command) {
  try {
    return command();
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace auxgrid
