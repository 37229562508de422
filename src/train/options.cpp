#include "auxgrid/train/options.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>
#include <utility>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"

namespace auxgrid::train {

namespace {

const char* modality_name(Modality m) { return m == Modality::audio ? "audio" : "video"; }

// The enum value a string setting names (Config has checked it against its choices).
template <class E>
E choice(const Config& config, const std::string& key, std::initializer_list<std::pair<const char*, E>> values) {
  const auto text = config.str(key);
  for (const auto& [name, value] : values)
    if (text == name) return value;
  AUXGRID_FAIL("setting '{}' = '{}' is not a value this build knows", key, text);
}

}  // namespace

std::string EvalCondition::name() const {
  switch (kind) {
    case Kind::ideal: return "ideal";
    case Kind::only: return fmt::format("{}_only", modality_name(modality));
    case Kind::masked: return fmt::format("mask_{}_p{}", modality_name(modality), keep_percent);
  }
  return "";
}

const std::vector<EvalCondition>& known_conditions() {
  static const std::vector<EvalCondition> conditions = [] {
    using K = EvalCondition::Kind;
    std::vector<EvalCondition> c{{K::ideal}, {K::only, Modality::audio}, {K::only, Modality::video}};
    for (auto modality : {Modality::audio, Modality::video})
      for (int p = 10; p <= 90; p += 10) c.push_back({K::masked, modality, p});
    return c;
  }();
  return conditions;
}

EvalCondition EvalCondition::parse(const std::string& name) {
  for (const auto& c : known_conditions())
    if (c.name() == name) return c;
  std::vector<std::string> names;
  for (const auto& c : known_conditions()) names.push_back(c.name());
  AUXGRID_FAIL("eval.conditions: unknown condition '{}' (known: {})", files::shortened(name), fmt::join(names, ", "));
}

std::vector<EvalCondition> parse_conditions(const std::string& list) {
  std::vector<EvalCondition> out;
  std::stringstream items(list);
  for (std::string item; std::getline(items, item, ',');) {
    if (item.empty()) continue;
    if (item == "all")
      out.insert(out.end(), known_conditions().begin(), known_conditions().end());
    else
      out.push_back(EvalCondition::parse(item));
  }
  AUXGRID_CHECK(!out.empty(), "eval.conditions is empty");
  return out;
}

TrainOptions TrainOptions::from(const Config& c) {
  TrainOptions o;
  o.seed = static_cast<std::uint64_t>(c.integer("seed"));
  o.train_fraction = c.real("data.train_fraction");
  o.dev_fraction = c.real("data.dev_fraction");
  o.normalize_audio = c.flag("data.normalize_audio");
  o.padding_masked = c.flag("model.padding_mask");
  o.fixed_padding = c.str("data.padding") == "fixed";
  o.procedure =
      choice<Procedure>(c, "train.procedure", {{"standard", Procedure::standard}, {"optimized", Procedure::optimized}});
  o.modality_drop =
      choice<ModalityDrop>(c, "train.modality_drop", {{"split", ModalityDrop::split}, {"batch", ModalityDrop::batch}});
  o.dev_drop = choice<DevDrop>(c, "train.dev_drop", {{"as_training", DevDrop::as_training}, {"none", DevDrop::none}});
  o.batching = choice<Batching>(c, "train.batching", {{"buckets", Batching::buckets}, {"random", Batching::random}});
  o.precision = choice<Precision>(c, "train.precision", {{"fp32", Precision::fp32}, {"bf16", Precision::bf16}});
  o.scheduler = choice<Scheduler>(c, "train.scheduler", {{"plateau", Scheduler::plateau}, {"step5", Scheduler::step5}});
  o.epochs = static_cast<int>(c.integer("train.epochs"));
  o.batch_size = c.integer("train.batch_size");
  o.lr = c.real("train.lr");
  o.clip = c.real("train.clip");
  o.early_stop = static_cast<int>(c.integer("train.early_stop"));
  o.conditions = parse_conditions(c.str("eval.conditions"));
  return o;
}

}  // namespace auxgrid::train
