#pragma once
// Shared building blocks (docs/models.md, "Building blocks"): the pre-LayerNorm transformer encoder
// of MulT / fairseq, optionally cross-modal and optionally with one learnable
// scalar residual weight per layer; sinusoidal positional encoding; tokens.
#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include "auxgrid/core/config.hpp"
#include "auxgrid/kernels/kernels.hpp"

#include <string>
#include <utility>
#include <vector>

namespace auxgrid::models {

// Sinusoidal encoding, tensor2tensor layout (sin in the first half of the
// channels, cos in the second): frame t (from 0) gets position t + 1 where
// `encoded` is true and no encoding elsewhere. encoded: bool [B, T]. Returns [B, T, dim].
at::Tensor sinusoidal_encoding(const at::Tensor& encoded, std::int64_t dim);

// Which frames get a positional encoding (model.positions).
// nonzero_input: those whose encoder input is not zero in channel 0, as the
// released code's fairseq embedding (modules/position_embedding.py, called on
// channel 0 in modules/transformer.py): zeroed frames of a dropped or masked
// modality get none, padding after a LayerNorm (MulT's memory encoders) does.
// valid_frames: every real frame (mask), auxgrid's rule before model revision 2.
enum class Positions { nonzero_input, valid_frames };
// x [B, T, d] the encoder's input, mask [B, T] -> bool [B, T].
at::Tensor encoded_frames(const at::Tensor& x, const at::Tensor& mask, Positions rule);

// The last real frame of each sequence: x [B, T, d], mask [B, T] -> [B, d].
at::Tensor last_valid(const at::Tensor& x, const at::Tensor& mask);

// How a sequence becomes one vector (model.token): its last real frame, a
// learnable CLS token prepended to the sequence, or the mean of its real frames.
enum class Token { last, cls, mean };
Token parse_token(const std::string& name);
// x [B, T, d], mask [B, T] -> [B, d]. For Token::cls the CLS token is frame 0.
at::Tensor pool(const at::Tensor& x, const at::Tensor& mask, Token token);
// Adds the CLS token `cls` [d] to every sequence of x as one more real frame:
// prepended (frame 0), or under a causal attention mask after the last frame,
// where it sees every frame as the last frame does (a causal frame 0 would
// see only itself; docs/models.md, "Causal attention mask"). With padding
// masks "after the last frame" is after each sequence's last real one,
// without them after the batch's last padded step.
std::pair<at::Tensor, at::Tensor> add_cls(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cls,
                                          bool causal, bool padding_mask);

// How the models turn a sequence into one vector: model.token,
// model.padding_mask and model.attention_mask, which places the CLS token.
struct Summary {
  Token token = Token::last;
  bool padding_mask = true, causal = false;
  // The sequence's summary vector (pool). Without padding masks (the
  // reference behaviour) padded frames count as real: "last" is the last
  // padded step. Under a causal mask the CLS token is the last frame (add_cls).
  at::Tensor operator()(const at::Tensor& x, const at::Tensor& mask) const;
  // x with the CLS token added where this rule reads it (nothing without one).
  std::pair<at::Tensor, at::Tensor> with_cls(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& cls) const;
};

struct EncoderOptions {
  EncoderOptions(std::int64_t width, std::int64_t heads) : width_(width), heads_(heads) {}
  TORCH_ARG(std::int64_t, width);
  TORCH_ARG(std::int64_t, heads);
  TORCH_ARG(std::int64_t, layers) = 5;
  TORCH_ARG(double, embed_dropout) = 0.25;
  TORCH_ARG(double, attn_dropout) = 0.1;
  TORCH_ARG(double, res_dropout) = 0.1;
  TORCH_ARG(double, relu_dropout) = 0.1;
  TORCH_ARG(bool, positional_encoding) = false;
  TORCH_ARG(Positions, positions) = Positions::nonzero_input;
  // Cross-modal: one embedding-dropout mask for the keys and another for the
  // values, as the released code (false: one mask for both).
  TORCH_ARG(bool, separate_kv_dropout) = true;
  // Xavier-uniform weights and zero biases in the feed-forward layers (the
  // released code's Linear()), and in the attention's output projection
  // (MulT's own MultiheadAttention); false = LibTorch's default Linear init.
  TORCH_ARG(bool, xavier_feed_forward) = false;
  TORCH_ARG(bool, xavier_attention_output) = false;
  // x <- alpha * x + (1 - alpha) * dropout(sublayer(LN(x))), one alpha per layer.
  TORCH_ARG(bool, learnable_scaling) = false;
  // Pass padding as key-padding mask (false = attend over zero padding, as the reference code).
  TORCH_ARG(bool, padding_mask) = true;
  // The released code's causal mask (model.attention_mask = causal): query t
  // attends key j only when j <= t + |S - T| (kernels.hpp's AttentionMask),
  // the lengths each sequence's real ones with padding masks, else the tensors'.
  TORCH_ARG(bool, causal) = false;
};

// The model.* settings of a cell (and its loss weights), read from its Config
// in one place: the built-in models take these (docs/models.md, "Model settings").
struct ModelSettings {
  std::int64_t width = 0, heads = 0, layers = 0;
  std::int64_t aux_repeats = 0;   // AuxFormer's and Baseline 4's auxiliary encoder, shared weights
  std::int64_t main_layers = 0;   // Baseline 4's main branch
  std::int64_t cross_layers = 0;  // Baseline 3's cross-modal blocks
  double embed_dropout = 0, attn_dropout_cross = 0, attn_dropout_self = 0, res_dropout = 0, relu_dropout = 0,
         out_dropout = 0;
  bool pos_encoding = true, padding_mask = true;
  bool causal = true;  // model.attention_mask = causal
  // The released code's rules (docs/models.md, "Fidelity to the released code").
  Positions positions = Positions::nonzero_input;
  bool project_same_width = false;  // model.input_projection = always
  bool released_init = false;       // model.init (LibTorch's by default: docs/models.md)
  bool separate_kv_dropout = true;  // model.kv_dropout
  std::string fusion_block;         // SequenceBlock's kind
  Token token = Token::last;
  bool audio = true;  // model.modality: Baseline 4 sees audio (else video)
  double lambda_av = 0, lambda_a = 0, lambda_v = 0;

  static ModelSettings from(const Config& config);
  Summary summary() const { return {token, padding_mask, causal}; }
  // A self-attention encoder as these settings describe it (width, heads,
  // layers, dropouts, padding mask, the released code's rules); callers adjust the rest.
  EncoderOptions encoder() const;
};

// The input projection: a kernel-1 Conv1d without bias, i.e. a bias-free Linear.
torch::nn::Linear projection(std::int64_t in, std::int64_t out);
// x through `proj`, except that an input already of the model's width passes
// unchanged unless `project_same_width` (model.input_projection): the released
// code's rule (MulT's src/models.py; AuxFormer's keeps the audio intact). The
// projection exists either way, so that Table 5 counts it as the paper does.
at::Tensor project(const at::Tensor& x, const torch::nn::Linear& proj, bool project_same_width);

// Multi-head attention with torch::nn::MultiheadAttention's parameters
// (in_proj_weight [3d, d], in_proj_bias, out_proj) and initialisation, but
// batch-first and computed by kernels.hpp's attention(); under plain kernels
// it is LibTorch's multi_head_attention_forward.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(std::int64_t width, std::int64_t heads, double dropout);
  // q [B, T, d]; k, v [B, S, d] (the same tensor for self-attention or one
  // key/value input); mask: which keys each query attends (kernels.hpp). -> [B, T, d]
  at::Tensor forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const kernels::AttentionMask& mask);
  // The same before the output projection (auxgrid's kernels only: the layer fuses it with its residual step).
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const kernels::AttentionMask& mask);
  const torch::nn::Linear& out_proj() const { return out_proj_; }

 private:
  std::int64_t width_, heads_;
  double dropout_;
  at::Tensor in_proj_weight_, in_proj_bias_;
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(Attention);

class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const EncoderOptions& options);
  // x [B, T, d]; keys, values [B, S, d] (undefined = self-attention; the same
  // tensor when they share a dropout mask); mask: which keys each query attends.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& keys, const at::Tensor& values,
                     const kernels::AttentionMask& mask);

 private:
  EncoderOptions options_;
  torch::nn::LayerNorm ln0_{nullptr}, ln1_{nullptr};
  Attention attention_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  at::Tensor alpha_;
};
TORCH_MODULE(EncoderLayer);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const EncoderOptions& options);
  // Self-attention: forward(x, mask). Cross-modal: forward(x, mask, kv, kv_mask)
  // (queries from x, keys and values from kv). Masks: bool, true = real frame.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& kv = {},
                     const at::Tensor& kv_mask = {});
  // A cross-modal encoder's keys and values: kv embedded, then one dropout
  // mask for each (separate_kv_dropout and training) or one tensor for both.
  std::pair<at::Tensor, at::Tensor> keys_values(const at::Tensor& kv, const at::Tensor& kv_mask);
  // The attention mask of queries x (mask) over keys kv (kv_mask; self-attention: undefined).
  kernels::AttentionMask attention_mask(const at::Tensor& x, const at::Tensor& mask, const at::Tensor& kv,
                                        const at::Tensor& kv_mask) const;

 private:
  // x * sqrt(d) plus the positional encoding, before the embedding dropout.
  at::Tensor scale_and_position(const at::Tensor& x, const at::Tensor& mask);
  at::Tensor embed_dropout(const at::Tensor& x);
  EncoderOptions options_;
  torch::nn::ModuleList layers_;
  torch::nn::LayerNorm final_ln_{nullptr};
};
TORCH_MODULE(Encoder);

}  // namespace auxgrid::models

namespace auxgrid::models {

// h + MLP(h), then a linear classifier. hidden = {width}: AuxFormer's and
// MulT's output block (Linear, ReLU, dropout, Linear); hidden = {512, 256}:
// the auxiliary networks' MLP. ReLU and dropout follow every hidden layer.
struct ResidualHeadOptions {
  ResidualHeadOptions(std::int64_t width, std::int64_t classes) : width_(width), classes_(classes) {}
  TORCH_ARG(std::int64_t, width);
  TORCH_ARG(std::int64_t, classes);
  TORCH_ARG(std::vector<std::int64_t>, hidden) = {};
  TORCH_ARG(double, dropout) = 0.0;
};

class ResidualHeadImpl : public torch::nn::Module {
 public:
  explicit ResidualHeadImpl(const ResidualHeadOptions& options);
  at::Tensor forward(const at::Tensor& h);  // [B, width] -> [B, classes]

 private:
  ResidualHeadOptions options_;
  torch::nn::ModuleList layers_;
  torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(ResidualHead);

// The block after cross-modal fusion (model.fusion_block, Figure 6): a
// self-attention encoder with learnable scaling, nothing, an LSTM or a GRU.
class SequenceBlockImpl : public torch::nn::Module {
 public:
  SequenceBlockImpl(const std::string& kind, const EncoderOptions& encoder);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask);

 private:
  std::string kind_;
  Encoder encoder_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::GRU gru_{nullptr};
};
TORCH_MODULE(SequenceBlock);

}  // namespace auxgrid::models
