#pragma once
// Vector code for the CPU kernels (kernels.cpp, attention_cpu.cpp): 16 floats
// through GCC's vector extension, built by target_clones for AVX-512, AVX2
// and plain x86-64. Written out rather than left to the auto-vectoriser,
// which gives up on loops that read and write several float arrays it cannot
// prove apart (a residual pass's gradient with its column sums ran scalar).
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "random_bits.hpp"

namespace auxgrid::kernels {

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define AUXGRID_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AUXGRID_VECTOR_CLONES
#endif
#define AUXGRID_INLINE inline __attribute__((always_inline))

constexpr std::int64_t kLanes = 16;  // floats per vector: one AVX-512 register, two AVX2 ones

typedef float Vec __attribute__((vector_size(64)));
typedef std::int32_t IntVec __attribute__((vector_size(64)));
typedef std::uint32_t UintVec __attribute__((vector_size(64)));
typedef float UnalignedVec __attribute__((vector_size(64), aligned(4), may_alias));

AUXGRID_INLINE Vec load(const float* p) { return *reinterpret_cast<const UnalignedVec*>(p); }
AUXGRID_INLINE void store(float* p, Vec v) { *reinterpret_cast<UnalignedVec*>(p) = v; }
AUXGRID_INLINE Vec splat(float x) { return Vec{} + x; }

// Copies n < kLanes floats in pieces of 8, 4, 2 and 1: fixed-size moves, not
// a call to the C library's memcpy for every partial vector.
AUXGRID_INLINE void copy_few(float* dst, const float* src, std::int64_t n) {
  for (const std::int64_t piece : {8, 4, 2, 1})
    if (n & piece) {
      std::memcpy(dst, src, static_cast<std::size_t>(piece) * sizeof(float));
      dst += piece, src += piece;
    }
}

// The first `lanes` floats at p, the rest 0; and the first `lanes` of v to p.
AUXGRID_INLINE Vec load_lanes(const float* p, std::int64_t lanes) {
  if (lanes == kLanes) return load(p);
  float tmp[kLanes] = {};
  copy_few(tmp, p, lanes);
  return load(tmp);
}
AUXGRID_INLINE void store_lanes(float* p, Vec v, std::int64_t lanes) {
  if (lanes == kLanes) return store(p, v);
  float tmp[kLanes];
  store(tmp, v);
  copy_few(p, tmp, lanes);
}

// v with the lanes from `lanes` on set to 0.
AUXGRID_INLINE Vec first_lanes(Vec v, std::int64_t lanes) {
  const IntVec lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  return lane < static_cast<std::int32_t>(lanes) ? v : splat(0.0f);
}

AUXGRID_INLINE float horizontal_sum(Vec v) {
  float s = 0;
  for (int i = 0; i < kLanes; ++i) s += v[i];
  return s;
}

// DropoutBits::keep of the 16 elements first .. first + 15 (indices modulo 2^32).
AUXGRID_INLINE Vec keep_vector(const DropoutBits& bits, std::int64_t first) {
  const UintVec index = UintVec{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15} +
                        (static_cast<std::uint32_t>(first) + bits.seed_lo);
  return dropout_hash(index, bits.seed_hi) >= bits.threshold ? splat(bits.scale) : splat(0.0f);
}

}  // namespace auxgrid::kernels
