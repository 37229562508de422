#pragma once
// A padded batch of utterances with per-frame validity masks.
#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

namespace auxgrid::data {

struct Batch {
  at::Tensor audio;                      // float [B, Ta, Da], zero past each utterance's end
  at::Tensor audio_mask;                 // bool  [B, Ta], true = a real frame
  at::Tensor video;                      // float [B, Tv, Dv]
  at::Tensor video_mask;                 // bool  [B, Tv]
  at::Tensor labels;                     // int64 [B]
  std::vector<std::int64_t> utterances;  // corpus indices, in batch order
  std::int64_t size() const { return static_cast<std::int64_t>(utterances.size()); }
};

}  // namespace auxgrid::data
