// Baseline 2 (MulT, Tsai et al. 2019, reduced to two modalities) and
// Baseline 3 (the cross-modal transformer of Parthasarathy & Sundaram 2020),
// docs/models.md, each with its upscaled variant.
//
//   mult       d = 30, 5 heads: 248 d^2 + 4498 d + 2 d C + C = 358,384 at C = 4 (exact)
//   mult_up    d = 160, 10 heads: 7,070,406 at C = 6 (exact)
//   xmodal     No public code exists. Per modality a 3-layer self-attention
//              encoder (positional encoding on); per direction one cross-modal
//              layer whose queries are one modality's encoding and whose keys
//              and values are the other's; stream = w1 * encoding + w2 * cross
//              with two learnable scalars per stream (initialised to 1); the
//              streams' summaries (last real frame) are summed and a dense
//              layer gives the logits. Count 96 d^2 + 4338 d + 4 + d C + C:
//              d = 130, 10 heads: 2,186,868 at C = 4 (-1.1 % against 2,211,628);
//   xmodal_up  d = 250, 10 heads: 7,086,010 at C = 6 (-0.6 % against 7,125,278).
#include <torch/torch.h>

#include "auxgrid/models/blocks.hpp"
#include "auxgrid/kernels/kernels.hpp"
#include "auxgrid/models/model.hpp"

namespace auxgrid::models {

namespace {

using I = std::int64_t;

class MulTImpl : public EmotionModelImpl {
 public:
  MulTImpl(const ModelSettings& s, const ModelDims& dims)
      : project_same_width_(s.project_same_width), summary_(s.summary()) {
    const auto d = s.width;
    // In MulT every encoder has positional embeddings; the memory encoders
    // have max(layers, 3) layers of the stream's width. MulT's own attention
    // module initialises its output projection as Xavier-uniform.
    const auto self = s.encoder().positional_encoding(s.pos_encoding).xavier_attention_output(s.released_init);
    const auto cross = EncoderOptions(self).attn_dropout(s.attn_dropout_cross);
    audio_proj_ = register_module("audio_proj", projection(dims.audio_dim, d));
    video_proj_ = register_module("video_proj", projection(dims.video_dim, d));
    a_with_v_ = register_module("a_with_v", Encoder(cross));
    v_with_a_ = register_module("v_with_a", Encoder(cross));
    const auto memory = EncoderOptions(self).layers(std::max<I>(s.layers, 3));
    a_mem_ = register_module("a_mem", Encoder(memory));
    v_mem_ = register_module("v_mem", Encoder(memory));
    head_ = register_module(
        "head", ResidualHead(ResidualHeadOptions(2 * d, dims.num_classes).hidden({2 * d}).dropout(s.out_dropout)));
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    auto a = project(b.audio, audio_proj_, project_same_width_), v = project(b.video, video_proj_, project_same_width_);
    auto a_out = a_mem_(a_with_v_(a, b.audio_mask, v, b.video_mask), b.audio_mask);
    auto v_out = v_mem_(v_with_a_(v, b.video_mask, a, b.audio_mask), b.video_mask);
    auto h = torch::cat({summary_(a_out, b.audio_mask), summary_(v_out, b.video_mask)}, 1);
    return {{"av", head_(h), 1.0}};
  }

 private:
  bool project_same_width_;
  Summary summary_;
  torch::nn::Linear audio_proj_{nullptr}, video_proj_{nullptr};
  Encoder a_with_v_{nullptr}, v_with_a_{nullptr}, a_mem_{nullptr}, v_mem_{nullptr};
  ResidualHead head_{nullptr};
};

class CrossModalImpl : public EmotionModelImpl {
 public:
  CrossModalImpl(const ModelSettings& s, const ModelDims& dims)
      : project_same_width_(s.project_same_width), summary_(s.summary()), out_dropout_(s.out_dropout) {
    const auto d = s.width;
    const auto self = s.encoder().positional_encoding(s.pos_encoding);
    const auto cross = EncoderOptions(self).layers(s.cross_layers).attn_dropout(s.attn_dropout_cross);
    audio_proj_ = register_module("audio_proj", projection(dims.audio_dim, d));
    video_proj_ = register_module("video_proj", projection(dims.video_dim, d));
    audio_encoder_ = register_module("audio_encoder", Encoder(self));
    video_encoder_ = register_module("video_encoder", Encoder(self));
    a_from_v_ = register_module("a_from_v", Encoder(cross));
    v_from_a_ = register_module("v_from_a", Encoder(cross));
    audio_weights_ = register_parameter("audio_weights", torch::ones({2}));
    video_weights_ = register_parameter("video_weights", torch::ones({2}));
    out_ = register_module("out", torch::nn::Linear(d, dims.num_classes));
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    auto a = audio_encoder_(project(b.audio, audio_proj_, project_same_width_), b.audio_mask);
    auto v = video_encoder_(project(b.video, video_proj_, project_same_width_), b.video_mask);
    auto a_stream = audio_weights_[0] * a + audio_weights_[1] * a_from_v_(a, b.audio_mask, v, b.video_mask);
    auto v_stream = video_weights_[0] * v + video_weights_[1] * v_from_a_(v, b.video_mask, a, b.audio_mask);
    auto h = summary_(a_stream, b.audio_mask) + summary_(v_stream, b.video_mask);
    h = kernels::dropout(h, out_dropout_, is_training());
    return {{"av", out_(h), 1.0}};
  }

 private:
  bool project_same_width_;
  Summary summary_;
  double out_dropout_;
  torch::nn::Linear audio_proj_{nullptr}, video_proj_{nullptr}, out_{nullptr};
  Encoder audio_encoder_{nullptr}, video_encoder_{nullptr}, a_from_v_{nullptr}, v_from_a_{nullptr};
  at::Tensor audio_weights_, video_weights_;
};

EmotionModel make_mult(const Config& c, const ModelDims& d) {
  return std::make_shared<MulTImpl>(ModelSettings::from(c), d);
}
EmotionModel make_xmodal(const Config& c, const ModelDims& d) {
  return std::make_shared<CrossModalImpl>(ModelSettings::from(c), d);
}

}  // namespace

AUXGRID_REGISTER_MODEL("mult", "Baseline 2: MulT reduced to audio and video (d = 30)",
                       ({{"model.width", I{30}}, {"model.heads", I{5}}, {"model.out_dropout", 0.0}}), make_mult);
AUXGRID_REGISTER_MODEL("mult_up", "Baseline 2 upscaled: MulT with d = 160",
                       ({{"model.width", I{160}}, {"model.heads", I{10}}, {"model.out_dropout", 0.0}}), make_mult);
AUXGRID_REGISTER_MODEL("xmodal", "Baseline 3: cross-modal transformer with weighted residual fusion (d = 130)",
                       ({{"model.layers", I{3}}}), make_xmodal);
AUXGRID_REGISTER_MODEL("xmodal_up", "Baseline 3 upscaled: cross-modal transformer with d = 250",
                       ({{"model.width", I{250}}, {"model.layers", I{3}}}), make_xmodal);

}  // namespace auxgrid::models
