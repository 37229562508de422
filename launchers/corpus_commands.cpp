// auxgrid synth / corpus-info: corpus files.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

int synth(const Args& args) {
  std::string preset = "tiny", out;
  std::uint64_t seed = 0;
  po::options_description o("options");
  o.add_options()("preset", po::value(&preset), "tiny")("seed", po::value(&seed), "generator seed")(
      "out", po::value(&out)->required(), "corpus file to write");
  parse(args, o);
  const auto corpus = data::synthesize(data::synth_preset(preset), seed);
  store::write_corpus(out, corpus);
  fmt::print("wrote {}: {} utterances, {} speakers, {} classes, audio {} x {}, video {} x {}\n", out,
             corpus.info.num_utterances, std::set<std::string>(corpus.speakers.begin(), corpus.speakers.end()).size(),
             corpus.info.class_names.size(), corpus.info.audio_frames, corpus.info.audio_dim,
             corpus.info.video_frames, corpus.info.video_dim);
  return 0;
}

int corpus_info(const Args& args) {
  AUXGRID_CHECK(args.size() == 1, "usage: auxgrid corpus-info FILE");
  const auto corpus = store::read_corpus(args[0]);
  const auto& i = corpus.info;
  std::map<std::string, int> speakers;
  for (const auto& s : corpus.speakers) ++speakers[s];
  std::vector<int> per_class(i.class_names.size(), 0);
  for (auto l : corpus.labels) ++per_class[l];
  std::vector<std::int64_t> lengths;
  for (std::size_t u = 0; u + 1 < corpus.audio_offsets.size(); ++u)
    lengths.push_back(corpus.audio_offsets[u + 1] - corpus.audio_offsets[u]);
  const auto [shortest, longest] = std::minmax_element(lengths.begin(), lengths.end());
  fmt::print("corpus '{}' ({})\n  {}\n  utterances {}, speakers {}\n", i.name, i.path, i.description,
             i.num_utterances, speakers.size());
  fmt::print("  audio: {} features, hop {} ms, {} frames ({:.2f}-{:.2f} s per utterance)\n", i.audio_dim,
             i.audio_hop_ms, i.audio_frames, *shortest * i.audio_hop_ms / 1000, *longest * i.audio_hop_ms / 1000);
  fmt::print("  video: {} features, {} fps, {} frames\n  classes:", i.video_dim, i.video_fps, i.video_frames);
  for (std::size_t c = 0; c < per_class.size(); ++c)
    fmt::print(" {} {}{}", i.class_names[c], per_class[c], c + 1 < per_class.size() ? "," : "\n");
  return 0;
}

}  // namespace auxgrid::launcher
