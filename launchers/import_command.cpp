// auxgrid import: a corpus file from real, already extracted features.
#include <fmt/format.h>

#include <boost/algorithm/string/split.hpp>
#include <filesystem>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/importer.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

int import_corpus(const Args& args) {
  data::ImportOptions o;
  std::string classes, out;
  po::options_description d("options");
  d.add_options()("audio-dir", po::value(&o.audio_dir)->required(),
                  "directory of <clip>.csv OpenSMILE LLD CSVs (-lldcsvoutput); defines the clips")(
      "video-dir", po::value(&o.video_dir), "directory of <clip>.npy files, (frames, D), <f4 or <f2")(
      "video-h5", po::value(&o.video_h5), "or an HDF5 file with one 2-D dataset per clip, named after it")(
      "labels", po::value(&o.labels_csv), "CSV with header clip,label,speaker")(
      "crema-d-names", po::bool_switch(&o.crema_d_names), "or labels and speakers from CREMA-D clip names")(
      "classes", po::value(&classes), "class order for --labels, e.g. anger,sadness (other labels are errors)")(
      "name", po::value(&o.name), "corpus name (default: the output file's stem)")(
      "audio-hop-ms", bounded(&o.audio_hop_ms, "audio-hop-ms", 0.01, 100000.0), "audio frame hop (default 16)")(
      "video-fps", bounded(&o.video_fps, "video-fps", 0.001, 100000.0), "video frame rate (default 29.97)")(
      "skip-bad", po::bool_switch(&o.skip_bad), "skip bad clips (listed) instead of failing on the first")(
      "out", po::value(&out)->required(), "corpus file to write; features are stored raw (see usage)");
  parse(args, d);
  if (!classes.empty()) boost::split(o.classes, classes, [](char c) { return c == ','; });
  if (o.name.empty()) o.name = std::filesystem::path(out).stem().string();

  std::vector<data::SkippedClip> skipped;
  const auto corpus = data::import_corpus(o, &skipped);
  if (!skipped.empty()) {
    fmt::print(stderr, "skipped {} bad clip(s):\n", skipped.size());
    for (const auto& s : skipped) fmt::print(stderr, "  {}\n", s.reason);
  }
  store::write_corpus(out, corpus);
  const auto& i = corpus.info;
  std::vector<int> per_class(i.class_names.size(), 0);
  for (auto l : corpus.labels) ++per_class[l];
  fmt::print("wrote {}: {} utterances, {} speakers, audio {} x {}, video {} x {}, classes:", out, i.num_utterances,
             std::set<std::string>(corpus.speakers.begin(), corpus.speakers.end()).size(), i.audio_frames, i.audio_dim,
             i.video_frames, i.video_dim);
  for (std::size_t c = 0; c < per_class.size(); ++c)
    fmt::print(" {} {}{}", i.class_names[c], per_class[c], c + 1 < per_class.size() ? "," : "\n");
  return 0;
}

}  // namespace auxgrid::launcher
