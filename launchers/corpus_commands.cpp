// auxgrid synth / corpus-info: corpus files.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <limits>
#include <map>

#include "auxgrid/core/check.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

namespace {

// "1.07-2.50-4.99 s": shortest, median and longest utterance.
std::string duration_range(const std::vector<std::int64_t>& offsets, double seconds_per_frame) {
  std::vector<std::int64_t> frames;
  for (std::size_t u = 0; u + 1 < offsets.size(); ++u) frames.push_back(offsets[u + 1] - offsets[u]);
  if (frames.empty()) return "no utterances";
  std::sort(frames.begin(), frames.end());
  const std::size_t n = frames.size();
  const double median = n % 2 ? frames[n / 2] : 0.5 * (frames[n / 2 - 1] + frames[n / 2]);
  return fmt::format("min {:.2f} / median {:.2f} / max {:.2f} s per utterance", frames.front() * seconds_per_frame,
                     median * seconds_per_frame, frames.back() * seconds_per_frame);
}

}  // namespace

int synth(const Args& args) {
  std::string preset = "tiny", out, video_dtype;
  std::int64_t seed = 0;  // signed: "-1" is an error, not 2^64 - 1
  double scale = 1.0;
  po::options_description o("options");
  const auto presets = fmt::format("the corpus's shape: {} (default tiny)", fmt::join(data::synth_presets(), ", "));
  o.add_options()("preset", po::value(&preset), presets.c_str())(
      "seed", bounded<std::int64_t>(&seed, "seed", 0, std::numeric_limits<std::int64_t>::max()), "generator seed")(
      "out", po::value(&out)->required(), "corpus file to write")(
      "scale", bounded(&scale, "scale", 1e-9, 1.0),
      "keep this fraction (0, 1] of the utterances (every speaker stays)")(
      "video-dtype", po::value(&video_dtype), "float32 or float16 (default: the preset's)");
  parse(args, o);
  auto options = data::synth_preset(preset);
  options.scale = scale;
  if (!video_dtype.empty()) options.video_dtype = video_dtype;
  const auto start = std::chrono::steady_clock::now();
  const auto info = data::synthesize_to_file(options, static_cast<std::uint64_t>(seed), out);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  fmt::print(
      "wrote {} in {:.1f} s: {} utterances, {} speakers, {} classes, audio {} x {}, video {} x {} ({}), {:.1f} MB\n",
      out, took.count(), info.num_utterances, options.speakers, info.class_names.size(), info.audio_frames,
      info.audio_dim, info.video_frames, info.video_dim, info.video_dtype, std::filesystem::file_size(out) / 1e6);
  return 0;
}

int corpus_info(const Args& args) {
  std::string path;
  po::options_description o("options");
  o.add_options()("file", po::value(&path)->required(), "corpus file (HDF5, from auxgrid synth or import)");
  parse(args, o, "file");
  // Offsets, labels and speakers only: the feature matrices may be gigabytes.
  const auto corpus = store::read_corpus_index(path);
  const auto& i = corpus.info;
  std::map<std::string, int> speakers;
  for (const auto& s : corpus.speakers) ++speakers[s];
  std::vector<int> per_class(i.class_names.size(), 0);
  for (auto l : corpus.labels) ++per_class[l];
  int fewest = 0, most = 0;
  if (!speakers.empty()) {
    const auto [lo, hi] = std::minmax_element(speakers.begin(), speakers.end(),
                                              [](const auto& a, const auto& b) { return a.second < b.second; });
    fewest = lo->second, most = hi->second;
  }
  fmt::print("corpus '{}' ({}, {:.1f} MB)\n  {}\n", i.name, i.path, std::filesystem::file_size(i.path) / 1e6,
             i.description);
  fmt::print("  utterances {}, speakers {} ({}-{} utterances each)\n  classes:", i.num_utterances, speakers.size(),
             fewest, most);
  for (std::size_t c = 0; c < per_class.size(); ++c)
    fmt::print(" {} {}{}", i.class_names[c], per_class[c], c + 1 < per_class.size() ? "," : "\n");
  fmt::print("  audio: {} features, hop {} ms, {} frames (float32), {}\n", i.audio_dim, i.audio_hop_ms, i.audio_frames,
             duration_range(corpus.audio_offsets, i.audio_hop_ms / 1000));
  fmt::print("  video: {} features, {} fps, {} frames ({}), {}\n", i.video_dim, i.video_fps, i.video_frames,
             i.video_dtype, duration_range(corpus.video_offsets, 1 / i.video_fps));
  return 0;
}

}  // namespace auxgrid::launcher
