#pragma once
#include <string>

namespace auxgrid {
std::string version();     // the project version, from CMake
std::string git_commit();  // of the source tree at build time, or "unknown"
std::string git_dirty();   // "true" when it had uncommitted changes, "false", or "unknown"
}  // namespace auxgrid
