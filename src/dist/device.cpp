#include "auxgrid/dist/device.hpp"

#include <cerrno>
#include <cstdlib>

#include "auxgrid/core/check.hpp"

namespace auxgrid::dist {

int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}) {
    const char* text = std::getenv(var);
    if (!text) continue;
    // A malformed value would silently put every rank on device 0: refuse it.
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text, &end, 10);
    AUXGRID_CHECK(end != text && *end == '\0' && errno == 0 && value >= 0 && value <= 1 << 20,
                  "{}='{}' is not a node-local rank", var, text);
    return static_cast<int>(value);
  }
  return 0;
}

int local_device_index(int device_count) {
  AUXGRID_CHECK(device_count >= 1, "no GPU is visible to this rank (device count {})", device_count);
  return local_rank() % device_count;
}

}  // namespace auxgrid::dist
