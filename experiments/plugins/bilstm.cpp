// bilstm: a late-fusion BiLSTM baseline, and the template for a model plugin.
//
// Per modality a bias-free projection to H = model.width, then a one-layer
// bidirectional LSTM whose final forward and backward states summarise the
// utterance. The two summaries [B, 4H] go through dropout (model.out_dropout)
// to a linear classifier: one head, "av", loss weight 1.
//
// Parameters, for audio width Da, video width Dv and C classes:
//   per modality  D H                    projection (no bias)
//                 2 (4H (H + H) + 8H)    LSTM: two directions, W_ih, W_hh, b_ih, b_hh
//   classifier    4H C + C
//   total         (Da + Dv) H + 32 H^2 + 32 H + 4 H C + C
//   = 404,612 at H = 64 (its default), Da = 130, Dv = 4096, C = 4.
//
// Build it with auxgrid_plugin() in CMakeLists.txt (or any shared-library
// build against LibTorch and include/); load it with `plugins = [...]` in a
// grid's [grid] table or with --plugin. It may call what the auxgrid
// executable exports (the models library: projection(), Summary, ...).
#include <torch/torch.h>

#include "auxgrid/models/blocks.hpp"
#include "auxgrid/models/model.hpp"

namespace {

// Everything stays in an anonymous namespace: the auxgrid executable exports
// its own symbols, and an exported name of the plugin could bind to one of them.
using namespace auxgrid;
using namespace auxgrid::models;

class BiLstmImpl : public EmotionModelImpl {
 public:
  BiLstmImpl(const Config& c, const ModelDims& dims) : padding_mask_(c.flag("model.padding_mask")) {
    const auto h = c.integer("model.width");
    const auto lstm = torch::nn::LSTMOptions(h, h).batch_first(true).bidirectional(true);
    audio_proj_ = register_module("audio_proj", projection(dims.audio_dim, h));
    video_proj_ = register_module("video_proj", projection(dims.video_dim, h));
    audio_lstm_ = register_module("audio_lstm", torch::nn::LSTM(lstm));
    video_lstm_ = register_module("video_lstm", torch::nn::LSTM(lstm));
    dropout_ = register_module("dropout", torch::nn::Dropout(c.real("model.out_dropout")));
    out_ = register_module("out", torch::nn::Linear(4 * h, dims.num_classes));
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    const auto h = torch::cat({encode(audio_proj_, audio_lstm_, b.audio, b.audio_mask),
                               encode(video_proj_, video_lstm_, b.video, b.video_mask)},
                              1);
    return {{"av", out_(dropout_(h)), 1.0}};
  }

 private:
  // x [B, T, D], mask [B, T] -> [B, 2H]: the final states of both directions.
  // Packing runs each utterance over its real frames only, so the backward
  // direction starts at the last real frame instead of in the zero padding,
  // and the forward state is that of the last real frame (exact; no padding leaks).
  at::Tensor encode(torch::nn::Linear& proj, torch::nn::LSTM& lstm, const at::Tensor& x, const at::Tensor& mask) {
    // model.padding_mask = false is the reference behaviour of the other
    // models: padded frames count as real.
    auto lengths = padding_mask_ ? mask.sum(1) : torch::full({mask.size(0)}, mask.size(1), torch::kLong);
    // Packing wants int64 lengths on the CPU, each at least 1 (an empty
    // utterance then reads one zero frame).
    lengths = lengths.clamp_min(1).to(torch::kCPU, torch::kLong);
    const auto packed = torch::nn::utils::rnn::pack_padded_sequence(proj(x), lengths, /*batch_first=*/true,
                                                                    /*enforce_sorted=*/false);
    // h_n [2, B, H] (forward, backward), already back in the batch's order.
    const auto h_n = std::get<0>(std::get<1>(lstm->forward_with_packed_input(packed)));
    return torch::cat({h_n[0], h_n[1]}, 1);
  }

  bool padding_mask_;
  torch::nn::Linear audio_proj_{nullptr}, video_proj_{nullptr};
  torch::nn::LSTM audio_lstm_{nullptr}, video_lstm_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear out_{nullptr};
};

// The third argument: settings in which bilstm departs from the global
// defaults (a grid's [settings], [axes] or --set still win).
AUXGRID_REGISTER_MODEL("bilstm", "late-fusion BiLSTM: per modality a bidirectional LSTM, final states concatenated",
                       ({{"model.width", std::int64_t{64}}}), [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<BiLstmImpl>(c, d);
                       });

}  // namespace
