#pragma once
// Every model and every ablation switch of docs/models.md at a tiny size, shared by
// the models and train suites.
#include <string>
#include <utility>
#include <vector>

#include "auxgrid/core/config.hpp"

struct ModelVariant {
  std::string name;                                           // for messages
  std::vector<std::pair<std::string, std::string>> settings;  // --set style
};

inline std::vector<ModelVariant> model_variants() {
  return {
      {"auxformer", {{"model.name", "auxformer"}}},
      {"auxformer no positional encoding", {{"model.name", "auxformer"}, {"model.pos_encoding", "false"}}},
      {"auxformer fusion none", {{"model.name", "auxformer"}, {"model.fusion_block", "none"}}},
      {"auxformer fusion lstm", {{"model.name", "auxformer"}, {"model.fusion_block", "lstm"}}},
      {"auxformer fusion gru", {{"model.name", "auxformer"}, {"model.fusion_block", "gru"}}},
      {"auxformer cls token", {{"model.name", "auxformer"}, {"model.token", "cls"}}},
      {"auxformer mean token", {{"model.name", "auxformer"}, {"model.token", "mean"}}},
      {"auxformer no padding mask", {{"model.name", "auxformer"}, {"model.padding_mask", "false"}}},
      {"auxformer cls token, no padding mask",
       {{"model.name", "auxformer"}, {"model.token", "cls"}, {"model.padding_mask", "false"}}},
      {"auxformer no attention mask", {{"model.name", "auxformer"}, {"model.attention_mask", "none"}}},
      {"auxformer cls token, no attention mask",
       {{"model.name", "auxformer"}, {"model.token", "cls"}, {"model.attention_mask", "none"}}},
      {"auxformer lambdas 0.9/0/0.1",
       {{"model.name", "auxformer"}, {"train.lambda_av", "0.9"}, {"train.lambda_a", "0"}, {"train.lambda_v", "0.1"}}},
      {"baseline1", {{"model.name", "baseline1"}}},
      {"mult", {{"model.name", "mult"}}},
      {"mult_up", {{"model.name", "mult_up"}}},
      {"xmodal", {{"model.name", "xmodal"}}},
      {"xmodal_up", {{"model.name", "xmodal_up"}}},
      {"unimodal audio", {{"model.name", "unimodal"}, {"model.modality", "audio"}}},
      {"unimodal video", {{"model.name", "unimodal"}, {"model.modality", "video"}}},
  };
}

// The variant at width 16, 2 heads, 1 layer (2 in Baseline 4's main branch).
inline auxgrid::Config tiny_variant_config(const ModelVariant& v) {
  auto c = auxgrid::Config::defaults();
  const std::vector<std::pair<std::string, std::string>> tiny = {
      {"model.width", "16"}, {"model.heads", "2"}, {"model.layers", "1"}, {"model.main_layers", "2"}};
  std::vector<std::string> explicit_keys;
  for (const auto& list : {tiny, v.settings})
    for (const auto& [key, value] : list) c.set_from_text(key, value), explicit_keys.push_back(key);
  auxgrid::apply_model_defaults(c, explicit_keys);
  return c;
}
