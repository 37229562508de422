#pragma once
// The project's one hash: 64-bit FNV-1a. Cell ids (Config::id), the frame
// masks of the masked evaluation conditions (data/corpus.cpp) and the ranks'
// parameter check (train/data_parallel.cpp) use it.
#include <cstddef>
#include <cstdint>

namespace auxgrid {

inline constexpr std::uint64_t kFnv1aOffsetBasis = 14695981039346656037ull;
inline constexpr std::uint64_t kFnv1aPrime = 1099511628211ull;

inline std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t h = kFnv1aOffsetBasis) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * kFnv1aPrime;
  return h;
}

}  // namespace auxgrid
