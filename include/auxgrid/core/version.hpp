#pragma once
// What a result records about where and when it was made (provenance).
#include <string>

namespace auxgrid {
// What the built-in models compute, as a number that results and checkpoints
// record: a result of another revision is never taken for a cell of this one
// (docs/models.md, "Fidelity to the released code").
//   1  (no model_revision attribute) until issue 17: positional encodings by the
//      validity mask, every input projected, LibTorch's Linear initialisation,
//      one embedding-dropout mask for keys and values.
//   2  the released code's rules by default: model.positions, model.input_projection,
//      model.kv_dropout; model.init = released selectable.
//   3  model.init = released by default too; a step's non-finite gradient
//      elements are set to zero and the clipping norm is summed in double.
//   4  model.attention_mask = causal by default (the released code's
//      buffered_future_mask in every encoder, a CLS token after the last frame),
//      and the optimized procedure's modality drop on the dev set
//      (train.dev_drop = as_training); every batch trained as 4 gradient
//      groups with their own dropout seeds, summed in one fixed order, so
//      that the rank count never changes a result (train/data_parallel.hpp).
inline constexpr int kModelRevision = 4;

std::string version();     // the project version, from CMake
std::string git_commit();  // of the source tree at build time, or "unknown"
std::string git_dirty();   // "true" when it had uncommitted changes, "false", or "unknown"
std::string host_name();   // this machine's
std::string utc_now();     // ISO 8601, e.g. 2026-12-05T07:24:05Z
}  // namespace auxgrid
