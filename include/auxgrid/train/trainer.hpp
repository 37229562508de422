#pragma once
// Training and evaluation of one cell (docs/protocol.md): speaker-independent
// split from the seed, Adam with gradient-norm clipping, weighted head losses,
// the standard / optimized procedures, best-dev-loss model selection, then
// every evaluation condition on the test set. The settings come typed from
// TrainOptions (options.hpp).
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "auxgrid/core/grid.hpp"
#include "auxgrid/dist/communicator.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/result_file.hpp"
#include "auxgrid/train/options.hpp"

namespace auxgrid::train {

struct EpochReport {
  int epoch = 0, epochs = 0;  // epoch is 1-based
  store::EpochRecord record;
  bool best = false;  // lowest dev loss so far
  // The epoch's steps (since the resume, in a resumed epoch) whose gradient
  // had non-finite elements, set to zero: a dropped modality's first steps
  // under the released initialisation (docs/models.md).
  std::int64_t repaired_steps = 0;
};
using EpochCallback = std::function<void(const EpochReport&)>;

// This build's LibTorch (`auxgrid version`, validation).
std::string libtorch_version();
int cuda_device_count();
// Whether this build's LibTorch has CUDA (whether or not a GPU is visible).
bool libtorch_has_cuda();
// train.precision = bf16 (autocast to bfloat16) runs on CUDA, and on the CPU
// under LibTorch 2.x (1.13 refuses it there).
bool bf16_supported(bool on_cuda);

// Checkpoints and stopping. With a checkpoint path, training resumes from an
// existing checkpoint and writes one after every epoch (a restart point even
// after SIGKILL); when stop_requested() turns true, the state is saved at the
// next step boundary and Preempted is thrown. A resumed cell's result equals
// an uninterrupted run's bit for bit on CPU (timings aside).
//
// Data parallelism: with a communicator of G ranks, every rank of the group
// runs train_cell for the same cell; each batch is split into G slices, the
// gradients are averaged so that the step equals the full batch's, and the
// ranks' parameters are checked to stay bit-identical after every epoch.
struct TrainControl {
  std::string checkpoint_path;  // written by the group's first rank
  std::function<bool()> stop_requested;
  dist::Communicator* group = nullptr;  // nullptr = one rank
  std::function<void()> heartbeat;      // called at every training step and evaluation batch
  // "cpu" or "cuda:N". Bit-identical resume holds on CPU; on CUDA the dropout
  // RNG state is not checkpointed.
  std::string device = "cpu";
};

struct Preempted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Trains and evaluates `cell` on `corpus`; the result is complete but for
// provenance, which the caller adds. Deterministic for a given thread count.
store::CellResult train_cell(const Cell& cell, const store::CorpusData& corpus, const EpochCallback& on_epoch = {},
                             const TrainControl& control = {});

}  // namespace auxgrid::train
