#pragma once
// A cell's training and evaluation settings, resolved once from its Config
// into types (docs/protocol.md): the training loop compares enums, never
// strings, and a bad value fails when the cell is planned, naming the key.
// Config stays what ids and result files are made of.
#include <cstdint>
#include <string>
#include <vector>

#include "auxgrid/core/config.hpp"

namespace auxgrid::train {

enum class Procedure { standard, optimized };  // optimized: modality dropping while training
enum class ModalityDrop { split, batch };      // 20 % / 20 % / 60 % inside a batch, or whole batches
enum class Batching { buckets, random };
enum class Precision { fp32, bf16 };
enum class Scheduler { plateau, step5 };
enum class Modality { audio, video };
enum class DevDrop { as_training, none };  // the optimized procedure's drop on the dev set, or the ideal dev set

// One evaluation condition on the test set (docs/protocol.md, "Evaluation
// conditions"): ideal; one modality only (the other zeroed); or a share of one
// modality's frames kept and the rest masked. Named as in result files:
// ideal, audio_only, video_only, mask_audio_p10 ... mask_video_p90.
struct EvalCondition {
  enum class Kind { ideal, only, masked };
  Kind kind = Kind::ideal;
  Modality modality = Modality::audio;  // only: the one kept; masked: the one masked
  int keep_percent = 100;               // masked: the share of its frames kept

  std::string name() const;
  // Throws, listing the known names, for any other name.
  static EvalCondition parse(const std::string& name);
};

// Every condition this build evaluates, in the order of eval.conditions = all.
const std::vector<EvalCondition>& known_conditions();
// eval.conditions: "all" or a comma-separated list of names.
std::vector<EvalCondition> parse_conditions(const std::string& list);

struct TrainOptions {
  std::uint64_t seed = 0;
  double train_fraction = 0, dev_fraction = 0;  // of the utterances, by speaker
  bool normalize_audio = true;
  bool padding_masked = true;  // model.padding_mask: evaluation may sort by length then
  bool fixed_padding = false;  // data.padding = fixed: batches padded to the corpus's longest utterance
  Procedure procedure = Procedure::standard;
  ModalityDrop modality_drop = ModalityDrop::split;
  DevDrop dev_drop = DevDrop::as_training;
  Batching batching = Batching::buckets;
  Precision precision = Precision::fp32;
  Scheduler scheduler = Scheduler::plateau;
  int epochs = 0;
  std::int64_t batch_size = 0;
  double lr = 0, clip = 0;  // clip: gradient 2-norm bound, 0 = off
  int early_stop = 0;       // epochs without a better dev loss before stopping, 0 = never
  std::vector<EvalCondition> conditions;

  // Throws naming the key for a value it cannot take.
  static TrainOptions from(const Config& config);
};

}  // namespace auxgrid::train
