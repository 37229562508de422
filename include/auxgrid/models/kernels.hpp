#pragma once
// Where LibTorch's own CPU kernels waste most of a training step, the models
// call these instead (../shared/notes/build-and-speed.md: dropout's
// single-threaded bernoulli_ alone took 40 % of a full-size AuxFormer step).
// The same functions compute the straightforward way when the process runs
// with plain kernels: the benchmarks' baseline, and a fallback to compare
// results with (AUXGRID_KERNELS=plain in the environment).
#include <ATen/Tensor.h>

namespace auxgrid::models {

enum class Kernels {
  fast,  // multi-threaded dropout masks, batch-first attention
  plain  // torch::dropout and torch::nn::functional::multi_head_attention_forward
};

// Process-wide; the default is fast unless AUXGRID_KERNELS=plain.
Kernels kernels();
void set_kernels(Kernels k);

// Inverted dropout. Fast on CPU floats: a mask drawn by every thread from a
// counter-based hash of one seed that comes from LibTorch's default generator
// (so torch::manual_seed and its saved state reproduce it); the same
// Bernoulli(1 - p) distribution as torch::dropout, not the same draws.
at::Tensor dropout(const at::Tensor& x, double p, bool training);

}  // namespace auxgrid::models
