#include "auxgrid/dist/communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "mpi_support.hpp"

namespace auxgrid::dist {

Registry<CommunicatorFactory>& communicator_backends() {
  static Registry<CommunicatorFactory> registry("communicator backend");
  return registry;
}

std::unique_ptr<Communicator> make_group_communicator(const World& world, int ranks_per_cell,
                                                      const std::string& backend, bool cuda_device, int* group_index) {
  AUXGRID_CHECK(ranks_per_cell >= 1 && world.size() % ranks_per_cell == 0,
                "--ranks-per-cell {} does not divide the {} ranks of this launch", ranks_per_cell, world.size());
  const int color = world.rank() / ranks_per_cell;
  if (group_index) *group_index = color;
  std::string name = backend;
  if (name == "auto") {
    const bool nccl_built = communicator_backends().contains("nccl");
    name = ranks_per_cell == 1 ? "local" : cuda_device && nccl_built ? "nccl" : "mpi";
  }
  AUXGRID_CHECK(name != "local" || ranks_per_cell == 1, "the local communicator serves one rank per cell, not {}",
                ranks_per_cell);
  AUXGRID_CHECK(name == "local" || world.uses_mpi(), "the '{}' communicator needs a launch under mpirun or srun", name);
  return communicator_backends().get(name)(world, color);
}

namespace {

// One rank: every collective is the identity.
class LocalCommunicator : public Communicator {
 public:
  std::string backend() const override { return "local"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(float*, std::size_t) override {}
  void broadcast(float*, std::size_t, int) override {}
  void broadcast_host(std::int64_t*, std::size_t, int) override {}
  void allreduce_sum_host(double*, std::size_t) override {}
  void barrier() override {}
};

// Host memory over MPI; counts above INT_MAX are sent in pieces.
class MpiCommunicator : public MpiGroupCommunicator {
 public:
  explicit MpiCommunicator(int color) : MpiGroupCommunicator(color) {}
  std::string backend() const override { return "mpi"; }

  void allreduce_sum(float* data, std::size_t count) override {
    for_pieces(count, [&](std::size_t offset, int n) {
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, data + offset, n, MPI_FLOAT, MPI_SUM, group_.comm), "MPI_Allreduce");
    });
  }
  void broadcast(float* data, std::size_t count, int root) override {
    for_pieces(count, [&](std::size_t offset, int n) {
      check_mpi(MPI_Bcast(data + offset, n, MPI_FLOAT, root, group_.comm), "MPI_Bcast");
    });
  }

 private:
  template <typename Fn>
  static void for_pieces(std::size_t count, Fn&& fn) {
    constexpr std::size_t piece = 1u << 30;
    for (std::size_t offset = 0; offset < count; offset += piece)
      fn(offset, static_cast<int>(std::min(piece, count - offset)));
  }
};

}  // namespace

AUXGRID_REGISTER_COMMUNICATOR("local", [](const World&, int) -> std::unique_ptr<Communicator> {
  return std::make_unique<LocalCommunicator>();
});
AUXGRID_REGISTER_COMMUNICATOR("mpi", [](const World&, int color) -> std::unique_ptr<Communicator> {
  return std::make_unique<MpiCommunicator>(color);
});

}  // namespace auxgrid::dist
