// model.name = "torchscript": a model written in PyTorch, scripted with
// torch.jit.script and saved, trained here like a built-in one (the contract:
// docs/torchscript.md, and experiments/plugins/late_fusion.py).
//
// The scripted module's parameters and buffers are mirrored, as the same
// tensors, into a tree of torch::nn::Module, so that everything the trainer
// does with a model (optimiser, checkpoints, device moves, data-parallel
// reductions, best-epoch copies) reaches them unchanged.
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/torch.h>

#include <fmt/ranges.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "auxgrid/core/files.hpp"
#include "auxgrid/models/model.hpp"

namespace auxgrid::models {

namespace {

using I = std::int64_t;

// An exception's message without LibTorch's C++ backtrace.
std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// What torch.save wrote instead of torch.jit.save gets this hint.
std::string torch_save_hint(const std::string& path) {
  return fmt::format(
      "'{}' was written by torch.save (a pickled module or state_dict), which C++ cannot run: script the module and "
      "save it with TorchScript, torch.jit.script(model).save(\"{}\") (docs/torchscript.md)",
      path, std::filesystem::path(path).filename().string());
}

// The line of a TorchScript interpreter error that says what went wrong
// ("RuntimeError: mat1 and mat2 shapes cannot be multiplied ..."), without the
// serialized code around it; else its first line.
std::string error_summary(const std::exception& e) {
  const auto text = message_of(e);
  std::istringstream in(text);
  std::string summary;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, std::regex(R"(^[A-Za-z_.]*(Error|Exception): )"))) summary = line;
  return summary.empty() ? first_line(text) : summary;
}

// Loads `path`, saying why it is not a TorchScript module this LibTorch reads.
torch::jit::Module load_script(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) files::require_regular_file(path, "TorchScript model");  // a pipe would block
  {
    std::ifstream probe(path, std::ios::binary);
    AUXGRID_CHECK(probe, "TorchScript model '{}': cannot read the file ({})", path, std::strerror(errno));
    // torch.save without the zip format (_use_new_zipfile_serialization=False) writes a bare pickle.
    AUXGRID_CHECK(probe.get() != 0x80, "{}", torch_save_hint(path));
  }
  try {
    // Read first on its own: a file too new for this LibTorch gets its own message.
    caffe2::serialize::PyTorchStreamReader reader(path);
    // torch.save's zip archives hold data.pkl and no TorchScript constants.
    AUXGRID_CHECK(reader.hasRecord("constants.pkl") || !reader.hasRecord("data.pkl"), "{}", torch_save_hint(path));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const auto why = message_of(e);
    std::smatch version;
    AUXGRID_CHECK(
        !std::regex_search(why, version,
                           std::regex(R"(version (\d+), but the maximum supported version for reading is (\d+))")),
        "TorchScript model '{}' was saved by a newer PyTorch than this LibTorch {} reads (file format "
        "version {}, read up to {}): save it with PyTorch {}, or build auxgrid against a newer LibTorch",
        path, TORCH_VERSION, version[1].str(), version[2].str(), TORCH_VERSION);
    AUXGRID_FAIL("'{}' is not a TorchScript module (not a torch.jit.save archive: {})", path, first_line(why));
  }
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    const auto why = message_of(e);
    AUXGRID_CHECK(
        why.find("Unknown builtin op") == std::string::npos && why.find("Unknown type name") == std::string::npos,
        "TorchScript model '{}' uses what this LibTorch {} does not have; was it saved by a newer PyTorch? "
        "({})",
        path, TORCH_VERSION, first_line(why));
    AUXGRID_FAIL("'{}' is not a TorchScript module auxgrid can load ({})", path, first_line(why));
  }
}

// forward(audio, video, audio_mask, video_mask) -> List[Tensor] (or Tensor).
void check_forward_signature(const torch::jit::Module& script, const std::string& path) {
  const auto forward = script.find_method("forward");
  AUXGRID_CHECK(forward, "TorchScript model '{}' has no forward method", path);
  const auto& schema = forward->function().getSchema();
  std::ostringstream shown;
  shown << schema;
  const auto& args = schema.arguments();  // self first
  bool ok = args.size() == 5 && schema.returns().size() == 1;
  for (std::size_t i = 1; ok && i < args.size(); ++i) ok = args[i].type()->kind() == c10::TypeKind::TensorType;
  if (ok) {
    const auto& out = schema.returns()[0].type();
    const auto list = out->cast<c10::ListType>();
    ok = out->kind() == c10::TypeKind::TensorType ||
         (list && list->getElementType()->kind() == c10::TypeKind::TensorType);
  }
  AUXGRID_CHECK(ok,
                "TorchScript model '{}': forward must be forward(audio: Tensor, video: Tensor, audio_mask: Tensor, "
                "video_mask: Tensor) -> List[Tensor], not {}",
                path, shown.str());
  // auxgrid passes the modalities by position: an argument named for the
  // other modality would get its features (silently when the widths agree).
  const char* expected[] = {"audio", "video", "audio", "video"};
  for (std::size_t i = 1; i < args.size(); ++i) {
    auto name = args[i].name();
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool other = name.find(expected[i - 1][0] == 'a' ? "video" : "audio") != std::string::npos;
    AUXGRID_CHECK(!other,
                  "TorchScript model '{}': forward's argument {} is named '{}', but auxgrid passes {} there: the "
                  "order is forward(audio, video, audio_mask, video_mask), not {}",
                  path, i, args[i].name(), i <= 2 ? expected[i - 1] : std::string(expected[i - 1]) + "_mask",
                  shown.str());
  }
}

I int_attribute(const torch::jit::Module& script, const char* name, const std::string& path) {
  AUXGRID_CHECK(script.hasattr(name) && script.attr(name).isInt(),
                "TorchScript model '{}' has no int attribute '{}' (audio_dim, video_dim and num_classes say what it "
                "was built for)",
                path, name);
  return script.attr(name).toInt();
}

ModelDims dims_of(const torch::jit::Module& script, const std::string& path) {
  return {int_attribute(script, "audio_dim", path), int_attribute(script, "video_dim", path),
          int_attribute(script, "num_classes", path)};
}

// The same tensors as the script's, in a tree of nn::Module with its names.
void mirror(const torch::jit::Module& script, torch::nn::Module& into) {
  for (const auto& p : script.named_parameters(/*recurse=*/false))
    into.register_parameter(p.name, p.value, p.value.requires_grad());
  for (const auto& b : script.named_buffers(/*recurse=*/false)) into.register_buffer(b.name, b.value);
  for (const auto& child : script.named_children()) {
    auto twin = std::make_shared<torch::nn::Module>(child.name);
    mirror(child.value, *twin);
    into.register_module(child.name, twin);
  }
}

std::vector<at::Tensor> head_tensors(const c10::IValue& out) {
  return out.isTensor() ? std::vector<at::Tensor>{out.toTensor()} : out.toTensorVector();
}

class ScriptedModelImpl : public EmotionModelImpl {
 public:
  ScriptedModelImpl(torch::jit::Module script, std::string path, const ModelDims& dims, const std::string& weights)
      : script_(std::move(script)), path_(std::move(path)), num_classes_(dims.num_classes) {
    const auto own = dims_of(script_, path_);
    AUXGRID_CHECK(
        own.audio_dim == dims.audio_dim && own.video_dim == dims.video_dim,
        "TorchScript model '{}' was built for audio width {} and video width {}, but the corpus has {} and {}", path_,
        own.audio_dim, own.video_dim, dims.audio_dim, dims.video_dim);
    AUXGRID_CHECK(own.num_classes == dims.num_classes,
                  "TorchScript model '{}' was built for {} classes, but the corpus has {}", path_, own.num_classes,
                  dims.num_classes);
    check_forward_signature(script_, path_);
    // A seed of its own for each cell: the trainer seeded LibTorch's generator.
    if (script_.find_method("reset_parameters")) script_.run_method("reset_parameters");
    mirror(script_, *this);
    const auto count = try_forward();
    name_heads(count);
    weigh_heads(count, weights);
    train(true);
  }

  std::vector<HeadLogits> forward(const data::Batch& b) override {
    const auto logits = run(b, "in forward");
    AUXGRID_CHECK(logits.size() == heads_.size(), "TorchScript model '{}' returned {} heads on its test batch, now {}",
                  path_, heads_.size(), logits.size());
    std::vector<HeadLogits> out;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      check_logits(logits[i], b.size(), i);
      out.push_back({heads_[i], logits[i], weights_[i]});
    }
    return out;
  }

  void train(bool on = true) override {
    EmotionModelImpl::train(on);
    script_.train(on);
  }

  std::string type_name() const { return script_.type()->name()->name(); }
  const std::vector<std::string>& heads() const { return heads_; }

 private:
  std::vector<at::Tensor> run(const data::Batch& b, const char* when) {
    try {
      return head_tensors(script_.forward({b.audio, b.video, b.audio_mask, b.video_mask}));
    } catch (const std::exception& e) {  // the interpreter's errors are not all c10::Error
      const auto why = error_summary(e);
      AUXGRID_FAIL("TorchScript model '{}' failed {}: {}{}", path_, when, why,
                   why.find("shape") == std::string::npos
                       ? ""
                       : fmt::format(" (auxgrid passes forward(audio [B, Ta, {}], video [B, Tv, {}], audio_mask "
                                     "[B, Ta], video_mask [B, Tv]) in this order)",
                                     num_dim("audio_dim"), num_dim("video_dim")));
    }
  }

  void check_logits(const at::Tensor& t, I batch, std::size_t head) const {
    AUXGRID_CHECK(t.dim() == 2 && t.size(0) == batch && t.size(1) == num_classes_,
                  "TorchScript model '{}': head {} has logits of shape {}, expected [{}, {}] (batch, classes)", path_,
                  head, t.sizes(), batch, num_classes_);
  }

  // One forward pass in evaluation mode on a small fixed batch (2 utterances,
  // one with padding): what forward returns is known before anything trains.
  std::size_t try_forward() {
    torch::NoGradGuard no_grad;
    script_.train(false);
    const auto values = [](I b, I t, I d) { return torch::arange(b * t * d).mul(0.37).sin().reshape({b, t, d}); };
    data::Batch b;
    b.audio = values(2, 6, num_dim("audio_dim")), b.video = values(2, 4, num_dim("video_dim"));
    b.audio_mask = torch::ones({2, 6}, torch::kBool), b.video_mask = torch::ones({2, 4}, torch::kBool);
    b.audio_mask[1].slice(0, 4).fill_(false), b.video_mask[1].slice(0, 3).fill_(false);
    b.audio[1].slice(0, 4).zero_(), b.video[1].slice(0, 3).zero_();
    b.utterances = {0, 1};
    const auto logits = run(b, "on a 2-utterance test batch");
    AUXGRID_CHECK(!logits.empty(), "TorchScript model '{}' returned no heads", path_);
    for (std::size_t i = 0; i < logits.size(); ++i) {
      check_logits(logits[i], 2, i);
      AUXGRID_CHECK(torch::isfinite(logits[i]).all().item<bool>(),
                    "TorchScript model '{}': head {} returned non-finite logits (NaN or inf) on a 2-utterance test "
                    "batch in evaluation mode",
                    path_, i);
    }
    return logits.size();
  }

  I num_dim(const char* name) const { return script_.attr(name).toInt(); }

  void name_heads(std::size_t count) {
    if (!script_.hasattr("head_names")) {
      for (std::size_t i = 0; i < count; ++i) heads_.push_back(count == 1 ? "av" : fmt::format("head{}", i));
      return;
    }
    const auto names = script_.attr("head_names");
    AUXGRID_CHECK(names.isList(), "TorchScript model '{}': head_names must be a List[str]", path_);
    for (const auto& n : names.toListRef()) {
      AUXGRID_CHECK(n.isString(), "TorchScript model '{}': head_names must be a List[str]", path_);
      heads_.push_back(n.toStringRef());
    }
    AUXGRID_CHECK(heads_.size() == count, "TorchScript model '{}' names {} heads in head_names but returns {}", path_,
                  heads_.size(), count);
  }

  // model.head_weights, else the module's head_weights, else 1 each.
  void weigh_heads(std::size_t count, const std::string& setting) {
    auto source = fmt::format("TorchScript model '{}': model.head_weights = '{}'", path_, setting);
    if (!setting.empty()) {
      std::stringstream in(setting);
      for (std::string item; std::getline(in, item, ',');) {
        item.erase(0, item.find_first_not_of(" \t"));
        std::size_t used = 0;
        double w = -1;
        try {
          w = std::stod(item, &used);
        } catch (const std::exception&) {
        }
        AUXGRID_CHECK(used > 0 && item.find_first_not_of(" \t", used) == std::string::npos, "{}: '{}' is not a number",
                      source, item);
        weights_.push_back(w);
      }
    } else if (script_.hasattr("head_weights")) {
      source = fmt::format("TorchScript model '{}': head_weights", path_);
      const auto list = script_.attr("head_weights");
      AUXGRID_CHECK(list.isDoubleList(), "{} must be a List[float]", source);
      for (double w : list.toDoubleVector()) weights_.push_back(w);
    } else {
      weights_.assign(count, 1.0);
    }
    AUXGRID_CHECK(weights_.size() == count, "{} has {} weights, but the model returns {} heads", source,
                  weights_.size(), count);
    bool any = false;
    for (double w : weights_) {
      AUXGRID_CHECK(w >= 0 && std::isfinite(w), "{}: a head's weight must be a number >= 0, got {}", source, w);
      any = any || w > 0;
    }
    AUXGRID_CHECK(any, "{}: every head's weight is 0", source);
  }

  torch::jit::Module script_;
  std::string path_;
  I num_classes_;
  std::vector<std::string> heads_;
  std::vector<double> weights_;
};

EmotionModel make_scripted(const Config& c, const ModelDims& dims) {
  const auto path = c.str("model.path");
  AUXGRID_CHECK(!path.empty(), "model.name = \"torchscript\" needs model.path (the file torch.jit.save wrote)");
  // The cell id holds the hash of the bytes the grid saw: train those or none.
  const auto planned = c.str("model.file_hash");
  if (!planned.empty()) {
    const auto now = file_fnv1a_hex(path);
    AUXGRID_CHECK(now == planned,
                  "TorchScript model '{}' changed since its grid was read (its bytes hash to {}, the cell's "
                  "model.file_hash is {}): read the grid again (auxgrid plan, run) to train the new file's cells",
                  path, now, planned);
  }
  return std::make_shared<ScriptedModelImpl>(load_script(path), path, dims, c.str("model.head_weights"));
}

}  // namespace

ScriptedModelInfo inspect_scripted_model(const std::string& path) {
  auto script = load_script(path);
  const auto dims = dims_of(script, path);
  const auto model = std::make_shared<ScriptedModelImpl>(script, path, dims, "");
  return {model->type_name(), dims, model->heads(), count_parameters(*model),
          script.find_method("reset_parameters").has_value()};
}

std::string scripted_model_warning(const std::string& path) {
  if (load_script(path).find_method("reset_parameters")) return "";
  return fmt::format(
      "TorchScript model '{}' has no exported reset_parameters(), so every seed starts from the weights saved in the "
      "file and its seeds differ only in split, batch order and dropout (trials less independent than a t-test "
      "assumes); add @torch.jit.export def reset_parameters(self) -> None (docs/torchscript.md)",
      path);
}

AUXGRID_REGISTER_MODEL("torchscript",
                       "a model scripted from PyTorch: model.path = \"file.pt\" (docs/torchscript.md)",
                       {}, make_scripted);

}  // namespace auxgrid::models
