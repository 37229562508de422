#pragma once
// Imports real, already extracted features into a corpus file's CorpusData:
// OpenSMILE low-level-descriptor CSVs (audio), per-clip .npy files or one HDF5
// file of per-clip datasets (video), labels and speakers from a CSV or from
// CREMA-D's file names. Features are stored raw: z-normalisation needs the
// training speakers of each split, so it happens at training time.
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "auxgrid/store/corpus_file.hpp"

namespace auxgrid::data {

struct ImportOptions {
  std::string name;            // corpus name
  std::string audio_dir;       // <clip>.csv, OpenSMILE -lldcsvoutput format; defines the clips
  std::string video_dir;       // <clip>.npy, shape (frames, D), <f4 or <f2 ...
  std::string video_h5;        // ... or one HDF5 file with a 2-D dataset per clip at the root
  std::string labels_csv;      // header clip,label,speaker ...
  bool crema_d_names = false;  // ... or labels and speakers from CREMA-D clip names
  // Fixes the class order of a labels CSV (a label outside it is an error);
  // empty: the distinct labels of the imported clips in labels-file order.
  std::vector<std::string> classes;
  double audio_hop_ms = 16.0;
  double video_fps = 29.97;
  // Skip bad clips (reported through `skipped`) instead of failing on the first.
  bool skip_bad = false;
};

struct SkippedClip {
  std::string clip;
  std::string reason;  // the error it would have been, naming the clip and the file
};

// Clips sorted by name. Throws auxgrid::Error naming the clip and the file on
// bad input, unless options.skip_bad (then `skipped`, if given, lists the bad
// clips; it throws only if no clip is left). Errors that are not about one
// clip (unreadable directory, malformed labels file) always throw.
store::CorpusData import_corpus(const ImportOptions& options, std::vector<SkippedClip>* skipped = nullptr);

// A row-major float matrix.
struct Matrix {
  std::int64_t rows = 0, cols = 0;
  std::vector<float> values;
};

// One OpenSMILE LLD CSV: `;`-separated, header "name;frameTime;<features>",
// one row per frame (instance name, time in seconds, values). NaN and Inf are
// parsed (the importer reports them with the frame); anything else that is not
// a number, or a row with the wrong number of fields, throws naming `where`
// and the line.
struct LldTable {
  std::vector<std::string> feature_names;
  Matrix frames;  // cols = feature_names.size()
};
LldTable parse_opensmile_csv(std::istream& in, const std::string& where);

// A NumPy .npy file, format 1.0 or 2.0, dtype <f4 or <f2 (converted to
// float32), C order, shape (frames, D). Throws naming `where` on a bad magic,
// header, dtype, order, rank or data size.
Matrix parse_npy(const std::string& bytes, const std::string& where);

// CREMA-D's clip names, ACTOR_SENTENCE_EMOTION_LEVEL (1001_DFA_ANG_XX).
struct CremaDName {
  std::string actor, sentence, emotion, level;
  int label = 0;  // index into crema_d_classes()
};
// anger, disgust, fear, happiness, sadness, neutral (the paper's order).
const std::vector<std::string>& crema_d_classes();
// Throws naming the clip if the name does not follow the convention or the
// emotion code is not one of ANG DIS FEA HAP SAD NEU.
CremaDName parse_crema_d_name(const std::string& clip);

}  // namespace auxgrid::data
