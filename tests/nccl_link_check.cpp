// Built only with AUXGRID_WITH_NCCL (see tests/nccl_build.sh): proves that the
// NCCL backend compiled, linked and registered itself. It only lists the
// backends and makes no CUDA call, so it runs on machines without a GPU.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "auxgrid/dist/communicator.hpp"

int main() {
  const auto& backends = auxgrid::dist::communicator_backends();
  fmt::print("communicator backends: {}\n", fmt::join(backends.names(), ", "));
  if (backends.contains("nccl")) return 0;
  fmt::print(stderr, "the nccl backend is not registered (was auxgrid_dist linked whole-archive?)\n");
  return 1;
}
