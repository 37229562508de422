#include "auxgrid/dist/device.hpp"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

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

namespace {

// The value of the first "key: value" line of `path` whose key starts with `key`.
std::string proc_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (line.rfind(key, 0) != 0 || colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

}  // namespace

std::string device_name(const std::string& device) {
  if (device == "cpu") {
    const std::string model = proc_value("/proc/cpuinfo", "model name");
    return model.empty() ? device : "CPU: " + model;
  }
  if (device.rfind("cuda:", 0) == 0) {
    // /proc/driver/nvidia/gpus/<bus id>/information, in bus order (= CUDA's default order).
    std::set<std::string> gpus;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/driver/nvidia/gpus", ec), end; !ec && it != end;
         it.increment(ec))
      gpus.insert(it->path().string());
    const auto index = static_cast<std::size_t>(std::atoi(device.c_str() + 5));
    if (index < gpus.size()) {
      const std::string model =
          proc_value(*std::next(gpus.begin(), static_cast<long>(index)) + "/information", "Model");
      if (!model.empty()) return "GPU: " + model;
    }
  }
  return device;
}

}  // namespace auxgrid::dist
