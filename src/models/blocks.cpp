#include "auxgrid/models/blocks.hpp"

#include <torch/nn/functional/dropout.h>
#include <torch/torch.h>

#include <cmath>

#include "auxgrid/core/check.hpp"

namespace auxgrid::models {

namespace F = torch::nn::functional;

at::Tensor sinusoidal_encoding(const at::Tensor& mask, std::int64_t dim) {
  const auto half = dim / 2;
  const auto length = mask.size(1);
  const double step = std::log(10000.0) / static_cast<double>(std::max<std::int64_t>(half - 1, 1));
  auto frequencies = torch::exp(torch::arange(half, torch::kFloat) * -step);
  auto positions = torch::arange(1, length + 1, torch::kFloat);
  auto angles = positions.unsqueeze(1) * frequencies.unsqueeze(0);  // [T, half]
  auto table = torch::cat({torch::sin(angles), torch::cos(angles)}, 1);
  if (dim % 2 == 1) table = torch::cat({table, torch::zeros({length, 1})}, 1);
  return table.to(mask.device()).unsqueeze(0) * mask.unsqueeze(-1).to(torch::kFloat);
}

at::Tensor last_valid(const at::Tensor& x, const at::Tensor& mask) {
  auto last = (mask.sum(1) - 1).clamp_min(0);  // [B]
  auto index = last.view({-1, 1, 1}).expand({x.size(0), 1, x.size(2)});
  return x.gather(1, index).squeeze(1);
}

EncoderLayerImpl::EncoderLayerImpl(const EncoderOptions& o) : options_(o) {
  AUXGRID_CHECK(o.width() % o.heads() == 0, "model width {} is not divisible by {} heads", o.width(), o.heads());
  ln0_ = register_module("ln0", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width()})));
  attention_ = register_module(
      "attention", torch::nn::MultiheadAttention(
                       torch::nn::MultiheadAttentionOptions(o.width(), o.heads()).dropout(o.attn_dropout())));
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width()})));
  fc1_ = register_module("fc1", torch::nn::Linear(o.width(), 4 * o.width()));
  fc2_ = register_module("fc2", torch::nn::Linear(4 * o.width(), o.width()));
  if (o.learnable_scaling()) alpha_ = register_parameter("alpha", torch::rand({1}));
}

at::Tensor EncoderLayerImpl::residual(const at::Tensor& x, const at::Tensor& update) {
  auto dropped = F::dropout(update, F::DropoutFuncOptions().p(options_.res_dropout()).training(is_training()));
  return options_.learnable_scaling() ? alpha_ * x + (1 - alpha_) * dropped : x + dropped;
}

at::Tensor EncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& kv, const at::Tensor& key_padding) {
  // The same LN0 normalises queries and keys/values (MulT).
  auto q = ln0_(x).transpose(0, 1);  // MultiheadAttention is sequence-first
  auto k = kv.defined() ? ln0_(kv).transpose(0, 1) : q;
  auto attended = std::get<0>(attention_->forward(q, k, k, key_padding, /*need_weights=*/false)).transpose(0, 1);
  auto h = residual(x, attended);
  auto ff = F::dropout(torch::relu(fc1_(ln1_(h))),
                       F::DropoutFuncOptions().p(options_.relu_dropout()).training(is_training()));
  return residual(h, fc2_(ff));
}

EncoderImpl::EncoderImpl(const EncoderOptions& o) : options_(o) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < o.layers(); ++i) layers_->push_back(EncoderLayer(o));
  final_ln_ = register_module("final_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width()})));
}

at::Tensor EncoderImpl::embed(const at::Tensor& x, const at::Tensor& mask) {
  auto h = x * std::sqrt(static_cast<double>(options_.width()));
  if (options_.positional_encoding()) h = h + sinusoidal_encoding(mask, options_.width());
  return F::dropout(h, F::DropoutFuncOptions().p(options_.embed_dropout()).training(is_training()));
}

at::Tensor EncoderImpl::forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& kv,
                                const at::Tensor& kv_mask) {
  const bool cross = kv.defined();
  auto h = embed(x, mask);
  at::Tensor memory = cross ? embed(kv, kv_mask) : at::Tensor();
  at::Tensor key_padding;
  if (options_.padding_mask()) key_padding = torch::logical_not(cross ? kv_mask : mask);
  for (const auto& layer : *layers_) h = layer->as<EncoderLayer>()->forward(h, memory, key_padding);
  return final_ln_(h);
}

}  // namespace auxgrid::models
