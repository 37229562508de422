#include "auxgrid/train/trainer.hpp"

#include <spdlog/spdlog.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/types.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <future>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/stats/metrics.hpp"
#include "auxgrid/store/results_dir.hpp"
#include "auxgrid/train/data_parallel.hpp"
#include "autocast.hpp"
#include "training_state.hpp"

namespace auxgrid::train {

namespace {

using data::Zero;
constexpr std::int64_t kEvalBatch = 64;

Zero zero_of(Modality m) { return m == Modality::audio ? Zero::audio : Zero::video; }

// Which modality each utterance of a training batch loses (docs/protocol.md, "Modality drop").
std::vector<Zero> modality_drop(const TrainOptions& o, std::size_t batch, std::mt19937_64& rng) {
  std::vector<Zero> zero(batch, Zero::none);
  if (o.procedure != Procedure::optimized) return zero;
  if (o.modality_drop == ModalityDrop::batch) {  // the authors' code: one draw per batch
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

// The dev set's drops in epoch `epoch` (0-based) under train.dev_drop =
// as_training: the training rule applied to the dev set in its order, cut into
// training batches, as the released code's model_eval draws one per dev batch
// (docs/protocol.md, "Modality drop"). Drawn from (seed, epoch) alone, so a
// resumed run and any evaluation batching see the same drops. Empty: none.
std::vector<Zero> dev_drops(const TrainOptions& o, std::size_t count, int epoch) {
  std::vector<Zero> zero;
  if (o.procedure != Procedure::optimized || o.dev_drop != DevDrop::as_training) return zero;
  std::seed_seq seeds{static_cast<std::uint32_t>(o.seed), static_cast<std::uint32_t>(o.seed >> 32),
                      static_cast<std::uint32_t>(epoch), 0xDE5D509u};
  std::mt19937_64 rng(seeds);
  const auto batch = static_cast<std::size_t>(o.batch_size);
  for (std::size_t start = 0; start < count; start += batch) {
    const auto part = modality_drop(o, std::min(batch, count - start), rng);
    zero.insert(zero.end(), part.begin(), part.end());
  }
  return zero;
}

// How a condition prepares the test inputs (docs/protocol.md, "Evaluation conditions").
data::Preparation preparation_for(const EvalCondition& condition, std::size_t batch, std::uint64_t seed) {
  data::Preparation p;
  switch (condition.kind) {
    case EvalCondition::Kind::ideal: break;
    case EvalCondition::Kind::only:  // the other modality is zeroed
      p.zero.assign(batch, condition.modality == Modality::audio ? Zero::video : Zero::audio);
      break;
    case EvalCondition::Kind::masked:
      p.masking.modality = zero_of(condition.modality);
      p.masking.keep = condition.keep_percent / 100.0;
      p.masking.seed = seed;
      break;
  }
  return p;
}

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

// Sets a gradient's non-finite elements to zero; returns whether there were
// any (a device scalar: a CUDA step never waits for the GPU). They arise
// where the released initialisation's zero biases keep a dropped modality at
// exactly zero: each LayerNorm's backward multiplies its gradient by
// 1/sqrt(eps), float32 overflows, and a weight whose input is zero gets
// 0 x inf = NaN where its exact gradient is 0 (docs/models.md, "Fidelity to
// the released code").
at::Tensor zero_non_finite_gradients(const std::vector<at::Tensor>& parameters) {
  std::vector<at::Tensor> finite;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    finite.push_back(p.grad().isfinite().all());
    p.grad().nan_to_num_(0.0, 0.0, 0.0);
  }
  return finite.empty() ? at::Tensor() : torch::stack(finite).all().logical_not();
}

// torch::nn::utils::clip_grad_norm_ (2-norm) without its final .item(), so
// the norm stays on the device, and summed in double: float32 squares
// overflow from 1.8e19, where PyTorch's norm becomes inf and the step zero.
void clip_gradient_norm(const std::vector<at::Tensor>& parameters, double max_norm) {
  std::vector<at::Tensor> norms;
  for (const auto& p : parameters)
    if (p.grad().defined()) norms.push_back(at::linalg_vector_norm(p.grad(), 2, c10::nullopt, false, torch::kDouble));
  if (norms.empty()) return;
  const auto total = torch::stack(norms).norm(2);
  // As small as 1e-42 (a float32 denormal) when a norm near 1e40 is clipped to 1.
  const auto coefficient = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0).to(torch::kFloat);
  for (const auto& p : parameters)
    if (p.grad().defined()) p.grad().mul_(coefficient);
}

void set_lr(torch::optim::Adam& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

std::vector<std::string> ids_of(const store::CorpusData& corpus, const std::vector<std::int64_t>& indices) {
  std::vector<std::string> out;
  for (auto i : indices) out.push_back(corpus.utterance_ids[i]);
  return out;
}

struct Predictions {
  double loss = 0;  // mean cross-entropy of the combined logits
  std::vector<std::int32_t> labels, predicted;
};

// One cell's training and evaluation: the state of train_cell.
class CellTrainer {
 public:
  CellTrainer(const Cell& cell, const store::CorpusData& corpus, const TrainControl& control);
  store::CellResult run(const EpochCallback& on_epoch);

 private:
  void start_or_resume();
  CheckpointOwner owner() const { return {cell_.id, cell_.config.canonical()}; }
  using Clock = std::chrono::steady_clock;
  // Seconds spent on the epoch in progress, a resumed run's earlier ones included.
  double epoch_seconds(Clock::time_point start) const;
  // The epoch in progress, from its next batch; throws Preempted when a stop is requested.
  void run_epoch(Clock::time_point start);
  // One optimizer step on the batch `full`, of which this rank trains the
  // gradient groups in `groups` (group index, its batch); returns the batch's
  // summed loss on the device (the same bits on every rank and rank count).
  using GroupBatches = std::vector<std::pair<std::size_t, data::Batch>>;
  at::Tensor train_step(const std::vector<std::int64_t>& full, GroupBatches groups);
  [[noreturn]] void checkpoint_and_stop(Clock::time_point start);
  // Dev loss, best weights, learning-rate schedule; false when training stops early.
  bool end_epoch(Clock::time_point start, const EpochCallback& on_epoch);
  // drops: a modality to zero per utterance of `indices` (dev_drops), or empty.
  Predictions predict(const std::vector<std::int64_t>& indices, const EvalCondition& condition,
                      const std::vector<Zero>& drops = {});
  void restore_best_weights();
  // A step's losses [objective, combined logits' cross-entropy]: its groups' sums added in group order, the
  // same bits on every rank count.
  at::Tensor summed_in_group_order(const std::vector<at::Tensor>& group_losses) const;
  std::vector<store::EvalRecord> evaluate_test_set();

  const Cell& cell_;
  const store::CorpusData& corpus_;
  const TrainControl& control_;
  const TrainOptions options_;
  const torch::Device device_;
  const std::int64_t num_classes_;
  models::EmotionModel model_;
  data::Split split_;
  dist::Communicator* group_;  // nullptr for one rank
  bool leader_;                // writes checkpoints
  data::Normalization norm_;
  const data::Normalization* audio_norm_ = nullptr;  // &norm_ when audio is normalised
  TrainingState state_;
  at::Tensor repaired_steps_;  // this epoch's steps with non-finite gradient elements (a device count)
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::unique_ptr<GroupGradients> gradients_;
};

CellTrainer::CellTrainer(const Cell& cell, const store::CorpusData& corpus, const TrainControl& control)
    : cell_(cell),
      corpus_(corpus),
      control_(control),
      options_(TrainOptions::from(cell.config)),
      device_(control.device),
      num_classes_(static_cast<std::int64_t>(corpus.info.class_names.size())),
      group_(control.group && control.group->size() > 1 ? control.group : nullptr),
      leader_(!group_ || group_->rank() == 0) {
  AUXGRID_CHECK(options_.precision != Precision::bf16 || bf16_supported(device_.is_cuda()),
                "cell '{}': train.precision = bf16 needs a CUDA device (--device cuda) or LibTorch 2.x on the CPU; "
                "this cell runs on {} with LibTorch {}",
                cell.label, device_.str(), TORCH_VERSION);
  torch::manual_seed(options_.seed);  // the initialisation
  model_ = models::make_model(cell.config, {corpus.info.audio_dim, corpus.info.video_dim, num_classes_});
  model_->to(device_);
  split_ = data::speaker_split(corpus, options_.seed, options_.train_fraction, options_.dev_fraction);
  if (options_.normalize_audio) {
    norm_ = data::audio_normalization(corpus, split_.train);
    audio_norm_ = &norm_;
  }
}

void CellTrainer::start_or_resume() {
  state_.lr = options_.lr;
  state_.rng.seed(options_.seed * 0x9E3779B97F4A7C15ull + 1);
  state_.order = split_.train;
  optimizer_ = std::make_unique<torch::optim::Adam>(model_->parameters(), torch::optim::AdamOptions(state_.lr));
  const auto& path = control_.checkpoint_path;
  if (!path.empty() && std::filesystem::exists(path)) {
    try {
      load_checkpoint(path, owner(), state_, *model_, *optimizer_);
      set_lr(*optimizer_, state_.lr);
      spdlog::info("{}: resumed from checkpoint {} at epoch {}, batch {}", cell_.label, path, state_.epoch + 1,
                   state_.next_batch);
      if (state_.threads != 0 && state_.threads != at::get_num_threads())
        spdlog::warn(
            "{}: the checkpoint was written with {} threads, this run has {}: the result will differ from "
            "an uninterrupted run's in the last bits (resume with --threads {} for the same bits)",
            cell_.label, state_.threads, at::get_num_threads(), state_.threads);
    } catch (const CheckpointRejected& e) {
      // Kept for inspection, out of the way of the next resume; the cell starts afresh.
      spdlog::warn("{}: {}; {}the cell starts from scratch", cell_.label, e.what(),
                   leader_ ? fmt::format("set aside as {}, ", store::set_aside(path)) : "");
    }
  }
  if (group_) broadcast_parameters(*group_, *model_);
  gradients_ = std::make_unique<GroupGradients>(*model_, group_);
}

store::CellResult CellTrainer::run(const EpochCallback& on_epoch) {
  start_or_resume();
  while (state_.epoch < options_.epochs) {
    const auto start = Clock::now();
    run_epoch(start);
    if (!end_epoch(start, on_epoch)) break;
  }

  store::CellResult result;
  result.cell_id = cell_.id;
  result.label = cell_.label;
  result.config = cell_.config;
  result.corpus_name = corpus_.info.name;
  result.class_names = corpus_.info.class_names;
  result.n_params = models::count_parameters(*model_);
  result.train_ids = ids_of(corpus_, split_.train);
  result.dev_ids = ids_of(corpus_, split_.dev);
  result.test_ids = ids_of(corpus_, split_.test);
  if (audio_norm_) {
    result.audio_mean.assign(norm_.mean.begin(), norm_.mean.end());
    for (float inv : norm_.inv_std) result.audio_std.push_back(1.0 / inv);
  }
  result.epochs = state_.epochs;
  result.best_epoch = state_.best_epoch;
  restore_best_weights();
  result.evals = evaluate_test_set();
  return result;
}

double CellTrainer::epoch_seconds(Clock::time_point start) const {
  return state_.epoch_seconds + std::chrono::duration<double>(Clock::now() - start).count();
}

void CellTrainer::run_epoch(Clock::time_point start) {
  model_->train();
  if (state_.next_batch == 0) {  // the epoch's order, saved in checkpoints as it is
    data::shuffle_in_place(state_.order, state_.rng);
    if (options_.batching == Batching::buckets)
      data::bucket_by_length(state_.order, corpus_, options_.batch_size, state_.rng);
  }
  const auto batches = data::chunk(state_.order, options_.batch_size);
  const auto count = static_cast<std::int64_t>(batches.size());
  // The next batch's groups (this rank's, empty ones included) are gathered
  // on another thread while this one trains.
  const auto gather = [&](std::int64_t i) {
    std::vector<std::pair<std::size_t, std::vector<std::int64_t>>> parts;
    const auto [first, last] = groups_of_rank(group_);
    for (auto g = first; g < last; ++g) {
      const auto [begin, end] = gradient_group(batches[i].size(), g);
      parts.emplace_back(g, std::vector<std::int64_t>(batches[i].begin() + begin, batches[i].begin() + end));
    }
    return std::async(std::launch::async, [this, parts = std::move(parts)] {
      data::Preparation preparation;
      preparation.audio = audio_norm_;
      preparation.fixed_length = options_.fixed_padding;
      GroupBatches out;
      for (const auto& [g, chunk] : parts)
        out.emplace_back(g, chunk.empty() ? data::Batch{} : pin_for(data::make_batch(corpus_, chunk, preparation), device_));
      return out;
    });
  };
  std::future<GroupBatches> next;
  if (state_.next_batch < count) next = gather(state_.next_batch);
  // The epoch's losses [objective, combined logits' cross-entropy] stay on
  // the device and are read once an epoch (or at a checkpoint): the step
  // itself never waits for the device. Summed in double, batch by batch.
  auto epoch_loss = torch::tensor({state_.epoch_loss, state_.epoch_combined_loss},
                                  torch::TensorOptions().dtype(torch::kDouble)).to(device_);
  const auto read_back = [&] {
    const auto host = epoch_loss.cpu();
    state_.epoch_loss = host[0].item<double>(), state_.epoch_combined_loss = host[1].item<double>();
  };
  for (auto i = state_.next_batch; i < count; ++i) {
    auto groups = next.get();
    if (i + 1 < count) next = gather(i + 1);
    const auto batch_loss = train_step(batches[i], std::move(groups));
    epoch_loss.add_(batch_loss);
    state_.next_batch = i + 1;
    if (control_.heartbeat) control_.heartbeat();
    if (spdlog::should_log(spdlog::level::debug))  // a read-back: verbose runs only
      spdlog::debug("{} epoch {} batch {}/{}: loss {:.4f}", cell_.label, state_.epoch + 1, i + 1, count,
                    batch_loss[0].item<double>() / static_cast<double>(batches[i].size()));
    double stop = control_.stop_requested && control_.stop_requested() ? 1 : 0;
    if (group_) group_->allreduce_sum_host(&stop, 1);  // the whole group stops at the same step
    if (stop > 0) {
      read_back();
      checkpoint_and_stop(start);
    }
  }
  read_back();
  if (group_) check_identical(*group_, *model_, cell_.label);
}

at::Tensor CellTrainer::train_step(const std::vector<std::int64_t>& full, GroupBatches groups) {
  // The same drops on every rank, in batch order (so checkpoints resume
  // exactly); each group then takes its share.
  const auto zero = modality_drop(options_, full.size(), state_.rng);
  std::vector<at::Tensor> group_losses(kGradientGroups);  // summed over the group's utterances, double
  optimizer_->zero_grad();
  for (auto& [g, host] : groups) {
    const auto [begin, end] = gradient_group(full.size(), g);
    if (begin == end) {  // fewer utterances than groups
      gradients_->keep(g);
      continue;
    }
    // Dropout keyed by (cell, epoch, step, group): the same masks wherever the group is computed.
    torch::manual_seed(group_seed(options_.seed, state_.epoch, state_.next_batch, g));
    data::zero_modalities(host, {zero.begin() + begin, zero.begin() + end});
    auto batch = on_device(std::move(host), device_);
    std::vector<models::HeadLogits> heads;
    {
      Autocast autocast(options_.precision == Precision::bf16, device_);
      heads = model_->forward(batch);
    }
    for (auto& head : heads) head.logits = head.logits.to(torch::kFloat);  // the losses in fp32
    auto loss = models::weighted_loss(heads, batch.labels);
    const auto size = static_cast<double>(end - begin);
    // What the dev loss measures, on the training batch: the curves compare like with like.
    const auto combined = torch::cross_entropy_loss(models::combined_logits(heads).detach(), batch.labels);
    group_losses[g] = torch::stack({loss.detach(), combined}).to(torch::kDouble) * size;
    (loss * (size / static_cast<double>(full.size()))).backward();  // the group's share of the batch's mean
    gradients_->keep(g);
  }
  gradients_->reduce(group_);
  const auto repaired = zero_non_finite_gradients(model_->parameters());
  if (repaired.defined())
    repaired_steps_ = repaired_steps_.defined() ? repaired_steps_ + repaired : repaired.to(torch::kLong);
  if (options_.clip > 0) clip_gradient_norm(model_->parameters(), options_.clip);
  optimizer_->step();
  return summed_in_group_order(group_losses);
}

at::Tensor CellTrainer::summed_in_group_order(const std::vector<at::Tensor>& group_losses) const {
  const auto options = torch::TensorOptions(device_).dtype(torch::kDouble);
  if (!group_) {  // on the device: a step never waits for it
    auto total = torch::zeros({2}, options);
    for (const auto& loss : group_losses)
      if (loss.defined()) total = total + loss;
    return total;
  }
  std::vector<double> values(2 * kGradientGroups, 0.0);  // one rank's nonzero per entry: the MPI sum is exact
  for (std::size_t g = 0; g < kGradientGroups; ++g)
    if (group_losses[g].defined()) {
      const auto host = group_losses[g].cpu();
      values[2 * g] = host[0].item<double>(), values[2 * g + 1] = host[1].item<double>();
    }
  group_->allreduce_sum_host(values.data(), values.size());
  double objective = 0, combined = 0;
  for (std::size_t g = 0; g < kGradientGroups; ++g) objective += values[2 * g], combined += values[2 * g + 1];
  return torch::tensor({objective, combined}, torch::TensorOptions().dtype(torch::kDouble)).to(device_);
}

void CellTrainer::checkpoint_and_stop(Clock::time_point start) {
  AUXGRID_CHECK(!control_.checkpoint_path.empty(), "cell '{}': stop requested but no checkpoint path", cell_.label);
  state_.epoch_seconds = epoch_seconds(start);
  if (leader_) save_checkpoint(control_.checkpoint_path, owner(), state_, *model_, *optimizer_);
  if (group_) group_->barrier();
  throw Preempted(
      fmt::format("cell '{}' checkpointed at epoch {}, batch {}", cell_.label, state_.epoch + 1, state_.next_batch));
}

bool CellTrainer::end_epoch(Clock::time_point start, const EpochCallback& on_epoch) {
  const double dev_loss = predict(split_.dev, EvalCondition{}, dev_drops(options_, split_.dev.size(), state_.epoch)).loss;
  const double train_loss = state_.epoch_loss;
  const auto utterances = static_cast<double>(state_.order.size());
  AUXGRID_CHECK(std::isfinite(train_loss) && std::isfinite(dev_loss),
                "cell '{}': loss is not finite in epoch {} (train {}, dev {})", cell_.label, state_.epoch + 1,
                train_loss, dev_loss);
  EpochReport report;
  report.epoch = state_.epoch + 1, report.epochs = options_.epochs;
  report.record = {train_loss / utterances, dev_loss, state_.lr, epoch_seconds(start),
                   state_.epoch_combined_loss / utterances};
  if (repaired_steps_.defined()) report.repaired_steps = repaired_steps_.item<std::int64_t>();
  repaired_steps_ = at::Tensor();
  state_.epochs.push_back(report.record);
  if (dev_loss < state_.best_dev) {
    torch::NoGradGuard no_grad;
    state_.best_dev = dev_loss, state_.best_epoch = state_.epoch, report.best = true;
    state_.best_state.clear();
    for (const auto& t : model_->parameters()) state_.best_state.push_back(t.detach().clone());
    for (const auto& t : model_->buffers()) state_.best_state.push_back(t.detach().clone());
  }
  if (on_epoch) on_epoch(report);
  const bool cut = options_.scheduler == Scheduler::step5 ? (state_.epoch + 1) % 5 == 0 : state_.plateau.step(dev_loss);
  if (cut) set_lr(*optimizer_, state_.lr *= 0.1);
  const bool stop_early = options_.early_stop > 0 && state_.epoch - state_.best_epoch >= options_.early_stop;
  ++state_.epoch, state_.next_batch = 0, state_.epoch_loss = 0, state_.epoch_combined_loss = 0, state_.epoch_seconds = 0;
  if (stop_early) return false;
  // Each epoch is a restart point, also for a kill without warning.
  if (!control_.checkpoint_path.empty() && state_.epoch < options_.epochs && leader_)
    save_checkpoint(control_.checkpoint_path, owner(), state_, *model_, *optimizer_);
  return true;
}

Predictions CellTrainer::predict(const std::vector<std::int64_t>& indices, const EvalCondition& condition,
                                 const std::vector<Zero>& drops) {
  torch::NoGradGuard no_grad;
  model_->eval();
  Predictions out;
  out.labels.resize(indices.size());
  out.predicted.resize(indices.size());
  // Positions into `indices`, in length order when padding is masked (the
  // results do not depend on the batching then, and padding is work).
  std::vector<std::int64_t> positions(indices.size());
  for (std::size_t k = 0; k < positions.size(); ++k) positions[k] = static_cast<std::int64_t>(k);
  if (options_.padding_masked)
    std::stable_sort(positions.begin(), positions.end(), [&](std::int64_t a, std::int64_t b) {
      return data::frames_of(corpus_, indices[a]) > data::frames_of(corpus_, indices[b]);
    });
  for (const auto& part : data::chunk(positions, kEvalBatch)) {
    if (control_.heartbeat) control_.heartbeat();
    std::vector<std::int64_t> chunk;
    for (auto k : part) chunk.push_back(indices[k]);
    auto preparation = preparation_for(condition, chunk.size(), options_.seed);
    preparation.audio = audio_norm_;
    preparation.fixed_length = options_.fixed_padding;
    if (!drops.empty())
      for (auto k : part) preparation.zero.push_back(drops[k]);
    const auto host = data::make_batch(corpus_, chunk, preparation);
    const auto batch = on_device(host, device_);
    at::Tensor logits;
    {
      Autocast autocast(options_.precision == Precision::bf16, device_);
      logits = models::combined_logits(model_->forward(batch)).to(torch::kFloat);
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

void CellTrainer::restore_best_weights() {
  torch::NoGradGuard no_grad;
  std::size_t i = 0;
  for (auto& t : model_->parameters()) t.copy_(state_.best_state[i++]);
  for (auto& t : model_->buffers()) t.copy_(state_.best_state[i++]);
}

std::vector<store::EvalRecord> CellTrainer::evaluate_test_set() {
  const auto test_ids = ids_of(corpus_, split_.test);
  std::vector<store::EvalRecord> evals;
  for (const auto& condition : options_.conditions) {
    auto p = predict(split_.test, condition);
    const auto confusion = stats::confusion_matrix(p.labels, p.predicted, static_cast<int>(num_classes_));
    store::EvalRecord eval;
    eval.condition = condition.name();
    eval.labels = std::move(p.labels);
    eval.predictions = std::move(p.predicted);
    eval.utterance_ids = test_ids;
    eval.confusion = confusion.counts;
    eval.micro_f1 = stats::micro_f1(confusion);
    eval.macro_f1 = stats::macro_f1(confusion);
    evals.push_back(std::move(eval));
  }
  return evals;
}

}  // namespace

std::string libtorch_version() { return TORCH_VERSION; }
int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }
bool libtorch_has_cuda() {
#ifdef AUXGRID_TORCH_HAS_CUDA
  return true;
#else
  return false;
#endif
}
bool bf16_supported(bool on_cuda) { return on_cuda || TORCH_VERSION_MAJOR >= 2; }

store::CellResult train_cell(const Cell& cell, const store::CorpusData& corpus, const EpochCallback& on_epoch,
                             const TrainControl& control) {
  return CellTrainer(cell, corpus, control).run(on_epoch);
}

}  // namespace auxgrid::train
