#pragma once
// The interface every model implements, the model registry and plugins.
//
// A model returns the logits of all its heads, each with its loss weight
// (AuxFormer: train.lambda_av / _a / _v; Baseline 4: 1/2 each; one head: 1).
// The trainer minimises the weighted sum of the heads' cross-entropies and
// predicts with the mean logits of the heads whose weight is not zero.
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
  std::string head;   // "av", "a", "v", ...
  at::Tensor logits;  // [B, C]
  double weight = 1;  // of this head's loss
};

struct ModelDims {
  std::int64_t audio_dim = 0, video_dim = 0, num_classes = 0;
};

class EmotionModelImpl : public torch::nn::Module {
 public:
  virtual std::vector<HeadLogits> forward(const data::Batch& batch) = 0;
};
using EmotionModel = std::shared_ptr<EmotionModelImpl>;

// The logits for prediction and the dev loss: the mean over weighted heads.
at::Tensor combined_logits(const std::vector<HeadLogits>& heads);
// The training loss: sum over heads of weight x cross-entropy.
at::Tensor weighted_loss(const std::vector<HeadLogits>& heads, const at::Tensor& labels);

std::int64_t count_parameters(const torch::nn::Module& module);

struct ModelEntry {
  std::string description;
  std::function<EmotionModel(const Config&, const ModelDims&)> make;
};

// Registrations made while the program or a plugin loads are queued (they must
// not throw there) and enter the registry on its first use after that, where
// a duplicate name is an error.
bool queue_model_registration(const std::string& name, ModelEntry entry, SettingDefaults defaults);
Registry<ModelEntry>& model_registry();

// Builds config's model.name for the given input widths and classes.
EmotionModel make_model(const Config& config, const ModelDims& dims);

// Loads a plugin (a shared library using AUXGRID_REGISTER_MODEL) and returns
// the model names it registered. Errors name the file: it does not exist or
// cannot be loaded (e.g. an undefined symbol), it registers no model, or a
// name it registers is taken. Loading the same file twice is a no-op.
std::vector<std::string> load_plugin(const std::string& path);

// A scripted PyTorch model file (model.name = "torchscript"), as `auxgrid
// models --plugin FILE` lists it: built for its own widths and classes, with
// every check a grid's cell gets. Throws naming the file.
struct ScriptedModelInfo {
  std::string type_name;  // the PyTorch class
  ModelDims dims;         // its audio_dim, video_dim and num_classes
  std::vector<std::string> heads;
  std::int64_t parameters = 0;
  bool resets_parameters = false;  // an exported reset_parameters(): each seed draws its own initial weights
};
ScriptedModelInfo inspect_scripted_model(const std::string& path);
// What a grid using the file is warned of (empty: nothing): without
// reset_parameters, every seed starts from the weights saved in the file.
std::string scripted_model_warning(const std::string& path);
// A ".pt" or ".pth" file: PyTorch's names for what torch.jit.save writes.
bool is_scripted_model_file(const std::string& path);

}  // namespace auxgrid::models

// At namespace scope:
//   AUXGRID_REGISTER_MODEL("name", "one-line description", {}, factory);
//   AUXGRID_REGISTER_MODEL("name", "...", ({{"model.width", std::int64_t{30}}, ...}), factory);
// where factory is callable as (const Config&, const ModelDims&) -> EmotionModel
// and the third argument lists the model's own setting defaults (a non-empty
// list in parentheses, because of the commas).
#define AUXGRID_REGISTER_MODEL(name, description, defaults, ...)                      \
  static const bool AUXGRID_REGISTERED = ::auxgrid::models::queue_model_registration( \
      name, {description, __VA_ARGS__}, ::auxgrid::SettingDefaults defaults)
