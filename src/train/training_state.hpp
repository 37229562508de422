#pragma once
// Everything that changes while a cell trains, and its checkpoint file: saved
// at any step boundary, it resumes to the same bits as an uninterrupted run
// (on the CPU). Private to src/train/.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "auxgrid/store/result_file.hpp"

namespace auxgrid::train {

// ReduceLROnPlateau(mode min, patience 5, factor 0.1, relative threshold 1e-4), as torch's default.
struct Plateau {
  double best = std::numeric_limits<double>::infinity();
  int bad_epochs = 0;
  // Whether the learning rate is to be cut after an epoch with this dev loss.
  bool step(double dev_loss);
};

struct TrainingState {
  int epoch = 0;                    // 0-based, the epoch in progress
  std::int64_t next_batch = 0;      // within the epoch
  std::vector<std::int64_t> order;  // the training order, reshuffled each epoch
  double epoch_loss = 0;            // the objective, summed over the epoch's utterances so far
  double epoch_combined_loss = 0;   // the combined logits' cross-entropy, likewise (NaN: resumed from an older build)
  double epoch_seconds = 0;         // spent on this epoch before a resume
  double lr = 0;
  Plateau plateau;
  double best_dev = std::numeric_limits<double>::infinity();
  int best_epoch = -1;
  std::vector<store::EpochRecord> epochs;
  std::vector<at::Tensor> best_state;  // parameters then buffers of the best epoch
  std::mt19937_64 rng;                 // data order and modality drops
  // LibTorch's threads in the run that saved the checkpoint (0 = not saved
  // yet): floating-point sums split by thread, so a resume is bit-identical
  // only with as many threads.
  int threads = 0;
};

// Which cell a checkpoint belongs to: its id and its settings (the canonical
// form the id hashes), written into the file and checked before a resume.
struct CheckpointOwner {
  std::string cell_id, settings;
  int model_revision = kModelRevision;  // what the model computes (core/version.hpp)
};

// A checkpoint that cannot be resumed: unreadable or damaged (LibTorch's
// archive checks every record), or another cell's. Thrown before the model,
// the optimizer or the state are touched, so the cell can start afresh.
struct CheckpointRejected : Error {
  using Error::Error;
};

// Written atomically (a temporary file, then rename).
void save_checkpoint(const std::string& path, const CheckpointOwner& owner, const TrainingState& state,
                     torch::nn::Module& model, torch::optim::Optimizer& optimizer);
void load_checkpoint(const std::string& path, const CheckpointOwner& owner, TrainingState& state,
                     torch::nn::Module& model, torch::optim::Optimizer& optimizer);

}  // namespace auxgrid::train
