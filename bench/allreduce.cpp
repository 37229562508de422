// Benchmark: the gradient exchange of data-parallel training against the
// training step it belongs to. Under mpirun, every group of --ranks ranks
// holds the full-size model; each rank trains its half of a batch (the
// CREMA-D-like lengths of bench/throughput.cpp, bucketed) and the group
// sums the gradients with train::GroupGradients (its slots, in fixed order), the trainer's own
// code path (MPI here; NCCL in CUDA builds).
//
//   mpirun -np 2 --bind-to none allreduce [--model auxformer] [--batch 32] [--repeats 20] [--threads 1]
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "auxgrid/core/allocator.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/data/batch.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/dist/communicator.hpp"
#include "auxgrid/dist/world.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/train/data_parallel.hpp"

using namespace auxgrid;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  auto& world = dist::World::init(&argc, &argv);
  std::string model_name = "auxformer";
  int batch = 32, repeats = 20, threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--model")
      model_name = value;
    else if (key == "--batch")
      batch = std::stoi(value);
    else if (key == "--repeats")
      repeats = std::stoi(value);
    else if (key == "--threads")
      threads = std::stoi(value);
  }
  torch::set_num_threads(threads);
  const auto group = dist::make_group_communicator(world, world.size(), world.size() > 1 ? "mpi" : "local", false);

  auto c = Config::defaults();
  c.set("model.name", model_name);
  apply_model_defaults(c);
  torch::manual_seed(0);
  auto model = models::make_model(c, {130, 4096, 6});
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(7.25e-4));
  std::int64_t floats = 0;
  for (const auto& p : model->parameters()) floats += p.numel();

  // This rank's share of a batch of similar-length CREMA-D-like utterances.
  const auto plan = data::plan_corpus(data::synth_preset("crema-d"), 0);
  std::mt19937_64 rng(static_cast<std::uint64_t>(world.rank()) + 1);
  const auto& u = plan.utterances[rng() % plan.utterances.size()];
  const std::int64_t share = batch / group->size(), ta = u.audio_frames, tv = u.video_frames;
  data::Batch b;
  b.audio = torch::randn({share, ta, 130});
  b.video = torch::randn({share, tv, 4096});
  b.audio_mask = torch::ones({share, ta}, torch::kBool);
  b.video_mask = torch::ones({share, tv}, torch::kBool);
  b.labels = torch::randint(6, {share}, torch::kLong);
  for (std::int64_t i = 0; i < share; ++i) b.utterances.push_back(i);

  train::GroupGradients gradients(*model, group.get());
  const auto exchange_gradients = [&] {  // this rank's share as its groups, then the fixed-order sum
    const auto [first, last] = train::groups_of_rank(group.get());
    for (auto g = first; g < last; ++g) gradients.keep(g);
    gradients.reduce(group.get());
  };
  std::vector<double> exchange, step;
  for (int r = 0; r < 3; ++r) {  // training steps, the first one a warm-up
    group->barrier();
    const auto start = Clock::now();
    optimizer.zero_grad();
    models::weighted_loss(model->forward(b), b.labels).backward();
    exchange_gradients();
    optimizer.step();
    if (r > 0) step.push_back(seconds_since(start));
  }
  for (int r = 0; r < repeats; ++r) {  // the exchange alone
    group->barrier();
    const auto start = Clock::now();
    exchange_gradients();
    exchange.push_back(seconds_since(start));
  }
  if (world.rank() == 0)
    fmt::print(
        "{} ranks, {} ({} floats of gradient, {:.1f} MB), batch {} ({} per rank, {} audio / {} video frames): "
        "gradient exchange {:.1f} ms (median of {}), training step {:.2f} s (median of {}): exchange = {:.2f} % of "
        "a step\n",
        group->size(), model_name, floats, floats * 4 / 1e6, batch, share, ta, tv, 1e3 * median(exchange), repeats,
        median(step), step.size(), 100 * median(exchange) / median(step));
  return 0;
}
