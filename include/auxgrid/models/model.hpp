#pragma once
// The interface every model implements, and the model registry.
//
// A model returns the logits of all its heads; the trainer weighs each head's
// loss by `train.lambda_<head>` (a single-head model's loss has weight 1) and
// predicts with the mean of the heads' logits (AuxFormer: (av + a + v) / 3).
#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auxgrid/core/config.hpp"
#include "auxgrid/core/registry.hpp"
#include "auxgrid/data/batch.hpp"

namespace auxgrid::models {

struct HeadLogits {
  std::string head;  // "av", "a" or "v"
  at::Tensor logits; // [B, C]
};

struct ModelDims {
  std::int64_t audio_dim = 0, video_dim = 0, num_classes = 0;
};

class EmotionModelImpl : public torch::nn::Module {
 public:
  virtual std::vector<HeadLogits> forward(const data::Batch& batch) = 0;
};
using EmotionModel = std::shared_ptr<EmotionModelImpl>;

// The logits used for prediction and the dev loss: the mean over heads.
at::Tensor combined_logits(const std::vector<HeadLogits>& heads);

std::int64_t count_parameters(const torch::nn::Module& module);

struct ModelEntry {
  std::string description;
  std::function<EmotionModel(const Config&, const ModelDims&)> make;
};
Registry<ModelEntry>& model_registry();

EmotionModel make_model(const Config& config, const ModelDims& dims);

}  // namespace auxgrid::models

#define AUXGRID_CONCAT_INNER(a, b) a##b
#define AUXGRID_CONCAT(a, b) AUXGRID_CONCAT_INNER(a, b)
// AUXGRID_REGISTER_MODEL("name", "one-line description", factory) at namespace
// scope, where factory is callable as (const Config&, const ModelDims&) -> EmotionModel.
#define AUXGRID_REGISTER_MODEL(name, description, ...)                                     \
  static const bool AUXGRID_CONCAT(auxgrid_model_registered_, __COUNTER__) =               \
      (::auxgrid::models::model_registry().add(name, {description, __VA_ARGS__}), true)
