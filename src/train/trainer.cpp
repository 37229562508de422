#include "auxgrid/train/trainer.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <cstring>
#include <sstream>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/stats/metrics.hpp"

namespace auxgrid::train {

namespace {

using data::Zero;
constexpr std::int64_t kEvalBatch = 64;

// Which modality each utterance of a training batch loses (PROTOCOL.md).
std::vector<Zero> modality_drop(const Config& c, std::size_t batch, std::mt19937_64& rng) {
  std::vector<Zero> zero(batch, Zero::none);
  if (c.str("train.procedure") != "optimized") return zero;
  if (c.str("train.modality_drop") == "batch") {  // the authors' code: one draw per batch
    const double r = (rng() >> 11) * (1.0 / 9007199254740992.0);
    if (r < 0.4) std::fill(zero.begin(), zero.end(), r < 0.2 ? Zero::audio : Zero::video);
    return zero;
  }
  // split: a random 20 % lose audio, another 20 % lose video.
  std::vector<std::size_t> order(batch);
  for (std::size_t i = 0; i < batch; ++i) order[i] = i;
  data::shuffle_in_place(order, rng);
  const auto share = static_cast<std::size_t>(std::lround(0.2 * static_cast<double>(batch)));
  for (std::size_t i = 0; i < share && i < batch; ++i) zero[order[i]] = Zero::audio;
  for (std::size_t i = share; i < 2 * share && i < batch; ++i) zero[order[i]] = Zero::video;
  return zero;
}

// How a condition prepares the test inputs (PROTOCOL.md, "Evaluation conditions").
data::Preparation condition_preparation(const std::string& condition, std::size_t batch, std::uint64_t seed) {
  data::Preparation p;
  if (condition == "audio_only") p.zero.assign(batch, Zero::video);
  if (condition == "video_only") p.zero.assign(batch, Zero::audio);
  if (condition.rfind("mask_", 0) == 0) {  // mask_audio_p30: keep 30 % of the audio frames
    p.masking.modality = condition.compare(5, 5, "audio") == 0 ? Zero::audio : Zero::video;
    p.masking.keep = std::stoi(condition.substr(condition.size() - 2)) / 100.0;
    p.masking.seed = seed;
  }
  return p;
}

struct Predictions {
  double loss = 0;  // mean cross-entropy of the combined logits
  std::vector<std::int32_t> labels, predicted;
};

data::Batch& each_tensor(data::Batch& batch, const std::function<at::Tensor(const at::Tensor&)>& f) {
  for (auto* t : {&batch.audio, &batch.audio_mask, &batch.video, &batch.video_mask, &batch.labels}) *t = f(*t);
  return batch;
}

// Batches are assembled on the host (in page-locked memory for CUDA, see
// pin_for) and moved to the model's device without waiting for the copy.
data::Batch on_device(data::Batch batch, const torch::Device& device) {
  if (device.is_cpu()) return batch;
  return each_tensor(batch, [&](const at::Tensor& t) { return t.to(device, /*non_blocking=*/true); });
}

// Page-locked host memory, so that the copy to a CUDA device is asynchronous;
// done on the thread that gathers the next batch.
data::Batch pin_for(data::Batch batch, const torch::Device& device) {
  if (!device.is_cuda() || batch.size() == 0) return batch;
  return each_tensor(batch, [](const at::Tensor& t) { return t.pin_memory(); });
}

// train.precision = bf16: LibTorch's autocast to bfloat16 on the model's
// device for the forward passes in its scope (as torch.autocast(device,
// torch.bfloat16)); nothing for fp32. bfloat16 needs no loss scaling. On the
// CPU auxgrid's own kernels (fp32) step aside while it is on (kernels.hpp).
class Autocast {
 public:
  Autocast(bool enabled, const torch::Device& device) : enabled_(enabled), type_(device.type()) {
    if (!enabled_) return;
    set(true);
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set(false);
  }
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  void set(bool on) const {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, on);
    if (on) at::autocast::set_autocast_dtype(type_, at::kBFloat16);
#else
    if (type_ == at::kCPU) {
      at::autocast::set_cpu_enabled(on);
      if (on) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_enabled(on);
      if (on) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    }
#endif
  }
  bool enabled_;
  at::DeviceType type_;
};

// torch::nn::utils::clip_grad_norm_ (2-norm) without its final .item(): the
// norm stays on the device, so a CUDA step never waits for the GPU.
void clip_gradient_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  std::vector<at::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  if (norms.empty()) return;
  const auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  const auto coefficient = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
  for (const auto& p : parameters)
    if (p.grad().defined()) p.grad().mul_(coefficient);
}

Predictions predict(models::EmotionModelImpl& model, const store::CorpusData& corpus,
                    const std::vector<std::int64_t>& indices, const data::Normalization* norm,
                    const std::string& condition, std::uint64_t seed, const std::function<void()>& heartbeat,
                    const torch::Device& device, bool padding_masked, bool bf16) {
  torch::NoGradGuard no_grad;
  model.eval();
  Predictions out;
  out.labels.resize(indices.size());
  out.predicted.resize(indices.size());
  // Positions into `indices`, in length order when padding is masked (the
  // results do not depend on the batching then, and padding is work).
  std::vector<std::int64_t> positions(indices.size());
  for (std::size_t k = 0; k < positions.size(); ++k) positions[k] = static_cast<std::int64_t>(k);
  if (padding_masked)
    std::stable_sort(positions.begin(), positions.end(), [&](std::int64_t a, std::int64_t b) {
      return data::frames_of(corpus, indices[a]) > data::frames_of(corpus, indices[b]);
    });
  for (const auto& part : data::chunk(positions, kEvalBatch)) {
    if (heartbeat) heartbeat();
    std::vector<std::int64_t> chunk;
    for (auto k : part) chunk.push_back(indices[k]);
    auto preparation = condition_preparation(condition, chunk.size(), seed);
    preparation.audio = norm;
    const auto host = data::make_batch(corpus, chunk, preparation);
    const auto batch = on_device(host, device);
    at::Tensor logits;
    {
      Autocast autocast(bf16, device);
      logits = models::combined_logits(model.forward(batch)).to(torch::kFloat);
    }
    const auto loss = torch::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Sum);
    out.loss += loss.item<double>();
    auto argmax = logits.argmax(1).cpu();
    auto truth = host.labels.accessor<std::int64_t, 1>();
    auto guess = argmax.accessor<std::int64_t, 1>();
    for (std::int64_t b = 0; b < batch.size(); ++b) {
      out.labels[part[b]] = static_cast<std::int32_t>(truth[b]);
      out.predicted[part[b]] = static_cast<std::int32_t>(guess[b]);
    }
  }
  out.loss /= static_cast<double>(indices.size());
  return out;
}

void set_lr(torch::optim::Adam& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

// ReduceLROnPlateau(mode min, patience 5, factor 0.1, relative threshold 1e-4), as torch's default.
struct Plateau {
  double best = std::numeric_limits<double>::infinity();
  int bad_epochs = 0;
  bool step(double dev_loss) {
    if (dev_loss < best * (1.0 - 1e-4)) {
      best = dev_loss, bad_epochs = 0;
      return false;
    }
    if (++bad_epochs > 5) {
      bad_epochs = 0;
      return true;
    }
    return false;
  }
};

std::vector<std::string> ids_of(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices) {
  std::vector<std::string> out;
  for (auto i : indices) out.push_back(corpus.utterance_ids[i]);
  return out;
}

}  // namespace

std::string libtorch_version() { return TORCH_VERSION; }
int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }
bool bf16_supported(bool on_cuda) { return on_cuda || TORCH_VERSION_MAJOR >= 2; }

const std::vector<std::string>& known_conditions() {
  static const std::vector<std::string> conditions = [] {
    std::vector<std::string> c{"ideal", "audio_only", "video_only"};
    for (const char* modality : {"audio", "video"})
      for (int p = 10; p <= 90; p += 10) c.push_back(fmt::format("mask_{}_p{}", modality, p));
    return c;
  }();
  return conditions;
}

std::vector<std::string> conditions_of(const Config& config) {
  std::vector<std::string> out;
  std::stringstream list(config.str("eval.conditions"));
  for (std::string item; std::getline(list, item, ',');) {
    if (item.empty()) continue;
    if (item == "all") {
      out.insert(out.end(), known_conditions().begin(), known_conditions().end());
      continue;
    }
    const auto& known = known_conditions();
    AUXGRID_CHECK(std::find(known.begin(), known.end(), item) != known.end(),
                  "eval.conditions: unknown condition '{}' (known: {})", item, fmt::join(known, ", "));
    out.push_back(item);
  }
  AUXGRID_CHECK(!out.empty(), "eval.conditions is empty");
  return out;
}

namespace {

// Everything that changes while a cell trains, so that a checkpoint taken at
// any step boundary resumes to the same bits as an uninterrupted run.
struct Progress {
  int epoch = 0;                      // 0-based, the epoch in progress
  std::int64_t next_batch = 0;        // within the epoch
  std::vector<std::int64_t> order;    // the training order, reshuffled each epoch
  double epoch_loss = 0;              // summed over the epoch's batches so far
  double epoch_seconds = 0;           // spent on this epoch before a resume
  double lr = 0;
  Plateau plateau;
  double best_dev = std::numeric_limits<double>::infinity();
  int best_epoch = -1;
  std::vector<store::EpochRecord> epochs;
  std::vector<at::Tensor> best_state;  // parameters then buffers of the best epoch
  std::mt19937_64 rng;                 // data order and modality drops
};

void save_checkpoint(const std::string& path, const Progress& p, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model.save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  std::ostringstream rng;
  rng << p.rng;
  archive.write("rng", c10::IValue(rng.str()));
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    archive.write("torch_rng", generator.get_state());
  }
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(p.epoch)));
  archive.write("next_batch", c10::IValue(p.next_batch));
  archive.write("order", torch::tensor(p.order, torch::kLong));
  archive.write("epoch_loss", c10::IValue(p.epoch_loss));
  archive.write("epoch_seconds", c10::IValue(p.epoch_seconds));
  archive.write("lr", c10::IValue(p.lr));
  archive.write("plateau_best", c10::IValue(p.plateau.best));
  archive.write("plateau_bad_epochs", c10::IValue(static_cast<std::int64_t>(p.plateau.bad_epochs)));
  archive.write("best_dev", c10::IValue(p.best_dev));
  archive.write("best_epoch", c10::IValue(static_cast<std::int64_t>(p.best_epoch)));
  std::vector<double> records;
  for (const auto& e : p.epochs) records.insert(records.end(), {e.train_loss, e.dev_loss, e.lr, e.seconds});
  archive.write("epochs", torch::tensor(records, torch::kDouble).view({-1, 4}));
  archive.write("best_count", c10::IValue(static_cast<std::int64_t>(p.best_state.size())));
  for (std::size_t i = 0; i < p.best_state.size(); ++i) archive.write(fmt::format("best_{}", i), p.best_state[i]);

  boost::filesystem::create_directories(boost::filesystem::path(path).parent_path());
  const auto tmp = fmt::format("{}.tmp.{}", path, getpid());
  archive.save_to(tmp);
  AUXGRID_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename checkpoint '{}' to '{}': {}", tmp, path,
                std::strerror(errno));
}

void load_checkpoint(const std::string& path, Progress& p, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive archive, model_archive, optimizer_archive;
  archive.load_from(path);
  archive.read("model", model_archive);
  archive.read("optimizer", optimizer_archive);
  model.load(model_archive);
  optimizer.load(optimizer_archive);
  c10::IValue v;
  const auto value = [&](const char* key) -> const c10::IValue& {
    AUXGRID_CHECK(archive.try_read(key, v), "checkpoint '{}' has no '{}'", path, key);
    return v;
  };
  std::istringstream rng(value("rng").toStringRef());
  rng >> p.rng;
  // A fresh tensor per read: InputArchive copies into a defined one, keeping its dtype.
  const auto tensor = [&](const char* key) {
    at::Tensor t;
    archive.read(key, t);
    return t;
  };
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(tensor("torch_rng"));
  }
  p.epoch = static_cast<int>(value("epoch").toInt());
  p.next_batch = value("next_batch").toInt();
  const auto order = tensor("order");
  p.order.assign(order.data_ptr<std::int64_t>(), order.data_ptr<std::int64_t>() + order.numel());
  p.epoch_loss = value("epoch_loss").toDouble();
  p.epoch_seconds = value("epoch_seconds").toDouble();
  p.lr = value("lr").toDouble();
  p.plateau.best = value("plateau_best").toDouble();
  p.plateau.bad_epochs = static_cast<int>(value("plateau_bad_epochs").toInt());
  p.best_dev = value("best_dev").toDouble();
  p.best_epoch = static_cast<int>(value("best_epoch").toInt());
  const auto epochs = tensor("epochs");
  p.epochs.clear();
  for (std::int64_t i = 0; i < epochs.size(0); ++i) {
    const auto* r = epochs[i].data_ptr<double>();
    p.epochs.push_back({r[0], r[1], r[2], r[3]});
  }
  p.best_state.resize(value("best_count").toInt());
  for (std::size_t i = 0; i < p.best_state.size(); ++i) p.best_state[i] = tensor(fmt::format("best_{}", i).c_str());
}

// The group's ranks hold one model: rank 0's parameters to start with, averaged
// gradients at every step, and a check that they have not drifted apart.
at::Tensor flat(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> views;
  for (const auto& t : tensors) views.push_back(t.reshape(-1));
  return torch::cat(views);
}

void unflatten(const at::Tensor& buffer, std::vector<at::Tensor>& tensors) {
  std::int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(buffer.narrow(0, offset, t.numel()).view_as(t));
    offset += t.numel();
  }
}

void broadcast_parameters(dist::Communicator& group, torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  auto params = model.parameters();
  const bool staged = params.front().is_cuda() && group.backend() != "nccl";
  auto buffer = flat(params).contiguous();
  if (staged) buffer = buffer.cpu();
  group.broadcast(buffer.data_ptr<float>(), buffer.numel(), 0);
  unflatten(staged ? buffer.to(params.front().device()) : buffer, params);
}

void check_identical(dist::Communicator& group, torch::nn::Module& model, const std::string& label) {
  const auto buffer = flat(model.parameters()).contiguous().cpu();
  const auto* bytes = reinterpret_cast<const unsigned char*>(buffer.data_ptr<float>());
  std::uint64_t hash = 1469598103934665603ull;
  for (std::int64_t i = 0; i < buffer.numel() * 4; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  std::int64_t mine = static_cast<std::int64_t>(hash), leader = mine;
  group.broadcast_host(&leader, 1, 0);
  double differ = mine != leader ? 1 : 0;
  group.allreduce_sum_host(&differ, 1);
  AUXGRID_CHECK(differ == 0, "cell '{}': the parameters of the group's {} ranks are no longer identical", label,
                group.size());
}

}  // namespace

void average_gradients(dist::Communicator& group, torch::nn::Module& model) {
  std::vector<at::Tensor> grads;
  for (auto& p : model.parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // a head with loss weight 0
    grads.push_back(p.grad());
  }
  // NCCL reduces device memory; the host backends need host memory.
  const bool staged = grads.front().is_cuda() && group.backend() != "nccl";
  auto buffer = flat(grads).contiguous();
  if (staged) buffer = buffer.cpu();
  group.allreduce_mean(buffer.data_ptr<float>(), buffer.numel());
  unflatten(staged ? buffer.to(grads.front().device()) : buffer, grads);
}

store::CellResult train_cell(const Cell& cell, const store::CorpusData& corpus, const EpochCallback& on_epoch,
                             const TrainControl& control) {
  const Config& c = cell.config;
  const auto seed = static_cast<std::uint64_t>(c.integer("seed"));
  torch::manual_seed(seed);
  const models::ModelDims dims{corpus.info.audio_dim, corpus.info.video_dim,
                               static_cast<std::int64_t>(corpus.info.class_names.size())};
  auto model = models::make_model(c, dims);
  const torch::Device device(control.device);
  model->to(device);
  const auto split = data::speaker_split(corpus, seed, c.real("data.train_fraction"), c.real("data.dev_fraction"));
  dist::Communicator* group = control.group && control.group->size() > 1 ? control.group : nullptr;
  const bool leader = !group || group->rank() == 0;

  Progress p;
  p.lr = c.real("train.lr");
  p.rng.seed(seed * 0x9E3779B97F4A7C15ull + 1);
  p.order = split.train;
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(p.lr));
  const bool resumed = !control.checkpoint_path.empty() && boost::filesystem::exists(control.checkpoint_path);
  if (resumed) {
    load_checkpoint(control.checkpoint_path, p, *model, optimizer);
    set_lr(optimizer, p.lr);
    spdlog::info("{}: resumed from checkpoint {} at epoch {}, batch {}", cell.label, control.checkpoint_path,
                 p.epoch + 1, p.next_batch);
  }
  if (group) broadcast_parameters(*group, *model);
  const bool step5 = c.str("train.scheduler") == "step5";
  const double clip = c.real("train.clip");
  const int epochs = static_cast<int>(c.integer("train.epochs"));

  store::CellResult result;
  result.cell_id = cell.id;
  result.label = cell.label;
  result.config = c;
  result.corpus_name = corpus.info.name;
  result.class_names = corpus.info.class_names;
  result.n_params = models::count_parameters(*model);
  result.train_ids = ids_of(corpus, split.train);
  result.dev_ids = ids_of(corpus, split.dev);
  result.test_ids = ids_of(corpus, split.test);
  data::Normalization norm;
  if (c.flag("data.normalize_audio")) {
    norm = data::audio_normalization(corpus, split.train);
    result.audio_mean.assign(norm.mean.begin(), norm.mean.end());
    for (float inv : norm.inv_std) result.audio_std.push_back(1.0 / inv);
  }
  const data::Normalization* audio_norm = c.flag("data.normalize_audio") ? &norm : nullptr;
  const auto patience = c.integer("train.early_stop");
  const bool padding_masked = c.flag("model.padding_mask");
  const bool bf16 = c.str("train.precision") == "bf16";
  AUXGRID_CHECK(!bf16 || bf16_supported(device.is_cuda()),
                "cell '{}': train.precision = bf16 needs a CUDA device (--device cuda) or LibTorch 2.x on the CPU; "
                "this cell runs on {} with LibTorch {}", cell.label, device.str(), TORCH_VERSION);

  while (p.epoch < epochs) {
    const auto start = std::chrono::steady_clock::now();
    const auto elapsed = [&] {
      return p.epoch_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    model->train();
    const auto batch_size = c.integer("train.batch_size");
    if (p.next_batch == 0) {  // the epoch's order, saved in checkpoints as it is
      data::shuffle_in_place(p.order, p.rng);
      if (c.str("train.batching") == "buckets") data::bucket_by_length(p.order, corpus, batch_size, p.rng);
    }
    const auto batches = data::chunk(p.order, batch_size);
    // This rank's share of a batch: all of it, or its slice in a group.
    const auto slice = [&](std::size_t n) -> std::pair<std::size_t, std::size_t> {
      if (!group) return {0, n};
      const auto r = static_cast<std::size_t>(group->rank()), g = static_cast<std::size_t>(group->size());
      return {n * r / g, n * (r + 1) / g};
    };
    // The next batch is gathered on another thread while this one trains;
    // modality drops are drawn here, in batch order, so checkpoints resume exactly.
    const auto gather = [&](std::int64_t i) {
      const auto [begin, end] = slice(batches[i].size());
      std::vector<std::int64_t> chunk(batches[i].begin() + begin, batches[i].begin() + end);
      return std::async(std::launch::async, [&corpus, audio_norm, device, chunk = std::move(chunk)] {
        data::Preparation preparation;
        preparation.audio = audio_norm;
        return chunk.empty() ? data::Batch{} : pin_for(data::make_batch(corpus, chunk, preparation), device);
      });
    };
    std::future<data::Batch> next;
    if (p.next_batch < static_cast<std::int64_t>(batches.size())) next = gather(p.next_batch);
    // The epoch's loss stays on the device and is read once an epoch (or at a
    // checkpoint): the step itself never waits for the device. Summed in
    // double, batch by batch, as the host did.
    auto epoch_loss = torch::full({}, p.epoch_loss, torch::TensorOptions(device).dtype(torch::kDouble));
    for (auto i = p.next_batch; i < static_cast<std::int64_t>(batches.size()); ++i) {
      const auto& full = batches[i];
      // The same draws on every rank; each rank then takes its slice.
      auto zero = modality_drop(c, full.size(), p.rng);
      const auto [begin, end] = slice(full.size());
      zero.assign(zero.begin() + begin, zero.begin() + end);
      data::Batch host = next.get();
      if (i + 1 < static_cast<std::int64_t>(batches.size())) next = gather(i + 1);
      const auto chunk_size = end - begin;
      at::Tensor batch_loss;  // this rank's summed loss, on the device
      optimizer.zero_grad();
      if (chunk_size > 0) {
        data::zero_modalities(host, zero);
        auto batch = on_device(std::move(host), device);
        std::vector<models::HeadLogits> heads;
        {
          Autocast autocast(bf16, device);
          heads = model->forward(batch);
        }
        for (auto& head : heads) head.logits = head.logits.to(torch::kFloat);  // the losses in fp32
        auto loss = models::weighted_loss(heads, batch.labels);
        batch_loss = loss.detach().to(torch::kDouble) * static_cast<double>(chunk_size);
        // Scaled so that the group's mean gradient is the full batch's.
        if (group) loss = loss * (static_cast<double>(chunk_size) * group->size() / static_cast<double>(full.size()));
        loss.backward();
      }
      if (group) {
        average_gradients(*group, *model);
        double summed = batch_loss.defined() ? batch_loss.item<double>() : 0.0;  // MPI sums host values
        group->allreduce_sum_host(&summed, 1);
        epoch_loss.add_(summed);
      } else if (batch_loss.defined()) {
        epoch_loss.add_(batch_loss);
      }
      if (clip > 0) clip_gradient_norm(model->parameters(), clip);
      optimizer.step();
      p.next_batch = i + 1;
      if (control.heartbeat) control.heartbeat();
      if (spdlog::should_log(spdlog::level::debug) && batch_loss.defined())  // a read-back: verbose runs only
        spdlog::debug("{} epoch {} batch {}/{}: loss {:.4f}", cell.label, p.epoch + 1, i + 1, batches.size(),
                      batch_loss.item<double>() / static_cast<double>(chunk_size));
      double stop = control.stop_requested && control.stop_requested() ? 1 : 0;
      if (group) group->allreduce_sum_host(&stop, 1);  // the whole group stops at the same step
      if (stop > 0) {
        p.epoch_loss = epoch_loss.item<double>();
        AUXGRID_CHECK(!control.checkpoint_path.empty(), "cell '{}': stop requested but no checkpoint path", cell.label);
        p.epoch_seconds = elapsed();
        if (leader) save_checkpoint(control.checkpoint_path, p, *model, optimizer);
        if (group) group->barrier();
        throw Preempted(fmt::format("cell '{}' checkpointed at epoch {}, batch {}", cell.label, p.epoch + 1,
                                    p.next_batch));
      }
    }
    p.epoch_loss = epoch_loss.item<double>();
    if (group) check_identical(*group, *model, cell.label);
    const double dev_loss =
        predict(*model, corpus, split.dev, audio_norm, "ideal", seed, control.heartbeat, device, padding_masked, bf16)
            .loss;
    const double train_loss = p.epoch_loss;
    AUXGRID_CHECK(std::isfinite(train_loss) && std::isfinite(dev_loss),
                  "cell '{}': loss is not finite in epoch {} (train {}, dev {})", cell.label, p.epoch + 1, train_loss,
                  dev_loss);

    EpochReport report;
    report.epoch = p.epoch + 1, report.epochs = epochs;
    report.record = {train_loss / static_cast<double>(p.order.size()), dev_loss, p.lr, elapsed()};
    p.epochs.push_back(report.record);
    if (dev_loss < p.best_dev) {
      torch::NoGradGuard no_grad;
      p.best_dev = dev_loss, p.best_epoch = p.epoch, report.best = true;
      p.best_state.clear();
      for (const auto& t : model->parameters()) p.best_state.push_back(t.detach().clone());
      for (const auto& t : model->buffers()) p.best_state.push_back(t.detach().clone());
    }
    if (on_epoch) on_epoch(report);
    if (step5 ? (p.epoch + 1) % 5 == 0 : p.plateau.step(dev_loss)) set_lr(optimizer, p.lr *= 0.1);
    const bool stop_early = patience > 0 && p.epoch - p.best_epoch >= patience;
    ++p.epoch, p.next_batch = 0, p.epoch_loss = 0, p.epoch_seconds = 0;
    if (stop_early) break;
    // Each epoch is a restart point, also for a kill without warning.
    if (!control.checkpoint_path.empty() && p.epoch < epochs && leader)
      save_checkpoint(control.checkpoint_path, p, *model, optimizer);
  }
  result.epochs = p.epochs;
  result.best_epoch = p.best_epoch;

  {  // test with the best-dev-loss weights
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& t : model->parameters()) t.copy_(p.best_state[i++]);
    for (auto& t : model->buffers()) t.copy_(p.best_state[i++]);
  }
  for (const auto& condition : conditions_of(c)) {
    auto pr = predict(*model, corpus, split.test, audio_norm, condition, seed, control.heartbeat, device,
                      padding_masked, bf16);
    const auto confusion = stats::confusion_matrix(pr.labels, pr.predicted, static_cast<int>(dims.num_classes));
    store::EvalRecord eval;
    eval.condition = condition;
    eval.labels = std::move(pr.labels);
    eval.predictions = std::move(pr.predicted);
    eval.utterance_ids = result.test_ids;
    eval.confusion = confusion.counts;
    eval.micro_f1 = stats::micro_f1(confusion);
    eval.macro_f1 = stats::macro_f1(confusion);
    result.evals.push_back(std::move(eval));
  }
  return result;
}

}  // namespace auxgrid::train
