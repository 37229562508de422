#pragma once
// One result file per cell (schema below), written atomically; and reading,
// verifying and scanning them. Readable by h5py / HDFView / MATLAB.
//
//   /            attrs: schema_version (int), cell_id, label, grid, complete (int 0/1),
//                       checksum (16 hex digits, from schema 2 on), model_revision
//                       (int, core/version.hpp; absent = 1), n_params (int64),
//                       num_classes, class_names (string array), best_epoch (0-based),
//                       + every provenance entry ("prov.*")
//   /config      attrs: model, corpus (corpus name), seed, procedure, and every
//                       resolved setting under its dotted key (model.width, ...);
//                       int64 / float64 / string; booleans as int8 0/1
//   /train       datasets float64 [epochs], each with a "units" attribute:
//                train_loss (the training objective: the heads' weighted
//                cross-entropies), train_combined_loss and dev_loss (the
//                cross-entropy of the combined logits, on the training batches
//                and on the dev set: the two that compare), all nats per
//                utterance; lr, seconds (wall seconds per epoch).
//                train_combined_loss is absent from files written before it.
//   /split       string datasets: train_ids, dev_ids, test_ids (utterance ids)
//   /normalization  float64 [audio_dim]: audio_mean, audio_std (the training
//                set's statistics that z-normalised the audio; absent if off)
//   /eval/<condition>   (read back in the order written)
//                       datasets labels int32[N], predictions int32[N],
//                       utterance_ids string[N], confusion int64[C, C] (row = truth);
//                       attrs micro_f1, macro_f1 (float64)
//
// A result proves what it is. `checksum` is the 64-bit FNV-1a hash of every
// other attribute and dataset but `complete` (names, shapes and values in name
// order: h5::content_hash); each evaluation's confusion tallies its labels and
// predictions and its F1 values are those of its confusion; and in a results
// directory the file is named after its cell_id, which is the id of its
// settings, and its model_revision is the one asked for (this build's unless
// the analysis asks for another). Schema 1 files (before the checksum) are read without it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auxgrid/core/config.hpp"
#include "auxgrid/core/version.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::store {

inline constexpr int kResultSchemaVersion = 2;        // written
inline constexpr int kOldestResultSchemaVersion = 1;  // still read

struct EpochRecord {
  double train_loss = 0, dev_loss = 0, lr = 0, seconds = 0;
  double train_combined_loss = 0;  // NaN: not recorded (read from an older file)
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
  int model_revision = kModelRevision;  // what the models computed (core/version.hpp)
  Config config;                        // every resolved setting
  std::string corpus_name;              // from the corpus file
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

// Reads a complete, intact result file; throws naming the file and the
// missing, malformed or mismatching item (complete != 1, a schema_version
// this build does not read, a checksum or an F1 that does not match).
CellResult read_result(const std::string& path);

// What the analysis needs, read without the per-utterance datasets.
struct ResultSummary {
  std::string path, cell_id, label, grid;
  std::map<std::string, std::string> config;  // every /config attribute as text
  std::string model, corpus, procedure;
  std::int64_t seed = 0;
  std::int64_t n_params = 0;
  std::map<std::string, std::pair<double, double>> f1;      // condition -> (micro, macro)
  std::vector<double> epoch_seconds, train_loss, dev_loss;  // per epoch (/train)
  std::vector<double> train_combined_loss;                  // per epoch; empty in older files
  std::map<std::string, std::string> provenance;            // the prov.* attributes, without the prefix
};
// Verified as read_result verifies.
ResultSummary read_result_summary(const std::string& path);

// incomplete: a file is there but is not a complete, intact result of its cell.
enum class ResultState { missing, complete, incomplete };
// The state of cell `cell_id`'s result in results directory `dir`: complete
// only when read_result accepts the file and it is the result of that cell:
// its cell_id is that id and (when this build knows every setting in it) the
// id of its settings, and, given `expected` (the cell's settings in the
// grid), every setting equals the grid's. `why` (if given) receives the reason
// otherwise. Never throws. Each version of a file is read in full once
// (DIR/verified.tsv); then only its identity is read.
ResultState result_state(const std::string& dir, const std::string& cell_id, std::string* why = nullptr,
                         const Config* expected = nullptr);

// Scans <dir>/cells/*.h5. Complete results of the cells they are named after
// (verified as result_state verifies them, without a grid) and of model
// revision `revision` are summarised; every other .h5 file (truncated, incomplete,
// damaged, of another cell or revision, wrong schema) is reported in `problems` as "<path>: <reason>" and left out.
std::vector<ResultSummary> scan_results(const std::string& dir, std::vector<std::string>* problems,
                                        int revision = kModelRevision);

// The HDF5 library's version, e.g. "1.10.8", for provenance.
std::string hdf5_version();

}  // namespace auxgrid::store
