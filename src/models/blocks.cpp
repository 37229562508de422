#include "auxgrid/models/blocks.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>

#include "auxgrid/core/check.hpp"
#include "auxgrid/kernels/kernels.hpp"

namespace auxgrid::models {

namespace F = torch::nn::functional;

namespace {
// A LayerNorm module's normalisation through kernels.hpp's layer_norm.
at::Tensor normalise(const torch::nn::LayerNorm& ln, const at::Tensor& x) {
  return kernels::layer_norm(x, ln->weight, ln->bias, ln->options.eps());
}
}  // namespace

at::Tensor sinusoidal_encoding(const at::Tensor& encoded, std::int64_t dim) {
  const auto half = dim / 2;
  const auto length = encoded.size(1);
  const double step = std::log(10000.0) / static_cast<double>(std::max<std::int64_t>(half - 1, 1));
  auto frequencies = torch::exp(torch::arange(half, torch::kFloat) * -step);
  auto positions = torch::arange(1, length + 1, torch::kFloat);
  auto angles = positions.unsqueeze(1) * frequencies.unsqueeze(0);  // [T, half]
  auto table = torch::cat({torch::sin(angles), torch::cos(angles)}, 1);
  if (dim % 2 == 1) table = torch::cat({table, torch::zeros({length, 1})}, 1);
  return table.to(encoded.device()).unsqueeze(0) * encoded.unsqueeze(-1).to(torch::kFloat);
}

at::Tensor encoded_frames(const at::Tensor& x, const at::Tensor& mask, Positions rule) {
  return rule == Positions::valid_frames ? mask : x.select(-1, 0).ne(0);
}

at::Tensor last_valid(const at::Tensor& x, const at::Tensor& mask) {
  auto last = (mask.sum(1) - 1).clamp_min(0);  // [B]
  auto index = last.view({-1, 1, 1}).expand({x.size(0), 1, x.size(2)});
  return x.gather(1, index).squeeze(1);
}

Token parse_token(const std::string& name) {
  if (name == "last") return Token::last;
  if (name == "cls") return Token::cls;
  if (name == "mean") return Token::mean;
  AUXGRID_FAIL("model.token '{}' is not one of: last, cls, mean", name);
}

at::Tensor pool(const at::Tensor& x, const at::Tensor& mask, Token token) {
  switch (token) {
    case Token::cls: return x.select(1, 0);
    case Token::mean: {
      auto weights = mask.to(x.scalar_type()).unsqueeze(-1);
      return (x * weights).sum(1) / weights.sum(1).clamp_min(1);
    }
    default: return last_valid(x, mask);
  }
}

std::pair<at::Tensor, at::Tensor> add_cls(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cls,
                                          bool causal, bool padding_mask) {
  auto token = cls.view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
  auto valid = torch::ones({x.size(0), 1}, mask.options());
  if (!causal) return {torch::cat({token, x}, 1), torch::cat({valid, mask}, 1)};
  auto out = torch::cat({x, torch::zeros_like(token)}, 1);
  auto out_mask = torch::cat({mask, valid.logical_not()}, 1);
  // The token's frame: each sequence's first padded one (its length), or the new last one.
  const auto at = padding_mask ? mask.sum(1) : torch::full({x.size(0)}, x.size(1), mask.options().dtype(torch::kLong));
  const auto index = at.view({-1, 1, 1}).expand({x.size(0), 1, x.size(2)});
  out = out.scatter(1, index, token);
  out_mask = out_mask.scatter(1, at.view({-1, 1}), valid);
  return {out, out_mask};
}

ModelSettings ModelSettings::from(const Config& c) {
  ModelSettings s;
  s.width = c.integer("model.width");
  s.heads = c.integer("model.heads");
  s.layers = c.integer("model.layers");
  s.aux_repeats = c.integer("model.aux_repeats");
  s.main_layers = c.integer("model.main_layers");
  s.cross_layers = c.integer("model.cross_layers");
  s.embed_dropout = c.real("model.embed_dropout");
  s.attn_dropout_cross = c.real("model.attn_dropout_cross");
  s.attn_dropout_self = c.real("model.attn_dropout_self");
  s.res_dropout = c.real("model.res_dropout");
  s.relu_dropout = c.real("model.relu_dropout");
  s.out_dropout = c.real("model.out_dropout");
  s.pos_encoding = c.flag("model.pos_encoding");
  s.padding_mask = c.flag("model.padding_mask");
  s.causal = c.str("model.attention_mask") == "causal";
  s.positions = c.str("model.positions") == "valid_frames" ? Positions::valid_frames : Positions::nonzero_input;
  s.project_same_width = c.str("model.input_projection") == "always";
  s.released_init = c.str("model.init") == "released";
  s.separate_kv_dropout = c.str("model.kv_dropout") == "separate";
  s.fusion_block = c.str("model.fusion_block");
  s.token = parse_token(c.str("model.token"));
  s.audio = c.str("model.modality") == "audio";
  s.lambda_av = c.real("train.lambda_av");
  s.lambda_a = c.real("train.lambda_a");
  s.lambda_v = c.real("train.lambda_v");
  return s;
}

EncoderOptions ModelSettings::encoder() const {
  return EncoderOptions(width, heads)
      .layers(layers)
      .embed_dropout(embed_dropout)
      .attn_dropout(attn_dropout_self)
      .res_dropout(res_dropout)
      .relu_dropout(relu_dropout)
      .padding_mask(padding_mask)
      .causal(causal)
      .positions(positions)
      .separate_kv_dropout(separate_kv_dropout)
      .xavier_feed_forward(released_init);
}

torch::nn::Linear projection(std::int64_t in, std::int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

at::Tensor project(const at::Tensor& x, const torch::nn::Linear& proj, bool project_same_width) {
  const auto& weight = proj->weight;
  if (!project_same_width && weight.size(0) == weight.size(1)) return x;
  return kernels::linear(x, weight, {});
}

at::Tensor Summary::operator()(const at::Tensor& x, const at::Tensor& mask) const {
  return pool(x, padding_mask ? mask : torch::ones_like(mask), token == Token::cls && causal ? Token::last : token);
}

std::pair<at::Tensor, at::Tensor> Summary::with_cls(const at::Tensor& x, const at::Tensor& mask,
                                                    const at::Tensor& cls) const {
  if (!cls.defined()) return {x, mask};
  return add_cls(x, mask, cls, causal, padding_mask);
}

AttentionImpl::AttentionImpl(std::int64_t width, std::int64_t heads, double dropout)
    : width_(width), heads_(heads), dropout_(dropout) {
  // torch::nn::MultiheadAttention's parameters, created and initialised in its
  // order, so that a seed gives the same initial model as before.
  in_proj_weight_ = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias_ = register_parameter("in_proj_bias", torch::empty({3 * width}));
  out_proj_ = register_module("out_proj", torch::nn::Linear(width, width));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight_);
  in_proj_bias_.zero_();
  out_proj_->bias.zero_();
}

namespace {
// A causal mask as LibTorch 1.13's multi_head_attention_forward takes one: one
// additive [T, S] float mask for the whole batch, so only when every sequence
// has the same offset (always without padding masks). Undefined otherwise.
std::optional<at::Tensor> shared_additive_mask(const kernels::AttentionMask& mask, std::int64_t queries,
                                               std::int64_t keys) {
  if (!mask.causal_offset.defined()) return at::Tensor();
  const auto offsets = mask.causal_offset;
  if (!offsets.eq(offsets[0]).all().item<bool>()) return std::nullopt;
  const auto ignored = kernels::AttentionMask({}, offsets.slice(0, 0, 1)).ignored(queries, keys)[0][0];
  return torch::zeros({queries, keys}).masked_fill(ignored.cpu(), -std::numeric_limits<float>::infinity()).to(
      offsets.device());
}
}  // namespace

at::Tensor AttentionImpl::forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const kernels::AttentionMask& mask) {
  const auto causal = kernels::mode() == kernels::Mode::plain ? shared_additive_mask(mask, q.size(1), k.size(1))
                                                              : std::nullopt;
  if (causal) {  // plain kernels: LibTorch's module, sequence-first
    auto qs = q.transpose(0, 1), ks = k.transpose(0, 1), vs = v.transpose(0, 1);
    return std::get<0>(F::multi_head_attention_forward(qs, ks, vs,
                                                       F::MultiheadAttentionForwardFuncOptions(
                                                           width_, heads_, in_proj_weight_, in_proj_bias_, {}, {},
                                                           false, dropout_, out_proj_->weight, out_proj_->bias)
                                                           .training(is_training())
                                                           .key_padding_mask(mask.padding)
                                                           .attn_mask(*causal)
                                                           .need_weights(false)))
        .transpose(0, 1);
  }
  return kernels::linear(attend(q, k, v, mask), out_proj_->weight, out_proj_->bias);
}

at::Tensor AttentionImpl::attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const kernels::AttentionMask& mask) {
  // The projections go to the kernel packed ([q k v] or q and [k v]) as they come out.
  if (q.is_same(k) && k.is_same(v))
    return kernels::multi_head_attention(kernels::linear(q, in_proj_weight_, in_proj_bias_), {}, heads_, mask,
                                         dropout_, is_training());
  const auto projected = [&](const at::Tensor& x, std::int64_t first, std::int64_t rows) {
    return kernels::linear(x, in_proj_weight_.narrow(0, first, rows), in_proj_bias_.narrow(0, first, rows));
  };
  const auto keys_values = k.is_same(v)
                               ? projected(k, width_, 2 * width_)
                               : torch::cat({projected(k, width_, width_), projected(v, 2 * width_, width_)}, -1);
  return kernels::multi_head_attention(projected(q, 0, width_), keys_values, heads_, mask, dropout_, is_training());
}

EncoderLayerImpl::EncoderLayerImpl(const EncoderOptions& o) : options_(o) {
  AUXGRID_CHECK(o.width() % o.heads() == 0, "model width {} is not divisible by {} heads", o.width(), o.heads());
  ln0_ = register_module("ln0", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width()})));
  attention_ = register_module("attention", Attention(o.width(), o.heads(), o.attn_dropout()));
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width()})));
  fc1_ = register_module("fc1", torch::nn::Linear(o.width(), 4 * o.width()));
  fc2_ = register_module("fc2", torch::nn::Linear(4 * o.width(), o.width()));
  if (o.learnable_scaling()) alpha_ = register_parameter("alpha", torch::rand({1}));
  torch::NoGradGuard no_grad;
  if (o.xavier_feed_forward())
    for (const auto& fc : {fc1_, fc2_}) {
      torch::nn::init::xavier_uniform_(fc->weight);
      fc->bias.zero_();
    }
  if (o.xavier_attention_output()) torch::nn::init::xavier_uniform_(attention_->out_proj()->weight);
}

at::Tensor EncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& keys, const at::Tensor& values,
                                     const kernels::AttentionMask& mask) {
  // The same LN0 normalises queries, keys and values (MulT).
  const auto q = normalise(ln0_, x);
  const auto k = keys.defined() ? normalise(ln0_, keys) : q;
  const auto v = !values.defined() ? q : values.is_same(keys) ? k : normalise(ln0_, values);
  const auto alpha = options_.learnable_scaling() ? alpha_ : at::Tensor();
  const double p = options_.res_dropout();
  // Residual steps x + dropout(linear(...)) (or with alpha), fused with the output projections' biases.
  const auto h = kernels::mode() == kernels::Mode::plain  // LibTorch's attention module, output projection inside
                     ? kernels::residual_dropout(x, attention_(q, k, v, mask), alpha, p, is_training())
                     : kernels::residual_linear_dropout(x, attention_->attend(q, k, v, mask),
                                                        attention_->out_proj()->weight, attention_->out_proj()->bias,
                                                        alpha, p, is_training());
  const auto ff = kernels::linear_relu_dropout(normalise(ln1_, h), fc1_->weight, fc1_->bias, options_.relu_dropout(),
                                               is_training());
  return kernels::residual_linear_dropout(h, ff, fc2_->weight, fc2_->bias, alpha, p, is_training());
}

EncoderImpl::EncoderImpl(const EncoderOptions& o) : options_(o) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < o.layers(); ++i) layers_->push_back(EncoderLayer(o));
  final_ln_ = register_module("final_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width()})));
}

at::Tensor EncoderImpl::scale_and_position(const at::Tensor& x, const at::Tensor& mask) {
  auto h = x * std::sqrt(static_cast<double>(options_.width()));
  if (options_.positional_encoding())
    h = h + sinusoidal_encoding(encoded_frames(x, mask, options_.positions()), options_.width());
  return h;
}

at::Tensor EncoderImpl::embed_dropout(const at::Tensor& x) {
  return kernels::dropout(x, options_.embed_dropout(), is_training());
}

std::pair<at::Tensor, at::Tensor> EncoderImpl::keys_values(const at::Tensor& kv, const at::Tensor& kv_mask) {
  const auto memory = scale_and_position(kv, kv_mask);
  auto keys = embed_dropout(memory);
  // Without dropout both masks would keep everything: one tensor serves both.
  const bool dropping = is_training() && options_.embed_dropout() > 0;
  return {keys, options_.separate_kv_dropout() && dropping ? embed_dropout(memory) : keys};
}

kernels::AttentionMask EncoderImpl::attention_mask(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& kv,
                                                   const at::Tensor& kv_mask) const {
  const bool cross = kv.defined();
  kernels::AttentionMask out;
  if (options_.padding_mask()) out.padding = torch::logical_not(cross ? kv_mask : mask);
  if (!options_.causal()) return out;
  // buffered_future_mask's offset |S - T|. With padding masks each sequence's
  // real lengths: its output then does not depend on its batch, and equals the
  // released model's on the unpadded sequence, whose last real frame sees every
  // real key. Without them the tensors' lengths, as the released code.
  if (options_.padding_mask())
    out.causal_offset = cross ? (kv_mask.sum(1) - mask.sum(1)).abs() : torch::zeros({x.size(0)}, mask.options().dtype(torch::kLong));
  else
    out.causal_offset = torch::full({x.size(0)}, std::abs((cross ? kv.size(1) : x.size(1)) - x.size(1)),
                                    mask.options().dtype(torch::kLong));
  return out;
}

at::Tensor EncoderImpl::forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& kv,
                                const at::Tensor& kv_mask) {
  auto h = embed_dropout(scale_and_position(x, mask));
  at::Tensor keys, values;
  if (kv.defined()) std::tie(keys, values) = keys_values(kv, kv_mask);
  const auto attention = attention_mask(x, mask, kv, kv_mask);
  for (const auto& layer : *layers_) h = layer->as<EncoderLayer>()->forward(h, keys, values, attention);
  return normalise(final_ln_, h);
}

ResidualHeadImpl::ResidualHeadImpl(const ResidualHeadOptions& o) : options_(o) {
  layers_ = register_module("layers", torch::nn::ModuleList());
  auto widths = o.hidden();
  widths.insert(widths.begin(), o.width());
  widths.push_back(o.width());
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) layers_->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
  out_ = register_module("out", torch::nn::Linear(o.width(), o.classes()));
}

at::Tensor ResidualHeadImpl::forward(const at::Tensor& h) {
  auto x = h;
  const auto n = layers_->size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& layer = layers_[i]->as<torch::nn::Linear>();
    x = i + 1 < n ? kernels::linear_relu_dropout(x, layer->weight, layer->bias, options_.dropout(), is_training())
                  : layer->forward(x);
  }
  return out_(h + x);
}

SequenceBlockImpl::SequenceBlockImpl(const std::string& kind, const EncoderOptions& encoder) : kind_(kind) {
  const auto d = encoder.width();
  if (kind == "scaled_attention")
    encoder_ = register_module("encoder", Encoder(EncoderOptions(encoder).learnable_scaling(true)));
  else if (kind == "lstm")
    lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(d, d).batch_first(true)));
  else if (kind == "gru")
    gru_ = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(d, d).batch_first(true)));
  else
    AUXGRID_CHECK(kind == "none", "model.fusion_block '{}' is not one of: scaled_attention, none, lstm, gru", kind);
}

// A forward recurrence never sees the padding after a real frame, so the
// last real frame's state is exact without packing.
at::Tensor SequenceBlockImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  if (encoder_) return encoder_(x, mask);
  if (lstm_) return std::get<0>(lstm_->forward(x));
  if (gru_) return std::get<0>(gru_->forward(x));
  return x;
}

}  // namespace auxgrid::models
