#pragma once
// Dropout's random bits, shared by kernels.cpp and attention_cpu.cpp: element
// i of a tensor is kept when a 32-bit hash of (seed, i) is at least p * 2^32.
// A counter-based hash, so any thread can draw any element, in any order, and
// backward recomputes the forward's mask from the seed alone.
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>

namespace auxgrid::kernels {

// A seed from LibTorch's default CPU generator (torch::manual_seed and its
// saved state reproduce it).
std::uint64_t draw_seed();

// The hash that decides element i: a Weyl step (i + seed_lo times an odd
// constant), seed_hi mixed in, then MurmurHash3's finaliser without its last
// shift, which changes only the low bits: elements are dropped by comparing
// the high ones. 32-bit multiplies only, so it vectorises everywhere; for a
// uint32 or a vector of them (GCC's vector extension, vectors.hpp). It costs
// half the two full finaliser rounds it replaced, with the same drop rates
// and no correlation between neighbours or seeds found at 4M elements.
template <class Uint32>
inline Uint32 dropout_hash(Uint32 index_plus_seed_lo, std::uint32_t seed_hi) {
  Uint32 h = index_plus_seed_lo * 0x9e3779b1u ^ seed_hi;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  return h;
}

struct DropoutBits {
  std::uint32_t seed_lo = 0, seed_hi = 0, threshold = 0;
  float scale = 1;  // 1 / (1 - p)
  double p = 0;

  DropoutBits(std::uint64_t seed, double p_)
      : seed_lo(static_cast<std::uint32_t>(seed)),
        seed_hi(static_cast<std::uint32_t>(seed >> 32)),
        threshold(static_cast<std::uint32_t>(p_ * 4294967296.0)),
        scale(static_cast<float>(1.0 / (1.0 - p_))),
        p(p_) {}

  // scale where element i (modulo 2^32) is kept, 0 where it is dropped.
  float keep(std::uint32_t i) const { return dropout_hash(i + seed_lo, seed_hi) >= threshold ? scale : 0.0f; }
};

// Custom autograd functions keep their dropout as (p, seed) and draw the same
// mask again in backward.
inline void save_dropout(torch::autograd::AutogradContext* ctx, double p, std::int64_t seed) {
  ctx->saved_data["p"] = p;
  ctx->saved_data["seed"] = seed;
}
inline DropoutBits saved_dropout(torch::autograd::AutogradContext* ctx) {
  return {static_cast<std::uint64_t>(ctx->saved_data["seed"].toInt()), ctx->saved_data["p"].toDouble()};
}

}  // namespace auxgrid::kernels
