#include "auxgrid/models/kernels.hpp"

#include "random_bits.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <torch/csrc/autograd/custom_function.h>

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

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define AUXGRID_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AUXGRID_VECTOR_CLONES
#endif

AUXGRID_VECTOR_CLONES
void fill_mask(float* m, std::int64_t begin, std::int64_t end, const DropoutBits bits) {
  for (std::int64_t i = begin; i < end; ++i) m[i] = bits.keep(static_cast<std::uint32_t>(i));
}

// out[i] = x[i] * keep(i): the mask is never stored.
AUXGRID_VECTOR_CLONES
void masked_copy(const float* x, float* out, std::int64_t begin, std::int64_t end, const DropoutBits bits) {
  for (std::int64_t i = begin; i < end; ++i) out[i] = x[i] * bits.keep(static_cast<std::uint32_t>(i));
}

at::Tensor apply_mask(const at::Tensor& x, const DropoutBits& bits) {
  const auto in = x.contiguous();
  auto out = at::empty_like(in);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, in.numel(), 1 << 14,
                   [&](std::int64_t begin, std::int64_t end) { masked_copy(src, dst, begin, end, bits); });
  return out;
}

// Dropout whose backward recomputes the mask from the seed instead of saving it.
class Dropout : public torch::autograd::Function<Dropout> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double p, std::int64_t seed) {
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = seed;
    return apply_mask(x, DropoutBits(static_cast<std::uint64_t>(seed), p));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const DropoutBits bits(static_cast<std::uint64_t>(ctx->saved_data["seed"].toInt()), ctx->saved_data["p"].toDouble());
    return {apply_mask(grads[0], bits), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::uint64_t draw_seed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get<at::CPUGeneratorImpl>()->random64();
}

Kernels kernels() { return current().load(std::memory_order_relaxed); }
void set_kernels(Kernels k) { current().store(k, std::memory_order_relaxed); }

at::Tensor dropout_mask(std::uint64_t seed, at::IntArrayRef shape, double p) {
  const DropoutBits bits(seed, p);
  at::Tensor mask = at::empty(shape, at::kFloat);
  float* m = mask.data_ptr<float>();
  at::parallel_for(0, mask.numel(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    fill_mask(m, begin, end, bits);
  });
  return mask;
}

at::Tensor dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  if (kernels() == Kernels::plain || !x.device().is_cpu() || x.scalar_type() != at::kFloat)
    return at::dropout(x, p, training);
  return Dropout::apply(x, p, static_cast<std::int64_t>(draw_seed()));
}

}  // namespace auxgrid::models
