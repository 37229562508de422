#pragma once
// Private to the dist library: MPI error checks and a group's sub-communicator,
// shared by the world, the MPI backend and the NCCL backend.
#include <mpi.h>

#include <cstdint>
#include <string>

#include "auxgrid/core/check.hpp"
#include "auxgrid/dist/communicator.hpp"

namespace auxgrid::dist {

// Throws naming the call and MPI's own text for the error.
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  AUXGRID_FAIL("{} failed: {}", call, std::string(text, length));
}

// The ranks of MPI_COMM_WORLD with the same color, in world order; freed on
// destruction unless MPI is already finalized.
struct MpiGroup {
  explicit MpiGroup(int color) {
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    check_mpi(MPI_Comm_split(MPI_COMM_WORLD, color, world_rank, &comm), "MPI_Comm_split");
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  ~MpiGroup() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm);
  }
  MpiGroup(const MpiGroup&) = delete;
  MpiGroup& operator=(const MpiGroup&) = delete;

  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
};

// A communicator over an MPI group: the host collectives (small values: the
// claimed cell, losses, stop flags) go over MPI whatever the backend moves
// the gradients with (the MPI and NCCL backends derive from it).
class MpiGroupCommunicator : public Communicator {
 public:
  explicit MpiGroupCommunicator(int color) : group_(color) {}
  int rank() const override { return group_.rank; }
  int size() const override { return group_.size; }
  void broadcast_host(std::int64_t* data, std::size_t count, int root) override {
    check_mpi(MPI_Bcast(data, static_cast<int>(count), MPI_INT64_T, root, group_.comm), "MPI_Bcast");
  }
  void allreduce_sum_host(double* data, std::size_t count) override {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, group_.comm),
              "MPI_Allreduce");
  }
  void barrier() override { check_mpi(MPI_Barrier(group_.comm), "MPI_Barrier"); }

 protected:
  MpiGroup group_;
};

}  // namespace auxgrid::dist
