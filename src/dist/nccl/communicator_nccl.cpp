// The "nccl" communicator: device buffers over NCCL, host values over the
// group's MPI communicator. CMake compiles this file only with AUXGRID_WITH_NCCL.
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "auxgrid/core/check.hpp"
#include "../mpi_support.hpp"
#include "auxgrid/dist/communicator.hpp"
#include "auxgrid/dist/device.hpp"

// ncclAvg came in 2.10, ncclGetLastError in 2.13.
static_assert(NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0), "the nccl communicator needs NCCL 2.13 or later");

namespace auxgrid::dist {

namespace {

// Empty when the call succeeded, else the message to throw.
std::string cuda_error(cudaError_t code, std::string_view call) {
  return code == cudaSuccess ? std::string() : fmt::format("{} failed: {}", call, cudaGetErrorString(code));
}

std::string nccl_error(ncclResult_t code, std::string_view call, ncclComm_t comm = nullptr) {
  if (code == ncclSuccess) return {};
  // The last error names the cause ("Duplicate GPU detected ..."), the code only its kind.
  const char* detail = ncclGetLastError(comm);
  return detail && *detail ? fmt::format("{} failed: {} ({})", call, ncclGetErrorString(code), detail)
                           : fmt::format("{} failed: {}", call, ncclGetErrorString(code));
}

void check_cuda(cudaError_t code, std::string_view call) {
  if (code != cudaSuccess) AUXGRID_FAIL("{}", cuda_error(code, call));
}

void check_nccl(ncclResult_t code, std::string_view call, ncclComm_t comm = nullptr) {
  if (code != ncclSuccess) AUXGRID_FAIL("{}", nccl_error(code, call, comm));
}

struct NcclCommDestroy {
  void operator()(ncclComm_t comm) const { ncclCommDestroy(comm); }
};
struct StreamDestroy {
  void operator()(cudaStream_t stream) const { cudaStreamDestroy(stream); }
};

class NcclCommunicator : public MpiGroupCommunicator {
 public:
  explicit NcclCommunicator(int color) : MpiGroupCommunicator(color) {
    // ncclCommInitRank waits for every rank of the group: agree first that all
    // found their GPU (and rank 0 made the id), so one rank's failure ends
    // every rank with an error instead of leaving the others waiting.
    int devices = 0;
    std::string error = cuda_error(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    if (error.empty()) {
      device_ = local_device_index(devices);
      error = cuda_error(cudaSetDevice(device_), fmt::format("cudaSetDevice({})", device_));
    }
    ncclUniqueId id{};
    if (error.empty() && group_.rank == 0) error = nccl_error(ncclGetUniqueId(&id), "ncclGetUniqueId");
    int all_ok = error.empty();
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &all_ok, 1, MPI_INT, MPI_MIN, group_.comm), "MPI_Allreduce");
    AUXGRID_CHECK(error.empty(), "nccl communicator of group {}: {}", color, error);
    AUXGRID_CHECK(all_ok, "nccl communicator of group {}: another rank of the group failed to set up its GPU", color);

    check_mpi(MPI_Bcast(&id, static_cast<int>(sizeof id), MPI_BYTE, 0, group_.comm), "MPI_Bcast");
    ncclComm_t comm = nullptr;
    check_nccl(ncclCommInitRank(&comm, group_.size, id, group_.rank), "ncclCommInitRank");
    nccl_.reset(comm);
    cudaStream_t stream = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    stream_.reset(stream);
  }

  std::string backend() const override { return "nccl"; }
  bool takes_device_memory() const override { return true; }

  void allreduce_sum(float* data, std::size_t count) override {
    begin();
    check_nccl(ncclAllReduce(data, data, count, ncclFloat, ncclSum, nccl_.get(), stream_.get()), "ncclAllReduce",
               nccl_.get());
    finish("ncclAllReduce");
  }
  void broadcast(float* data, std::size_t count, int root) override {
    begin();
    check_nccl(ncclBroadcast(data, data, count, ncclFloat, root, nccl_.get(), stream_.get()), "ncclBroadcast",
               nccl_.get());
    finish("ncclBroadcast");
  }

 private:
  // The buffer may have been written on any stream of the caller: wait for the
  // whole device so the collective reads finished values. The current device
  // is per thread, and the caller's thread may not be the constructor's.
  void begin() {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (before a collective)");
  }
  // Synchronous like the MPI backend: the result is ready when the call returns.
  void finish(std::string_view call) {
    check_cuda(cudaStreamSynchronize(stream_.get()), fmt::format("cudaStreamSynchronize after {}", call));
  }

  // Declaration order is destruction order reversed: NCCL, then the stream, then MPI.
  int device_ = 0;
  std::unique_ptr<std::remove_pointer_t<cudaStream_t>, StreamDestroy> stream_;
  std::unique_ptr<std::remove_pointer_t<ncclComm_t>, NcclCommDestroy> nccl_;
};

}  // namespace

AUXGRID_REGISTER_COMMUNICATOR("nccl", [](const World&, int color) -> std::unique_ptr<Communicator> {
  return std::make_unique<NcclCommunicator>(color);
});

}  // namespace auxgrid::dist
