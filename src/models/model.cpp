#include "auxgrid/models/model.hpp"

#include <torch/torch.h>

namespace auxgrid::models {

at::Tensor combined_logits(const std::vector<HeadLogits>& heads) {
  AUXGRID_CHECK(!heads.empty(), "model returned no heads");
  auto sum = heads.front().logits;
  for (std::size_t i = 1; i < heads.size(); ++i) sum = sum + heads[i].logits;
  return sum / static_cast<double>(heads.size());
}

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

Registry<ModelEntry>& model_registry() {
  static Registry<ModelEntry> registry("model");
  return registry;
}

EmotionModel make_model(const Config& config, const ModelDims& dims) {
  return model_registry().get(config.str("model.name")).make(config, dims);
}

}  // namespace auxgrid::models
