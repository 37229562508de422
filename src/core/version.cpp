#include "auxgrid/core/version.hpp"

namespace auxgrid {
std::string version() { return AUXGRID_VERSION; }
}  // namespace auxgrid
