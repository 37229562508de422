#include "auxgrid/models/kernels.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/mul.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace auxgrid::models {

namespace {

Kernels initial_kernels() {
  const char* env = std::getenv("AUXGRID_KERNELS");
  return env && std::strcmp(env, "plain") == 0 ? Kernels::plain : Kernels::fast;
}

std::atomic<Kernels>& current() {
  static std::atomic<Kernels> k{initial_kernels()};
  return k;
}

// SplitMix64's output function: a good 64-bit hash of a counter.
inline std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get<at::CPUGeneratorImpl>()->random64();
}

}  // namespace

Kernels kernels() { return current().load(std::memory_order_relaxed); }
void set_kernels(Kernels k) { current().store(k, std::memory_order_relaxed); }

at::Tensor dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  if (kernels() == Kernels::plain || !x.device().is_cpu() || x.scalar_type() != at::kFloat)
    return at::dropout(x, p, training);
  // mask = 1 / (1 - p) where kept, 0 where dropped; two 32-bit draws per hash.
  const std::uint64_t seed = mix(draw_seed());
  const auto threshold = static_cast<std::uint32_t>(p * 4294967296.0);
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  at::Tensor mask = at::empty_like(x, at::MemoryFormat::Contiguous);
  float* m = mask.data_ptr<float>();
  const std::int64_t n = mask.numel(), pairs = (n + 1) / 2;
  at::parallel_for(0, pairs, 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(i) * 0x9e3779b97f4a7c15ULL);
      m[2 * i] = static_cast<std::uint32_t>(r) >= threshold ? scale : 0.0f;
      if (2 * i + 1 < n) m[2 * i + 1] = static_cast<std::uint32_t>(r >> 32) >= threshold ? scale : 0.0f;
    }
  });
  return at::mul(x, mask);
}

}  // namespace auxgrid::models
