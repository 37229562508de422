#pragma once
// Attention where auxgrid's fused CPU kernel does not run (kernels.hpp's
// AttentionKernel): LibTorch 2.x's scaled_dot_product_attention (its GPU kernels,
// FlashAttention and memory-efficient, never store the scores), or the scores
// materialised. The SDPA path is a source file per LibTorch generation, chosen
// by CMake (device/attention_sdpa.cpp, device/attention_no_sdpa.cpp).
#include <ATen/Tensor.h>

namespace auxgrid::kernels {

// q [B, H, T, D] (already scaled), k and v [B, H, S, D]; ignored [B, 1, T, S]
// true = a key the query may not attend (AttentionMask::ignored), or undefined.
// Both return [B, H, T, D].
// The straightforward way, scores materialised (attention_cpu.cpp): any device, any LibTorch.
at::Tensor materialised_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& ignored, double p, bool training);
// at::scaled_dot_product_attention; throws under LibTorch 1.x, where sdpa_available() is false.
at::Tensor sdpa_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& ignored,
                          double p, bool training);

}  // namespace auxgrid::kernels
