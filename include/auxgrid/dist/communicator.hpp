#pragma once
// The ranks that train one cell together ("a group") and how they talk:
// gradients are summed in place on the device where they live (MPI on CPUs,
// NCCL on GPUs); small host values (the claimed cell, metrics) go over MPI.
// Backends are source files that CMake compiles in or not (NCCL only with
// AUXGRID_WITH_NCCL); each registers itself by name.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auxgrid/core/registry.hpp"
#include "auxgrid/dist/world.hpp"

namespace auxgrid::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string backend() const = 0;
  virtual int rank() const = 0;  // within the group
  virtual int size() const = 0;
  // Whether allreduce_sum and broadcast take device (GPU) memory; otherwise
  // they take host memory, and a caller stages device tensors through it.
  virtual bool takes_device_memory() const { return false; }

  // In place: every rank ends with the element-wise sum over the group.
  // `data` is on the backend's device (takes_device_memory()).
  virtual void allreduce_sum(float* data, std::size_t count) = 0;
  // In place: every rank ends with root's values (device memory as above).
  virtual void broadcast(float* data, std::size_t count, int root) = 0;
  // Host values, whatever the backend.
  virtual void broadcast_host(std::int64_t* data, std::size_t count, int root) = 0;
  virtual void allreduce_sum_host(double* data, std::size_t count) = 0;
  virtual void barrier() = 0;
};

// Splits the world into groups of `ranks_per_cell` consecutive ranks (the
// world size must be a multiple) and returns this rank's group communicator.
// backend: "local" (one rank), "mpi", "nccl" (if built), or "auto" (nccl for
// cuda devices when built, mpi when the group has several ranks, else local).
// `group_index` receives which group this rank is in.
std::unique_ptr<Communicator> make_group_communicator(const World& world, int ranks_per_cell,
                                                      const std::string& backend, bool cuda_device,
                                                      int* group_index = nullptr);

// A backend factory: builds the communicator of the group `color` of the world.
using CommunicatorFactory = std::function<std::unique_ptr<Communicator>(const World& world, int color)>;
Registry<CommunicatorFactory>& communicator_backends();

}  // namespace auxgrid::dist

#define AUXGRID_REGISTER_COMMUNICATOR(name, factory) \
  static const bool AUXGRID_REGISTERED = ::auxgrid::dist::communicator_backends().queue(name, factory)
