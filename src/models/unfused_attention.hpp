#pragma once
// Attention off the CPU (kernels.hpp's attention() for CUDA tensors): a source
// file per LibTorch generation, chosen by CMake. LibTorch 2.x has fused
// scaled-dot-product attention (FlashAttention / memory-efficient kernels on
// GPUs); 1.13 has not, and materialises the scores.
#include <ATen/Tensor.h>

namespace auxgrid::models {

// q [B, H, T, D] (already scaled), k and v [B, H, S, D]; key_padding [B, S] true = ignore, or undefined.
// The straightforward way, scores materialised (attention_cpu.cpp): any device.
at::Tensor materialised_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& key_padding, double p, bool training);
at::Tensor device_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& key_padding, double p, bool training);

}  // namespace auxgrid::models
