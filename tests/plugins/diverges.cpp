// A model whose loss is not finite, as a diverging model's is: a real failure
// of a cell while it trains (tests/e2e_failures.sh). Bad data can no longer
// cause one: the plan refuses non-finite features before anything trains.
#include <torch/torch.h>

#include <limits>

#include "auxgrid/models/model.hpp"

namespace {

using namespace auxgrid;
using namespace auxgrid::models;

class DivergesImpl : public EmotionModelImpl {
 public:
  DivergesImpl(const Config&, const ModelDims& dims) {
    out_ = register_module("out", torch::nn::Linear(dims.audio_dim, dims.num_classes));
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    const auto logits = out_(b.audio.mean(1)) * std::numeric_limits<float>::infinity();
    return {{"av", logits, 1.0}};
  }

 private:
  torch::nn::Linear out_{nullptr};
};

AUXGRID_REGISTER_MODEL("diverges", "test model: its loss is not finite", ({}),
                       [](const Config& c, const ModelDims& d) -> EmotionModel {
                         return std::make_shared<DivergesImpl>(c, d);
                       });

}  // namespace
