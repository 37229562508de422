#pragma once
// Which GPU this rank uses: its rank on this node modulo the devices it sees,
// so ranks that share a node spread over its GPUs. Host-only (no CUDA): the
// caller counts the devices (cudaGetDeviceCount, torch::cuda::device_count).

#include <string>

namespace auxgrid::dist {

// The launcher's node-local rank (OMPI_COMM_WORLD_LOCAL_RANK, else
// SLURM_LOCALID), or 0 when started without one.
int local_rank();

// local_rank() % device_count; device_count must be at least 1.
int local_device_index(int device_count);

// What a result's timings were measured on, for Table 5: the CPU model for
// "cpu" (from /proc/cpuinfo), the GPU model for "cuda:K" (from the NVIDIA
// driver's /proc entries), else the device string itself.
std::string device_name(const std::string& device);

}  // namespace auxgrid::dist
