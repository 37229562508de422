// AuxFormer (the proposed model), Baseline 1 (AuxFormer without auxiliary
// networks) and Baseline 4 (unimodal), docs/models.md. With the paper's sizes
// (d = 130, 10 heads, 5 layers, audio 130, video 4096):
//   auxformer  7,053,180 + 392 C   (7,054,748 at C = 4, exact)
//   baseline1  4,775,950 + 261 C   (4,776,994 at C = 4, exact)
//   unimodal   docs/models.md leaves the main branch open. We use one self-attention
//              encoder with learnable scaling and positional encoding of
//              model.main_layers = 13 layers, AuxFormer's output block at
//              width d, and AuxFormer's auxiliary network, loss weights 1/2.
//              At C = 4: video 4,480,751 (+2.7 % against the paper's
//              4,364,354), audio 3,965,171 (-9.1 %): the modalities differ only
//              in the input projection (4096 x 130 against 130 x 130). 13 layers
//              is the only depth that keeps both within 10 %.
#include <torch/torch.h>

#include "auxgrid/models/blocks.hpp"
#include "auxgrid/models/model.hpp"

namespace auxgrid::models {

namespace {

// The auxiliary network of one modality: a self-attention encoder applied
// aux_repeats times with the same weights; its summary feeds an output block
// (AuxFormer shares one block between both modalities).
at::Tensor auxiliary_summary(Encoder& encoder, at::Tensor x, const at::Tensor& mask, std::int64_t repeats,
                             const Summary& summary) {
  for (std::int64_t i = 0; i < repeats; ++i) x = encoder(x, mask);
  return summary(x, mask);
}

ResidualHead auxiliary_head(const ModelSettings& s, std::int64_t classes) {
  return ResidualHead(ResidualHeadOptions(s.width, classes).hidden({512, 256}).dropout(s.out_dropout));
}

// Inputs as the model sees them: projected, with a CLS token when asked for.
struct Stream {
  at::Tensor x, mask;
};
Stream stream(const at::Tensor& features, const at::Tensor& mask, const torch::nn::Linear& proj,
              bool project_same_width, const Summary& summary, const at::Tensor& cls) {
  Stream s;
  std::tie(s.x, s.mask) = summary.with_cls(project(features, proj, project_same_width), mask, cls);
  return s;
}

class AuxFormerImpl : public EmotionModelImpl {
 public:
  AuxFormerImpl(const ModelSettings& s, const ModelDims& dims, bool auxiliary)
      : auxiliary_(auxiliary),
        project_same_width_(s.project_same_width),
        summary_(s.summary()),
        aux_repeats_(s.aux_repeats),
        weights_{s.lambda_av, s.lambda_a, s.lambda_v} {
    AUXGRID_CHECK(!auxiliary || weights_[0] + weights_[1] + weights_[2] > 0,
                  "the loss weights train.lambda_av, train.lambda_a, train.lambda_v are all zero");
    const auto d = s.width;
    const auto self = s.encoder();
    const auto cross = EncoderOptions(self).attn_dropout(s.attn_dropout_cross).positional_encoding(s.pos_encoding);
    audio_proj_ = register_module("audio_proj", projection(dims.audio_dim, d));
    video_proj_ = register_module("video_proj", projection(dims.video_dim, d));
    if (s.token == Token::cls) {
      audio_cls_ = register_parameter("audio_cls", torch::randn({d}) * 0.02);
      video_cls_ = register_parameter("video_cls", torch::randn({d}) * 0.02);
    }
    a_with_v_ = register_module("a_with_v", Encoder(cross));
    v_with_a_ = register_module("v_with_a", Encoder(cross));
    a_mem_ = register_module("a_mem", SequenceBlock(s.fusion_block, self));
    v_mem_ = register_module("v_mem", SequenceBlock(s.fusion_block, self));
    head_ = register_module(
        "head", ResidualHead(ResidualHeadOptions(2 * d, dims.num_classes).hidden({2 * d}).dropout(s.out_dropout)));
    if (auxiliary_) {
      audio_aux_ = register_module("audio_aux", Encoder(self));
      video_aux_ = register_module("video_aux", Encoder(self));
      aux_head_ = register_module("aux_head", auxiliary_head(s, dims.num_classes));
    }
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    const auto a = stream(b.audio, b.audio_mask, audio_proj_, project_same_width_, summary_, audio_cls_);
    const auto v = stream(b.video, b.video_mask, video_proj_, project_same_width_, summary_, video_cls_);
    auto a_fused = a_mem_(a_with_v_(a.x, a.mask, v.x, v.mask), a.mask);
    auto v_fused = v_mem_(v_with_a_(v.x, v.mask, a.x, a.mask), v.mask);
    auto h = torch::cat({summary_(a_fused, a.mask), summary_(v_fused, v.mask)}, 1);
    if (!auxiliary_) return {{"av", head_(h), 1.0}};
    const auto aux = [&](Encoder& encoder, const Stream& s) {
      return aux_head_(auxiliary_summary(encoder, s.x, s.mask, aux_repeats_, summary_));
    };
    return {
        {"av", head_(h), weights_[0]}, {"a", aux(audio_aux_, a), weights_[1]}, {"v", aux(video_aux_, v), weights_[2]}};
  }

 private:
  bool auxiliary_, project_same_width_;
  Summary summary_;
  std::int64_t aux_repeats_;
  double weights_[3];
  torch::nn::Linear audio_proj_{nullptr}, video_proj_{nullptr};
  at::Tensor audio_cls_, video_cls_;
  Encoder a_with_v_{nullptr}, v_with_a_{nullptr};
  SequenceBlock a_mem_{nullptr}, v_mem_{nullptr};
  ResidualHead head_{nullptr};
  Encoder audio_aux_{nullptr}, video_aux_{nullptr};
  ResidualHead aux_head_{nullptr};
};

// Baseline 4: one modality, an auxiliary network and a main branch, averaged.
class UnimodalImpl : public EmotionModelImpl {
 public:
  UnimodalImpl(const ModelSettings& s, const ModelDims& dims)
      : audio_(s.audio), project_same_width_(s.project_same_width), summary_(s.summary()), aux_repeats_(s.aux_repeats) {
    const auto d = s.width;
    const auto self = s.encoder();
    proj_ = register_module("proj", projection(audio_ ? dims.audio_dim : dims.video_dim, d));
    if (s.token == Token::cls) cls_ = register_parameter("cls", torch::randn({d}) * 0.02);
    main_ = register_module(
        "main",
        Encoder(
            EncoderOptions(self).layers(s.main_layers).positional_encoding(s.pos_encoding).learnable_scaling(true)));
    head_ = register_module("head",
                            ResidualHead(ResidualHeadOptions(d, dims.num_classes).hidden({d}).dropout(s.out_dropout)));
    aux_ = register_module("aux", Encoder(self));
    aux_head_ = register_module("aux_head", auxiliary_head(s, dims.num_classes));
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    const auto s = audio_ ? stream(b.audio, b.audio_mask, proj_, project_same_width_, summary_, cls_)
                          : stream(b.video, b.video_mask, proj_, project_same_width_, summary_, cls_);
    return {{"main", head_(summary_(main_(s.x, s.mask), s.mask)), 0.5},
            {"aux", aux_head_(auxiliary_summary(aux_, s.x, s.mask, aux_repeats_, summary_)), 0.5}};
  }

 private:
  bool audio_, project_same_width_;
  Summary summary_;
  std::int64_t aux_repeats_;
  torch::nn::Linear proj_{nullptr};
  at::Tensor cls_;
  Encoder main_{nullptr}, aux_{nullptr};
  ResidualHead head_{nullptr}, aux_head_{nullptr};
};

}  // namespace

AUXGRID_REGISTER_MODEL("auxformer", "AuxFormer: cross-modal transformer + auxiliary unimodal networks (ours)", {},
                       [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<AuxFormerImpl>(ModelSettings::from(c), d, true);
                       });
AUXGRID_REGISTER_MODEL("baseline1", "Baseline 1: AuxFormer without the auxiliary networks", {},
                       [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<AuxFormerImpl>(ModelSettings::from(c), d, false);
                       });
AUXGRID_REGISTER_MODEL("unimodal", "Baseline 4: one modality (model.modality), auxiliary network + main branch", {},
                       [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<UnimodalImpl>(ModelSettings::from(c), d);
                       });

}  // namespace auxgrid::models
