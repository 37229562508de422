#include "auxgrid/train/trainer.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
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

Predictions predict(models::EmotionModelImpl& model, const store::CorpusData& corpus,
                    const std::vector<std::int64_t>& indices, const data::Normalization* norm,
                    const std::string& condition, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  model.eval();
  Predictions out;
  for (const auto& chunk : data::chunk(indices, kEvalBatch)) {
    auto preparation = condition_preparation(condition, chunk.size(), seed);
    preparation.audio = norm;
    auto batch = data::make_batch(corpus, chunk, preparation);
    auto logits = models::combined_logits(model.forward(batch));
    out.loss += torch::cross_entropy_loss(logits, batch.labels, {}, at::Reduction::Sum).item<double>();
    auto argmax = logits.argmax(1);
    auto truth = batch.labels.accessor<std::int64_t, 1>();
    auto guess = argmax.accessor<std::int64_t, 1>();
    for (std::int64_t b = 0; b < batch.size(); ++b) {
      out.labels.push_back(static_cast<std::int32_t>(truth[b]));
      out.predicted.push_back(static_cast<std::int32_t>(guess[b]));
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

store::CellResult train_cell(const Cell& cell, const store::CorpusData& corpus, const EpochCallback& on_epoch) {
  const Config& c = cell.config;
  const auto seed = static_cast<std::uint64_t>(c.integer("seed"));
  torch::manual_seed(seed);
  const models::ModelDims dims{corpus.info.audio_dim, corpus.info.video_dim,
                               static_cast<std::int64_t>(corpus.info.class_names.size())};
  auto model = models::make_model(c, dims);
  const auto split = data::speaker_split(corpus, seed, c.real("data.train_fraction"), c.real("data.dev_fraction"));

  double lr = c.real("train.lr");
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(lr));
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);  // data order and modality drops
  Plateau plateau;
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

  std::vector<at::Tensor> best_state;
  double best_dev = std::numeric_limits<double>::infinity();
  auto order = split.train;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model->train();
    data::shuffle_in_place(order, rng);
    double train_loss = 0;
    const auto batches = data::chunk(order, c.integer("train.batch_size"));
    for (std::size_t i = 0; i < batches.size(); ++i) {
      const auto& chunk = batches[i];
      data::Preparation preparation;
      preparation.zero = modality_drop(c, chunk.size(), rng);
      preparation.audio = audio_norm;
      auto batch = data::make_batch(corpus, chunk, preparation);
      auto loss = models::weighted_loss(model->forward(batch), batch.labels);
      optimizer.zero_grad();
      loss.backward();
      if (clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), clip);
      optimizer.step();
      const double batch_loss = loss.item<double>();
      train_loss += batch_loss * static_cast<double>(chunk.size());
      spdlog::debug("{} epoch {} batch {}/{}: loss {:.4f}", cell.label, epoch + 1, i + 1, batches.size(), batch_loss);
    }
    const double dev_loss = predict(*model, corpus, split.dev, audio_norm, "ideal", seed).loss;
    AUXGRID_CHECK(std::isfinite(train_loss) && std::isfinite(dev_loss),
                  "cell '{}': loss is not finite in epoch {} (train {}, dev {})", cell.label, epoch + 1, train_loss,
                  dev_loss);

    EpochReport report;
    report.epoch = epoch + 1, report.epochs = epochs;
    report.record = {train_loss / static_cast<double>(order.size()), dev_loss, lr,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
    result.epochs.push_back(report.record);
    if (dev_loss < best_dev) {
      torch::NoGradGuard no_grad;
      best_dev = dev_loss, result.best_epoch = epoch, report.best = true;
      best_state.clear();
      for (const auto& t : model->parameters()) best_state.push_back(t.detach().clone());
      for (const auto& t : model->buffers()) best_state.push_back(t.detach().clone());
    }
    if (on_epoch) on_epoch(report);
    if (step5 ? (epoch + 1) % 5 == 0 : plateau.step(dev_loss)) set_lr(optimizer, lr *= 0.1);
    if (patience > 0 && epoch - result.best_epoch >= patience) break;
  }

  {  // test with the best-dev-loss weights
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& t : model->parameters()) t.copy_(best_state[i++]);
    for (auto& t : model->buffers()) t.copy_(best_state[i++]);
  }
  for (const auto& condition : conditions_of(c)) {
    auto p = predict(*model, corpus, split.test, audio_norm, condition, seed);
    const auto confusion = stats::confusion_matrix(p.labels, p.predicted, static_cast<int>(dims.num_classes));
    store::EvalRecord eval;
    eval.condition = condition;
    eval.labels = std::move(p.labels);
    eval.predictions = std::move(p.predicted);
    eval.utterance_ids = result.test_ids;
    eval.confusion = confusion.counts;
    eval.micro_f1 = stats::micro_f1(confusion);
    eval.macro_f1 = stats::macro_f1(confusion);
    result.evals.push_back(std::move(eval));
  }
  return result;
}

}  // namespace auxgrid::train
