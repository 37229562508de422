#include "auxgrid/models/model.hpp"

#include <dlfcn.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "auxgrid/core/files.hpp"
#include "plugin_probe.hpp"

namespace auxgrid::models {

at::Tensor combined_logits(const std::vector<HeadLogits>& heads) {
  at::Tensor sum;
  int used = 0;
  for (const auto& h : heads) {
    if (h.weight == 0) continue;  // an untrained head would only add noise
    sum = sum.defined() ? sum + h.logits : h.logits;
    ++used;
  }
  AUXGRID_CHECK(used > 0, "model returned no head with a non-zero loss weight");
  return used == 1 ? sum : sum / static_cast<double>(used);
}

at::Tensor weighted_loss(const std::vector<HeadLogits>& heads, const at::Tensor& labels) {
  at::Tensor total;
  for (const auto& h : heads) {
    if (h.weight == 0) continue;
    auto term = torch::cross_entropy_loss(h.logits, labels);
    if (h.weight != 1) term = term * h.weight;
    total = total.defined() ? total + term : term;
  }
  AUXGRID_CHECK(total.defined(), "model returned no head with a non-zero loss weight");
  return total;
}

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

bool queue_model_registration(const std::string& name, ModelEntry entry, SettingDefaults defaults) {
  model_setting_defaults().emplace(name, std::move(defaults));  // a duplicate is reported on first use
  return model_registry().queue(name, std::move(entry));
}

Registry<ModelEntry>& model_registry() {
  static Registry<ModelEntry> registry("model");
  return registry;
}

EmotionModel make_model(const Config& config, const ModelDims& dims) {
  return model_registry().get(config.str("model.name")).make(config, dims);
}

bool is_scripted_model_file(const std::string& path) {
  const auto extension = std::filesystem::path(path).extension();
  return extension == ".pt" || extension == ".pth";
}

std::vector<std::string> load_plugin(const std::string& path) {
  AUXGRID_CHECK(!is_scripted_model_file(path),
                "'{}' is a TorchScript model, not a plugin library: a grid trains it with model.name = "
                "\"torchscript\" and model.path = \"{}\"",
                path, path);
  static std::set<std::string> loaded;
  files::require_regular_file(path, "plugin");
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(path, ec).string();
  AUXGRID_CHECK(!ec, "cannot load plugin '{}': {}", path, ec.message());
  if (loaded.count(canonical)) return {};

  auto& registry = model_registry();
  registry.names();  // takes in what was queued before: the rest is the plugin's
  // A static initialiser that throws, exits or crashes does so in a child.
  probe_plugin(canonical, path);
  // RTLD_NOW: an undefined symbol fails here, naming the plugin, not at first
  // call. RTLD_LOCAL: two plugins' same-named classes must not bind to each other.
  if (!dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL)) AUXGRID_FAIL("cannot load plugin '{}': {}", path, dlerror());
  auto added = registry.take_queued();
  AUXGRID_CHECK(!added.empty(), "plugin '{}' registers no model (it should use AUXGRID_REGISTER_MODEL)", path);
  for (const auto& [name, entry] : added)
    AUXGRID_CHECK(!registry.contains(name), "plugin '{}' registers model '{}', but a model of that name exists", path,
                  name);
  std::vector<std::string> names;
  for (auto& [name, entry] : added) {
    registry.add(name, std::move(entry));
    names.push_back(name);
  }
  loaded.insert(canonical);
  return names;
}

}  // namespace auxgrid::models
