#pragma once
// Private to the dist library: MPI error checks and a group's sub-communicator,
// shared by the world, the MPI backend and the NCCL backend.
#include <mpi.h>

#include <string>

#include "auxgrid/core/check.hpp"

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

}  // namespace auxgrid::dist
