// AuxFormer (the proposed model) and Baseline 1 (AuxFormer without its
// auxiliary networks), MODELS.md. With d = 130, 10 heads and 5 layers the
// parameter counts are 7,053,180 + 392 C and 4,775,950 + 261 C.
#include <torch/torch.h>

#include "auxgrid/models/blocks.hpp"
#include "auxgrid/models/model.hpp"

namespace auxgrid::models {

namespace {

namespace F = torch::nn::functional;

class AuxFormerImpl : public EmotionModelImpl {
 public:
  AuxFormerImpl(const Config& c, const ModelDims& dims, bool auxiliary)
      : auxiliary_(auxiliary),
        width_(c.integer("model.width")),
        aux_repeats_(c.integer("model.aux_repeats")),
        out_dropout_(c.real("model.out_dropout")),
        padding_mask_(c.flag("model.padding_mask")) {
    auto base = EncoderOptions(width_, c.integer("model.heads"))
                    .layers(c.integer("model.layers"))
                    .embed_dropout(c.real("model.embed_dropout"))
                    .res_dropout(c.real("model.res_dropout"))
                    .relu_dropout(c.real("model.relu_dropout"))
                    .padding_mask(padding_mask_);
    auto cross = EncoderOptions(base).attn_dropout(c.real("model.attn_dropout_cross"))
                     .positional_encoding(c.flag("model.pos_encoding"));
    auto self = EncoderOptions(base).attn_dropout(c.real("model.attn_dropout_self"));

    // Kernel-1 Conv1d without bias == a bias-free Linear over the feature axis.
    audio_proj_ = register_module("audio_proj", torch::nn::Linear(torch::nn::LinearOptions(dims.audio_dim, width_).bias(false)));
    video_proj_ = register_module("video_proj", torch::nn::Linear(torch::nn::LinearOptions(dims.video_dim, width_).bias(false)));
    a_with_v_ = register_module("a_with_v", Encoder(cross));
    v_with_a_ = register_module("v_with_a", Encoder(cross));
    a_mem_ = register_module("a_mem", Encoder(EncoderOptions(self).learnable_scaling(true)));
    v_mem_ = register_module("v_mem", Encoder(EncoderOptions(self).learnable_scaling(true)));
    const auto fused = 2 * width_;
    fuse1_ = register_module("fuse1", torch::nn::Linear(fused, fused));
    fuse2_ = register_module("fuse2", torch::nn::Linear(fused, fused));
    out_ = register_module("out", torch::nn::Linear(fused, dims.num_classes));
    if (auxiliary_) {
      audio_aux_ = register_module("audio_aux", Encoder(self));
      video_aux_ = register_module("video_aux", Encoder(self));
      aux1_ = register_module("aux1", torch::nn::Linear(width_, 512));
      aux2_ = register_module("aux2", torch::nn::Linear(512, 256));
      aux3_ = register_module("aux3", torch::nn::Linear(256, width_));
      aux_out_ = register_module("aux_out", torch::nn::Linear(width_, dims.num_classes));
    }
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    auto a = audio_proj_(b.audio), v = video_proj_(b.video);
    auto a_fused = a_mem_(a_with_v_(a, b.audio_mask, v, b.video_mask), b.audio_mask);
    auto v_fused = v_mem_(v_with_a_(v, b.video_mask, a, b.audio_mask), b.video_mask);
    auto h = torch::cat({token(a_fused, b.audio_mask), token(v_fused, b.video_mask)}, 1);
    h = h + fuse2_(dropout(torch::relu(fuse1_(h))));
    std::vector<HeadLogits> heads{{"av", out_(h)}};
    if (auxiliary_) {
      heads.push_back({"a", auxiliary_head(audio_aux_, a, b.audio_mask)});
      heads.push_back({"v", auxiliary_head(video_aux_, v, b.video_mask)});
    }
    return heads;
  }

 private:
  at::Tensor dropout(const at::Tensor& x) {
    return F::dropout(x, F::DropoutFuncOptions().p(out_dropout_).training(is_training()));
  }
  // The reference takes the last (possibly padded) step; with masks, the last real frame.
  at::Tensor token(const at::Tensor& x, const at::Tensor& mask) {
    return padding_mask_ ? last_valid(x, mask) : x.select(1, x.size(1) - 1);
  }
  // One encoder applied aux_repeats times with shared weights, then the MLP
  // (with a residual) and the output layer that both modalities share.
  at::Tensor auxiliary_head(Encoder& encoder, at::Tensor x, const at::Tensor& mask) {
    for (std::int64_t i = 0; i < aux_repeats_; ++i) x = encoder(x, mask);
    auto t = token(x, mask);
    auto mlp = aux3_(dropout(torch::relu(aux2_(dropout(torch::relu(aux1_(t)))))));
    return aux_out_(t + mlp);
  }

  bool auxiliary_;
  std::int64_t width_, aux_repeats_;
  double out_dropout_;
  bool padding_mask_;
  torch::nn::Linear audio_proj_{nullptr}, video_proj_{nullptr};
  Encoder a_with_v_{nullptr}, v_with_a_{nullptr}, a_mem_{nullptr}, v_mem_{nullptr};
  torch::nn::Linear fuse1_{nullptr}, fuse2_{nullptr}, out_{nullptr};
  Encoder audio_aux_{nullptr}, video_aux_{nullptr};
  torch::nn::Linear aux1_{nullptr}, aux2_{nullptr}, aux3_{nullptr}, aux_out_{nullptr};
};

}  // namespace

AUXGRID_REGISTER_MODEL("auxformer", "AuxFormer: cross-modal transformer + auxiliary unimodal networks (ours)",
                       [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<AuxFormerImpl>(c, d, true);
                       });
AUXGRID_REGISTER_MODEL("baseline1", "Baseline 1: AuxFormer without the auxiliary networks",
                       [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<AuxFormerImpl>(c, d, false);
                       });

}  // namespace auxgrid::models
