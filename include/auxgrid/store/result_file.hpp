#pragma once
// One result file per cell (schema below), written atomically; and reading,
// validating and scanning them. Readable by h5py / HDFView / MATLAB.
//
//   /            attrs: schema_version (int), cell_id, label, grid, complete (int 0/1),
//                       n_params (int64), num_classes, class_names (string array),
//                       best_epoch (0-based), + every provenance entry ("prov.*")
//   /config      attrs: model, corpus (corpus name), seed, procedure, and every
//                       resolved setting under its dotted key (model.width, ...);
//                       int64 / float64 / string; booleans as int8 0/1
//   /train       datasets float64 [epochs], each with a "units" attribute:
//                train_loss, dev_loss (nats, mean cross-entropy), lr, seconds
//                (wall seconds per epoch)
//   /split       string datasets: train_ids, dev_ids, test_ids (utterance ids)
//   /normalization  float64 [audio_dim]: audio_mean, audio_std (the training
//                set's statistics that z-normalised the audio; absent if off)
//   /eval/<condition>   (read back in the order written)
//                       datasets labels int32[N], predictions int32[N],
//                       utterance_ids string[N], confusion int64[C, C] (row = truth);
//                       attrs micro_f1, macro_f1 (float64)
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auxgrid/core/config.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::store {

inline constexpr int kResultSchemaVersion = 1;

struct EpochRecord {
  double train_loss = 0, dev_loss = 0, lr = 0, seconds = 0;
};

struct EvalRecord {
  std::string condition;
  std::vector<std::int32_t> labels, predictions;
  std::vector<std::string> utterance_ids;
  std::vector<std::int64_t> confusion;  // C x C, row-major
  double micro_f1 = 0, macro_f1 = 0;
};

struct CellResult {
  std::string cell_id, label, grid;
  Config config;            // every resolved setting
  std::string corpus_name;  // from the corpus file
  std::vector<std::string> class_names;
  std::int64_t n_params = 0;
  int best_epoch = -1;
  std::vector<EpochRecord> epochs;
  std::vector<std::string> train_ids, dev_ids, test_ids;
  std::vector<double> audio_mean, audio_std;  // empty when data.normalize_audio is off
  std::vector<EvalRecord> evals;
  std::map<std::string, std::string> provenance;  // host, versions, wall time, ...
};

// Writes `path` atomically: to "<path>.tmp.<pid>", with complete=1 set last,
// then rename(). A crash leaves no file at `path`, never a partial one.
void write_result(const std::string& path, const CellResult& result);

// Reads a complete result file; throws naming the file and the missing or
// malformed item (including complete != 1 and a schema_version mismatch).
CellResult read_result(const std::string& path);

// What the analysis needs, read without the per-utterance datasets.
struct ResultSummary {
  std::string path, cell_id, label, grid;
  std::map<std::string, std::string> config;  // every /config attribute as text
  std::string model, corpus, procedure;
  std::int64_t seed = 0;
  std::int64_t n_params = 0;
  std::map<std::string, std::pair<double, double>> f1;  // condition -> (micro, macro)
  std::vector<double> epoch_seconds;
  std::map<std::string, std::string> provenance;  // the prov.* attributes, without the prefix
};
ResultSummary read_result_summary(const std::string& path);

enum class ResultState { missing, complete, incomplete };
// complete only when the file opens, schema_version matches and complete == 1;
// `why` (if given) receives the reason otherwise. Never throws.
ResultState result_state(const std::string& path, std::string* why = nullptr);

// Scans <dir>/cells/*.h5. Complete files are summarised; every other .h5 file
// (truncated, incomplete, wrong schema) is reported in `problems` as
// "<path>: <reason>" and left out.
std::vector<ResultSummary> scan_results(const std::string& dir, std::vector<std::string>* problems);

// The HDF5 library's version, e.g. "1.10.8", for provenance.
std::string hdf5_version();

}  // namespace auxgrid::store
