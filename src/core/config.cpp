#include "auxgrid/core/config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/hash.hpp"

namespace auxgrid {

namespace {
using I = std::int64_t;

// A table, one entry a setting (90 lines): splitting it would only scatter the
// settings' declarations.
std::vector<SettingSpec> make_specs() {
  // Defaults are the paper's (docs/protocol.md, docs/models.md); tests and the
  // quickstart override widths and epochs from their grid files.
  return {
      {"seed", I{0}, "trial k: seed of the split, the initialisation and the data order", {}, 0, 1e9},
      {"data.corpus", std::string(), "corpus file (HDF5, see `auxgrid synth`)", {}},
      {"data.train_fraction", 0.70, "share of utterances in train (speaker-independent)", {}, 0.05, 0.95},
      {"data.dev_fraction", 0.15, "share of utterances in dev", {}, 0.01, 0.9},
      {"data.padding",
       std::string("batch"),
       "pad each batch to its longest utterance, or every utterance to the corpus's longest per modality "
       "(fixed: the released pipeline's data files)",
       {"batch", "fixed"}},
      {"data.normalize_audio", true, "z-normalise audio features with the training speakers' statistics", {}},
      {"model.name", std::string("auxformer"), "registered model name (`auxgrid models`)", {}},
      {"model.audio_dim", I{0}, "audio feature width; 0 = take it from the corpus", {}, 0, 1e6},
      {"model.video_dim", I{0}, "video feature width; 0 = take it from the corpus", {}, 0, 1e6},
      {"model.width", I{130}, "model width d", {}, 2, 1e5},
      {"model.heads", I{10}, "attention heads (must divide model.width)", {}, 1, 1024},
      {"model.layers", I{5}, "layers per encoder", {}, 1, 64},
      {"model.aux_repeats", I{3}, "times the auxiliary encoder is applied with shared weights", {}, 1, 16},
      {"model.embed_dropout", 0.25, "dropout after input scaling / positional encoding", {}, 0, 0.99},
      {"model.attn_dropout_cross", 0.0, "attention-weight dropout in cross-modal encoders", {}, 0, 0.99},
      {"model.attn_dropout_self", 0.1, "attention-weight dropout in self-attention encoders", {}, 0, 0.99},
      {"model.res_dropout", 0.1, "dropout before each residual add", {}, 0, 0.99},
      {"model.relu_dropout", 0.1, "dropout after the feed-forward ReLU", {}, 0, 0.99},
      {"model.out_dropout", 0.2, "dropout in the output heads", {}, 0, 0.99},
      {"model.pos_encoding", true, "sinusoidal positional encoding in the cross-modal encoders", {}},
      {"model.padding_mask", true, "mask padded frames as keys (false = reference behaviour)", {}},
      // The released code's rules by default (docs/models.md, "Fidelity to the released code").
      {"model.positions",
       std::string("nonzero_input"),
       "which frames get a positional encoding: those whose input's channel 0 is not zero (released code), "
       "or every real frame",
       {"nonzero_input", "valid_frames"}},
      {"model.input_projection",
       std::string("when_widths_differ"),
       "project an input only when its width differs from model.width (released code), or always",
       {"when_widths_differ", "always"}},
      {"model.init",
       std::string("released"),
       "encoder initialisation: Xavier-uniform feed-forward layers with zero biases (released code), "
       "or LibTorch's defaults",
       {"released", "libtorch"}},
      {"model.attention_mask",
       std::string("causal"),
       "attention mask: causal = a query frame t attends key frames j <= t + |S - T| in every encoder "
       "(released code's --attn_mask), none = every frame",
       {"causal", "none"}},
      {"model.kv_dropout",
       std::string("separate"),
       "cross-modal embedding dropout: separate masks for keys and values (released code), or one shared mask",
       {"separate", "shared"}},
      {"model.fusion_block",
       std::string("scaled_attention"),
       "AuxFormer's block after fusion (Figure 6)",
       {"scaled_attention", "none", "lstm", "gru"}},
      {"model.token",
       std::string("last"),
       "sequence summary: last real frame, CLS token, mean (Figure 7)",
       {"last", "cls", "mean"}},
      {"model.modality", std::string("audio"), "unimodal (Baseline 4): the one modality it sees", {"audio", "video"}},
      {"model.main_layers", I{13}, "unimodal (Baseline 4): layers of the main self-attention branch", {}, 1, 64},
      {"model.cross_layers", I{1}, "xmodal (Baseline 3): layers of each cross-modal block", {}, 1, 64},
      {"model.path",
       std::string(),
       "torchscript: the scripted module's file (relative to the grid file)",
       {},
       -1e300,
       1e300,
       /*identifies=*/false},
      {"model.file_hash",
       std::string(),
       "torchscript: FNV-1a hash of model.path's bytes, set by the grid (a changed file makes new cells)",
       {}},
      {"model.head_weights",
       std::string(),
       "torchscript: the heads' loss weights, comma-separated (empty = the module's head_weights, else 1 each)",
       {}},
      {"train.procedure",
       std::string("standard"),
       "standard: data unaltered; optimized: modality dropping",
       {"standard", "optimized"}},
      {"train.modality_drop",
       std::string("split"),
       "optimized procedure: split = 20/20/60 % inside each batch; batch = whole batch",
       {"split", "batch"}},
      {"train.dev_drop",
       std::string("as_training"),
       "optimized procedure: the dev set's modalities dropped as in training, redrawn each epoch (released code's "
       "model_eval), or none (the ideal dev set)",
       {"as_training", "none"}},
      {"train.epochs", I{25}, "training epochs", {}, 1, 10000},
      {"train.batch_size", I{32}, "utterances per batch", {}, 1, 65536},
      {"train.lr", 7.25e-4, "Adam learning rate", {}, 1e-9, 10},
      {"train.clip", 0.8, "gradient-norm clip (0 = off)", {}, 0, 1e6},
      {"train.batching",
       std::string("buckets"),
       "buckets: batches of similar lengths (less padding; batch order random); random: any utterances together",
       {"buckets", "random"}},
      {"train.precision",
       std::string("fp32"),
       "fp32, or bf16: forward passes autocast to bfloat16 (LibTorch's autocast; CUDA, or the CPU with LibTorch 2.x)",
       {"fp32", "bf16"}},
      {"train.early_stop", I{0}, "stop after this many epochs without a lower dev loss (0 = never)", {}, 0, 10000},
      {"train.scheduler",
       std::string("plateau"),
       "plateau: ReduceLROnPlateau(5, 0.1) on dev loss; step5: x0.1 every 5 epochs",
       {"plateau", "step5"}},
      {"train.lambda_av", 1.0 / 3, "weight of the audiovisual loss", {}, 0, 1},
      {"train.lambda_a", 1.0 / 3, "weight of the audio auxiliary loss", {}, 0, 1},
      {"train.lambda_v", 1.0 / 3, "weight of the video auxiliary loss", {}, 0, 1},
      {"eval.conditions",
       std::string("all"),
       "comma-separated evaluation conditions, or all: ideal, audio_only, video_only, mask_audio_p10..p90, "
       "mask_video_p10..p90 (pNN: NN % of the modality's frames kept, the rest zeroed)",
       {}},
  };
}

bool is_number(const Value& v) { return std::holds_alternative<I>(v) || std::holds_alternative<double>(v); }
double as_double(const Value& v) {
  return std::holds_alternative<I>(v) ? static_cast<double>(std::get<I>(v)) : std::get<double>(v);
}
const char* type_name(const Value& v) {
  switch (v.index()) {
    case 0: return "boolean";
    case 1: return "integer";
    case 2: return "number";
    default: return "string";
  }
}
std::string in(const std::string& where) { return where.empty() ? "" : where + ": "; }
}  // namespace

std::string to_string(const Value& v) {
  switch (v.index()) {
    case 0: return std::get<bool>(v) ? "true" : "false";
    case 1: return std::to_string(std::get<I>(v));
    case 2: return fmt::format("{}", std::get<double>(v));  // shortest round-trip form
    default: return std::get<std::string>(v);
  }
}

const std::vector<SettingSpec>& setting_specs() {
  static const std::vector<SettingSpec> specs = make_specs();
  return specs;
}

const SettingSpec* find_setting(const std::string& key) {
  for (const auto& s : setting_specs())
    if (s.key == key) return &s;
  return nullptr;
}

Config Config::defaults() {
  Config c;
  for (const auto& s : setting_specs()) c.values_[s.key] = s.default_value;
  return c;
}

void Config::set(const std::string& key, const Value& value, const std::string& where) {
  const SettingSpec* spec = find_setting(key);
  if (!spec) {
    std::vector<std::string> same_group;
    const auto prefix = key.substr(0, key.find('.') + 1);
    for (const auto& s : setting_specs())
      if (s.key.rfind(prefix, 0) == 0) same_group.push_back(s.key);
    AUXGRID_FAIL("{}unknown setting '{}'{}", in(where), key,
                 same_group.empty() ? "" : fmt::format(" (known {}*: {})", prefix, fmt::join(same_group, ", ")));
  }
  Value v = value;
  const Value& d = spec->default_value;
  if (std::holds_alternative<double>(d) && std::holds_alternative<I>(v)) v = as_double(v);
  AUXGRID_CHECK(v.index() == d.index(), "{}setting '{}' must be a {}, got {} '{}'", in(where), key, type_name(d),
                type_name(v), files::shortened(to_string(v)));
  if (is_number(v)) {
    const double x = as_double(v);
    AUXGRID_CHECK(std::isfinite(x) && x >= spec->min && x <= spec->max, "{}setting '{}' = {} is outside [{}, {}]",
                  in(where), key, files::shortened(to_string(v)), spec->min, spec->max);
  }
  if (!spec->choices.empty()) {
    const auto& s = std::get<std::string>(v);
    AUXGRID_CHECK(std::find(spec->choices.begin(), spec->choices.end(), s) != spec->choices.end(),
                  "{}setting '{}' = '{}' is not one of: {}", in(where), key, files::shortened(s),
                  fmt::join(spec->choices, ", "));
  }
  values_[key] = v;
}

void Config::set_from_text(const std::string& key, const std::string& text, const std::string& where) {
  const SettingSpec* spec = find_setting(key);
  if (!spec) return set(key, text, where);  // reports the unknown key
  try {
    switch (spec->default_value.index()) {
      case 0:
        AUXGRID_CHECK(text == "true" || text == "false", "{}setting '{}' must be true or false, got '{}'", in(where),
                      key, files::shortened(text));
        return set(key, text == "true", where);
      case 1: {
        std::size_t used = 0;
        const I x = std::stoll(text, &used);
        AUXGRID_CHECK(used == text.size(), "{}setting '{}' must be an integer, got '{}'", in(where), key,
                      files::shortened(text));
        return set(key, x, where);
      }
      case 2: {
        std::size_t used = 0;
        const double x = std::stod(text, &used);
        AUXGRID_CHECK(used == text.size(), "{}setting '{}' must be a number, got '{}'", in(where), key,
                      files::shortened(text));
        return set(key, x, where);
      }
      default: return set(key, text, where);
    }
  } catch (const std::logic_error&) {  // stoll / stod
    AUXGRID_FAIL("{}setting '{}' must be a {}, got '{}'", in(where), key, type_name(spec->default_value),
                 files::shortened(text));
  }
}

const Value& Config::get(const std::string& key) const {
  auto it = values_.find(key);
  AUXGRID_CHECK(it != values_.end(), "setting '{}' is not set", key);
  return it->second;
}
namespace {
// The value of `key` as a T, or an error naming the key and both types.
template <class T>
const T& typed(const Value& v, const std::string& key, const char* wanted) {
  const T* x = std::get_if<T>(&v);
  AUXGRID_CHECK(x, "setting '{}' is read as a {}, but holds a {} ('{}')", key, wanted, type_name(v),
                files::shortened(to_string(v)));
  return *x;
}
}  // namespace

std::string Config::str(const std::string& key) const { return typed<std::string>(get(key), key, "string"); }
std::int64_t Config::integer(const std::string& key) const { return typed<I>(get(key), key, "integer"); }
double Config::real(const std::string& key) const {
  const Value& v = get(key);
  AUXGRID_CHECK(is_number(v), "setting '{}' is read as a number, but holds a {} ('{}')", key, type_name(v),
                to_string(v));
  return as_double(v);
}
bool Config::flag(const std::string& key) const { return typed<bool>(get(key), key, "boolean"); }

std::string Config::canonical() const {
  // Only settings that differ from their default enter the id, so that a key
  // added later (with a default that keeps the old behaviour) does not change
  // the ids of results already on disk. Result files record every setting.
  std::string out;
  for (const auto& [k, v] : values_) {
    const SettingSpec* spec = find_setting(k);
    if (spec && (spec->default_value == v || !spec->identifies)) continue;
    out += k + "=" + to_string(v) + "\n";
  }
  return out;
}

std::string fnv1a_hex(const std::string& text) { return fmt::format("{:016x}", fnv1a(text.data(), text.size())); }

std::string file_fnv1a_hex(const std::string& path) {
  files::require_regular_file(path, "file");
  std::ifstream in(path, std::ios::binary);
  AUXGRID_CHECK(in, "cannot read '{}' ({})", path, std::strerror(errno));
  std::uint64_t h = kFnv1aOffsetBasis;
  std::vector<char> chunk(1 << 20);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)
    h = fnv1a(chunk.data(), static_cast<std::size_t>(in.gcount()), h);
  AUXGRID_CHECK(in.eof(), "cannot read '{}' to its end ({})", path, std::strerror(errno));
  return fmt::format("{:016x}", h);
}

std::string Config::id() const { return fnv1a_hex(canonical()); }

std::map<std::string, SettingDefaults>& model_setting_defaults() {
  static std::map<std::string, SettingDefaults> defaults;
  return defaults;
}

void apply_model_defaults(Config& config, const std::vector<std::string>& explicit_keys) {
  const auto it = model_setting_defaults().find(config.str("model.name"));
  if (it == model_setting_defaults().end()) return;
  for (const auto& [key, value] : it->second)
    if (std::find(explicit_keys.begin(), explicit_keys.end(), key) == explicit_keys.end())
      config.set(key, value, "defaults of model '" + config.str("model.name") + "'");
}

}  // namespace auxgrid
