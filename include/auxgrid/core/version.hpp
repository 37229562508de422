#pragma once
// What a result records about where and when it was made (provenance).
#include <string>

namespace auxgrid {
std::string version();     // the project version, from CMake
std::string git_commit();  // of the source tree at build time, or "unknown"
std::string git_dirty();   // "true" when it had uncommitted changes, "false", or "unknown"
std::string host_name();   // this machine's
std::string utc_now();     // ISO 8601, e.g. 2026-12-05T07:24:05Z
}  // namespace auxgrid
