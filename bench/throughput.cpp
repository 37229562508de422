// Benchmark: training and evaluation throughput of the models at the paper's
// size, on batches whose lengths follow the synthetic CREMA-D or MSP-IMPROV
// plan (auxgrid synth's length distributions), next to the machine's
// matrix-product ceiling measured in the same run.
//
//   throughput [--models auxformer,baseline1,FILE.pt,...|all] [--corpora crema-d,msp-improv] [--batch 32]
//              [--steps 1] [--warmup 1] [--threads N] [--buckets 4] [--profile]
//              [--variants "plain padded,fast padded,fast buckets,fast groups,eval buckets"] [--set KEY=VALUE ...]
//
// --set gives every model a setting, e.g. --set model.attention_mask=none to
// time the fused kernels without the causal mask against a run with it.
// --attention instead times the fused attention kernel alone, forward and
// backward, with the causal mask and without, at AuxFormer's shapes on
// CREMA-D lengths (32 utterances of 300 audio and 150 video frames, 10
// heads of 13): its cross-modal and self-attention calls, alternated.
//
// Variants, each over the same utterances:
//   plain padded   LibTorch's dropout and attention (the implementation before
//                  the speed work), random batches padded to their longest utterance
//   fast padded    kernels.hpp's dropout and attention, the same batches
//   fast buckets   the same kernels on batches of similar lengths cut from a
//                  pool of 50 batches, as train.batching = buckets does
//   fast groups    the same batches trained as the trainer does since model
//                  revision 4: 4 gradient groups, each its own forward and
//                  backward, padded to its own longest utterance, summed in
//                  one fixed order (train/data_parallel.hpp)
// Each variant times --buckets batches (--steps passes after --warmup steps).
//   eval buckets   inference (no gradients) on the bucketed batches
// A FILE.pt model is a scripted PyTorch one (model.name = "torchscript"),
// built for 130 audio, 4096 video and the corpus's classes, e.g.
// bench/scripted_xmodal.py's copy of xmodal; auxgrid's kernels do not reach
// inside it, so its variants differ only in their batches.
// samples/s counts real utterances; GFLOP/s counts the matrix products LibTorch
// executes (mm, addmm, bmm, from its profiler, forward and backward) and those
// of auxgrid's kernels (kernels::kernel_flops()), per second. The ceiling is
// the faster of LibTorch's mm and auxgrid's linear (oneDNN's sgemm when built
// with it) on a 2048^3 product.
#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "auxgrid/core/allocator.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/data/batch.hpp"
#include "auxgrid/data/corpus.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/kernels/kernels.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/train/data_parallel.hpp"

using namespace auxgrid;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::vector<std::string> models{"auxformer"}, corpora{"crema-d"},
      variants{"plain padded", "fast padded", "fast buckets", "fast groups", "eval buckets"};
  int batch = 32, steps = 1, warmup = 1, threads = 0, buckets = 4;
  bool profile = false, attention = false;
  std::vector<std::pair<std::string, std::string>> settings;  // --set KEY=VALUE
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A batch of random features with the given lengths (audio, video frames).
data::Batch make_batch(const std::vector<std::pair<std::int64_t, std::int64_t>>& lengths, std::int64_t classes) {
  const auto b = static_cast<std::int64_t>(lengths.size());
  std::int64_t ta = 1, tv = 1;
  for (const auto& [a, v] : lengths) ta = std::max(ta, a), tv = std::max(tv, v);
  data::Batch batch;
  batch.audio = torch::randn({b, ta, 130});
  batch.video = torch::randn({b, tv, 4096});
  batch.audio_mask = torch::zeros({b, ta}, torch::kBool);
  batch.video_mask = torch::zeros({b, tv}, torch::kBool);
  for (std::int64_t i = 0; i < b; ++i) {
    batch.audio_mask[i].slice(0, 0, lengths[i].first).fill_(true);
    batch.video_mask[i].slice(0, 0, lengths[i].second).fill_(true);
    batch.audio[i].slice(0, lengths[i].first).zero_();
    batch.video[i].slice(0, lengths[i].second).zero_();
    batch.utterances.push_back(i);
  }
  batch.labels = torch::randint(classes, {b}, torch::kLong);
  return batch;
}

// Utterances [begin, end) of a batch, padded to their own longest, as the
// trainer gathers a gradient group.
data::Batch group_of(const data::Batch& b, std::int64_t begin, std::int64_t end) {
  data::Batch g;
  const auto audio_mask = b.audio_mask.slice(0, begin, end), video_mask = b.video_mask.slice(0, begin, end);
  const auto ta = std::max<std::int64_t>(1, audio_mask.sum(1).max().item<std::int64_t>());
  const auto tv = std::max<std::int64_t>(1, video_mask.sum(1).max().item<std::int64_t>());
  g.audio = b.audio.slice(0, begin, end).slice(1, 0, ta).contiguous();
  g.video = b.video.slice(0, begin, end).slice(1, 0, tv).contiguous();
  g.audio_mask = audio_mask.slice(1, 0, ta).contiguous();
  g.video_mask = video_mask.slice(1, 0, tv).contiguous();
  g.labels = b.labels.slice(0, begin, end);
  g.utterances.assign(b.utterances.begin() + begin, b.utterances.begin() + end);
  return g;
}

// Seconds of the faster of LibTorch's mm and auxgrid's linear layer (fast
// kernels) for an [m, k] x [k, n] product, best of `repeats`.
double product_seconds(std::int64_t m, std::int64_t k, std::int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  const auto a = torch::randn({m, k}), b = torch::randn({k, n}), bt = b.t().contiguous();
  auto c = torch::empty({m, n});
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    torch::mm_out(c, a, b);
    best = std::min(best, seconds_since(start));
    start = Clock::now();
    kernels::linear(a, bt, {});
    best = std::min(best, seconds_since(start));
  }
  return best;
}

// The machine's ceiling for the products the models can use: a large
// single-precision product, through the faster of the two libraries.
double matmul_ceiling_gflops() { return 2.0 * 2048 * 2048 * 2048 / product_seconds(2048, 2048, 2048, 5) / 1e9; }

// The (m, k, n) of a step's matrix products, with how often each occurs.
using GemmShapes = std::map<std::array<std::int64_t, 3>, int>;

// Matrix-product FLOPs of fn: LibTorch's, counted by its profiler, and
// auxgrid's kernels' (not timed); with `shapes`, the shapes of LibTorch's
// products and of auxgrid's linear layers.
double matmul_flops(const std::function<void()>& fn, GemmShapes* shapes = nullptr) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  prof::enableProfilerLegacy(ProfilerConfig(ProfilerState::CPU, /*report_input_shapes=*/true, false, false,
                                            /*with_flops=*/true));
  const auto kernels_before = kernels::kernel_flops();
  if (shapes)
    kernels::observe_products([shapes](std::int64_t m, std::int64_t k, std::int64_t n) { ++(*shapes)[{m, k, n}]; });
  fn();
  kernels::observe_products({});
  double flops = static_cast<double>(kernels::kernel_flops() - kernels_before);
  for (auto& events : prof::disableProfilerLegacy())
    for (auto& e : events) {
      const std::string name = e.name();
      if (name == "aten::mm" || name == "aten::addmm" || name == "aten::bmm") flops += static_cast<double>(e.flops());
      const auto in = e.shapes();  // mm: a, b; addmm: bias, a, b
      if (shapes && (name == "aten::mm" || name == "aten::addmm") && in.size() >= 2) {
        const auto &a = in[in.size() - 2], &b = in[in.size() - 1];
        if (a.size() == 2 && b.size() == 2) ++(*shapes)[{a[0], a[1], b[1]}];
      }
    }
  return flops;
}

// How fast those products run on their own, each shape timed alone (best of
// 3, operands in row-major order): the rate a step made of nothing but them
// would reach, an upper bound on a real step's.
double gemm_shapes_gflops(const GemmShapes& shapes) {
  double flops = 0, seconds = 0;
  for (const auto& [mkn, count] : shapes) {
    const auto [m, k, n] = mkn;
    flops += 2.0 * static_cast<double>(m * k * n) * count;
    seconds += product_seconds(m, k, n, 3) * count;
  }
  return flops / seconds / 1e9;
}

// --profile: where one call of fn spends its time, by LibTorch operator
// (self time, i.e. without the operators it calls), the largest first.
void print_profile(const std::function<void()>& fn) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  prof::enableProfilerLegacy(ProfilerConfig(ProfilerState::CPU));
  fn();
  std::map<std::string, double> self_us;
  double total = 0;
  for (auto& events : prof::disableProfilerLegacy()) {
    std::vector<std::pair<const prof::LegacyEvent*, double>> open;  // push event, children's time
    for (auto& e : events) {
      if (e.kindStr() == "push") open.emplace_back(&e, 0.0);
      if (e.kindStr() != "pop" || open.empty()) continue;
      const auto [push, children] = open.back();
      open.pop_back();
      const double elapsed = push->cpuElapsedUs(e);
      self_us[push->name()] += elapsed - children;
      if (open.empty())
        total += elapsed;
      else
        open.back().second += elapsed;
    }
  }
  std::vector<std::pair<double, std::string>> ordered;
  for (const auto& [name, us] : self_us) ordered.emplace_back(-us, name);
  std::sort(ordered.begin(), ordered.end());
  fmt::print("profile of one step, {:.2f} s in operators:\n", total / 1e6);
  for (std::size_t i = 0; i < ordered.size() && i < 25; ++i)
    fmt::print("  {:>6.1f} %  {:>8.3f} s  {}\n", -100 * ordered[i].first / total, -ordered[i].first / 1e6,
               ordered[i].second);
}

struct Measure {
  double samples_per_s = 0, gflops = 0, seconds_per_step = 0;
};

// Times `step` over `batches` (after warm-up steps on the first batch).
Measure measure(const std::vector<data::Batch>& batches, const std::function<void(const data::Batch&)>& step,
                const Options& o) {
  for (int i = 0; i < o.warmup; ++i) step(batches.front());
  double flops = 0;
  for (const auto& b : batches) flops += matmul_flops([&] { step(b); });
  std::int64_t samples = 0;
  const auto start = Clock::now();
  int steps = 0;
  for (int r = 0; r < o.steps; ++r)
    for (const auto& b : batches) step(b), samples += b.size(), ++steps;
  const double s = seconds_since(start);
  return {samples / s, flops * o.steps / s / 1e9, s / steps};
}

// The fused attention kernel alone (--attention): seconds per forward and
// backward of one cross-modal (300 audio queries over 150 video keys) and one
// self-attention (300 frames) call, with and without the causal mask, the
// two alternated so that the machine's drift falls on both.
int time_attention(const Options& o) {
  kernels::set_mode(kernels::Mode::fast);
  const std::int64_t b = o.batch, t = 300, s = 150, heads = 10, width = 130;
  torch::manual_seed(0);
  const auto query = torch::randn({b, t, width}), keys_values = torch::randn({b, s, 2 * width});
  const auto packed = torch::randn({b, t, 3 * width});
  const auto up = torch::randn({b, t, width});
  const auto call = [&](bool causal) {
    const auto cross_offset = torch::full({b}, std::abs(s - t), torch::kLong), self_offset = torch::zeros({b}, torch::kLong);
    auto q = query.clone().requires_grad_(), kv = keys_values.clone().requires_grad_(), p = packed.clone().requires_grad_();
    const kernels::AttentionMask cross({}, causal ? cross_offset : at::Tensor()), self({}, causal ? self_offset : at::Tensor());
    (kernels::multi_head_attention(q, kv, heads, cross, 0.0, true) * up).sum().backward();
    (kernels::multi_head_attention(p, {}, heads, self, 0.0, true) * up).sum().backward();
  };
  std::vector<double> with, without;
  for (int r = 0; r < o.warmup; ++r) call(true), call(false);
  for (int r = 0; r < std::max(o.steps, 5); ++r) {
    auto start = Clock::now();
    call(true);
    with.push_back(seconds_since(start));
    start = Clock::now();
    call(false);
    without.push_back(seconds_since(start));
  }
  std::sort(with.begin(), with.end()), std::sort(without.begin(), without.end());
  const double a = with[with.size() / 2], n = without[without.size() / 2];
  fmt::print("fused attention, forward and backward, batch {}, {} threads (median of {}): causal mask {:.1f} ms, "
             "none {:.1f} ms: causal / none = {:.2f}\n",
             b, torch::get_num_threads(), with.size(), 1e3 * a, 1e3 * n, a / n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string key = argv[i], value = i + 1 < argc ? argv[i + 1] : "";
    if (key == "--profile")
      o.profile = true, --i;
    else if (key == "--attention")
      o.attention = true, --i;
    else if (key == "--models") {
      o.models = value == "all" ? models::model_registry().names() : split_list(value);
      o.models.erase(std::remove(o.models.begin(), o.models.end(), "torchscript"), o.models.end());  // needs a file
    } else if (key == "--corpora")
      o.corpora = split_list(value);
    else if (key == "--variants")
      o.variants = split_list(value);
    else if (key == "--batch")
      o.batch = std::stoi(value);
    else if (key == "--steps")
      o.steps = std::stoi(value);
    else if (key == "--warmup")
      o.warmup = std::stoi(value);
    else if (key == "--threads")
      o.threads = std::stoi(value);
    else if (key == "--buckets")
      o.buckets = std::stoi(value);
    else if (key == "--set" && value.find('=') != std::string::npos)
      o.settings.emplace_back(value.substr(0, value.find('=')), value.substr(value.find('=') + 1));
    else {
      fmt::print(stderr, "throughput: unknown option {}\n", key);
      return 2;
    }
  }
  if (o.threads > 0) torch::set_num_threads(o.threads);
  if (o.attention) return time_attention(o);
  torch::manual_seed(0);
  const double ceiling = matmul_ceiling_gflops();
  fmt::print(
      "LibTorch {}, {} threads; matrix-product ceiling (sgemm 2048^3, best of 5, the faster of LibTorch's mm "
      "and auxgrid's linear): {:.1f} GFLOP/s\n\n",
      TORCH_VERSION, torch::get_num_threads(), ceiling);
  std::vector<std::string> bounds;                    // per model and corpus: the rate its own products reach alone
  std::vector<std::pair<std::string, double>> rates;  // "model corpus variant", GFLOP/s
  fmt::print("| model | corpus | variant | samples/s | s/step | GFLOP/s | % of ceiling | x plain padded |\n");
  fmt::print("|---|---|---|---:|---:|---:|---:|---:|\n");

  for (const auto& corpus : o.corpora) {
    const auto plan = data::plan_corpus(data::synth_preset(corpus), 0);
    const std::int64_t classes = static_cast<std::int64_t>(plan.info.class_names.size());
    std::mt19937_64 rng(1);
    // Random batches (padded) are --buckets batches of a pool of the trainer's
    // size (50 batches, train.batching = buckets); bucketed batches are the
    // same pool sorted by length and cut into batches, of which --buckets
    // evenly spaced ones are timed: the epoch's mix of lengths.
    constexpr int kPoolBatches = 50;
    std::vector<std::pair<std::int64_t, std::int64_t>> pool;
    for (int i = 0; i < o.batch * kPoolBatches; ++i) {
      const auto& u = plan.utterances[rng() % plan.utterances.size()];
      pool.emplace_back(u.audio_frames, u.video_frames);
    }
    std::vector<data::Batch> padded, bucketed;
    auto sorted = pool;
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first + a.second > b.first + b.second; });
    for (int k = 0; k < o.buckets; ++k) {
      const auto from = pool.begin() + k * o.batch;
      const auto sfrom = sorted.begin() + (kPoolBatches * (2 * k + 1) / (2 * o.buckets)) * o.batch;
      padded.push_back(make_batch({from, from + o.batch}, classes));
      bucketed.push_back(make_batch({sfrom, sfrom + o.batch}, classes));
    }

    for (const auto& name : o.models) {
      auto c = Config::defaults();
      c.set("model.name", models::is_scripted_model_file(name) ? std::string("torchscript") : name);
      if (models::is_scripted_model_file(name)) c.set("model.path", name);
      std::vector<std::string> explicit_keys;
      for (const auto& [key, value] : o.settings) c.set_from_text(key, value), explicit_keys.push_back(key);
      apply_model_defaults(c, explicit_keys);
      auto model = models::make_model(c, {130, 4096, classes});
      torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(7.25e-4));
      const std::function<void(const data::Batch&)> train_step = [&](const data::Batch& b) {
        model->train();
        optimizer.zero_grad();
        models::weighted_loss(model->forward(b), b.labels).backward();
        torch::nn::utils::clip_grad_norm_(model->parameters(), 0.8);
        optimizer.step();
      };
      train::GroupGradients gradients(*model, nullptr);
      const std::function<void(const data::Batch&)> train_groups_step = [&](const data::Batch& b) {
        model->train();
        optimizer.zero_grad();
        const auto n = static_cast<std::size_t>(b.size());
        for (std::size_t g = 0; g < train::kGradientGroups; ++g) {
          const auto [begin, end] = train::gradient_group(n, g);
          if (begin == end) {
            gradients.keep(g);
            continue;
          }
          torch::manual_seed(train::group_seed(0, 0, 0, g));
          const auto part = group_of(b, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
          const double share = static_cast<double>(end - begin) / static_cast<double>(n);
          (models::weighted_loss(model->forward(part), part.labels) * share).backward();
          gradients.keep(g);
        }
        gradients.reduce(nullptr);
        torch::nn::utils::clip_grad_norm_(model->parameters(), 0.8);
        optimizer.step();
      };
      const std::function<void(const data::Batch&)> eval_step = [&](const data::Batch& b) {
        torch::NoGradGuard no_grad;
        model->eval();
        models::combined_logits(model->forward(b)).argmax(1);
      };
      struct Variant {
        const char* label;
        kernels::Mode kernels;
        const std::vector<data::Batch>* batches;
        bool train;
        bool groups = false;
      };
      double plain = 0;
      if (o.profile) fmt::print("\n");
      for (const Variant& v : {Variant{"plain padded", kernels::Mode::plain, &padded, true},
                               Variant{"fast padded", kernels::Mode::fast, &padded, true},
                               Variant{"fast buckets", kernels::Mode::fast, &bucketed, true},
                               Variant{"fast groups", kernels::Mode::fast, &bucketed, true, true},
                               Variant{"eval buckets", kernels::Mode::fast, &bucketed, false}}) {
        if (std::find(o.variants.begin(), o.variants.end(), v.label) == o.variants.end()) continue;
        kernels::set_mode(v.kernels);
        if (o.profile) {
          if (!v.train) continue;
          for (int i = 0; i < std::max(o.warmup, 1); ++i) train_step(v.batches->front());
          fmt::print("{}, {} batch of {}:\n", v.label, name, o.batch);
          print_profile([&] { train_step(v.batches->front()); });
          continue;
        }
        const Measure m = measure(*v.batches, v.groups ? train_groups_step : v.train ? train_step : eval_step, o);
        if (v.kernels == kernels::Mode::plain) plain = m.samples_per_s;
        rates.emplace_back(fmt::format("{} {} {}", name, corpus, v.label), m.gflops);
        fmt::print("| {} | {} | {} | {:.2f} | {:.2f} | {:.1f} | {:.0f} % | {} |\n", name, corpus, v.label,
                   m.samples_per_s, m.seconds_per_step, m.gflops, 100 * m.gflops / ceiling,
                   v.train && plain > 0 ? fmt::format("{:.2f}", m.samples_per_s / plain) : "");
        std::fflush(stdout);
      }
      if (o.profile) continue;
      GemmShapes shapes;
      kernels::set_mode(kernels::Mode::fast);
      matmul_flops([&] { train_step(padded.front()); }, &shapes);
      const double bound = gemm_shapes_gflops(shapes);
      bounds.push_back(
          fmt::format("{} on {}: its {} matrix-product shapes, timed alone, run at {:.1f} GFLOP/s = {:.0f} % "
                      "of the ceiling",
                      name, corpus, shapes.size(), bound, 100 * bound / ceiling));
    }
  }
  for (const auto& line : bounds) fmt::print("{}{}\n", &line == &bounds.front() ? "\n" : "", line);
  if (rates.empty()) return 0;
  // The ceiling's measurement varies from minute to minute on shared machines:
  // measured again at the end, the higher of the two gives the cautious ratios.
  const double after = matmul_ceiling_gflops(), higher = std::max(ceiling, after);
  fmt::print("\nceiling measured again after the variants: {:.1f} GFLOP/s; against the higher of the two ({:.1f}):\n",
             after, higher);
  for (const auto& [label, gflops] : rates) fmt::print("  {}: {:.0f} % of the ceiling\n", label, 100 * gflops / higher);
  return 0;
}
