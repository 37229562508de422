#include "auxgrid/store/corpus_file.hpp"

#include <unordered_set>

#include "auxgrid/core/check.hpp"
#include "h5.hpp"

namespace auxgrid::store {

namespace {

// Rows per chunk of the feature matrices: large enough for fast whole-file
// reads, small enough that appending utterances later touches little.
constexpr hsize_t kChunkRows = 1024;

std::string where_of(const std::string& path) { return fmt::format("corpus '{}'", path); }

void check_stream(const std::string& modality, const std::vector<float>& features,
                  const std::vector<std::int64_t>& offsets, std::int64_t dim, std::int64_t frames, std::size_t n,
                  const std::string& where) {
  AUXGRID_CHECK(dim > 0, "{}: attribute '{}_dim' is {}, must be > 0", where, modality, dim);
  AUXGRID_CHECK(features.size() % static_cast<std::size_t>(dim) == 0,
                "{}: dataset /{}/features has {} values, not a multiple of {}_dim = {}", where, modality,
                features.size(), modality, dim);
  const auto rows = static_cast<std::int64_t>(features.size()) / dim;
  AUXGRID_CHECK(frames == rows, "{}: {}_frames is {}, but dataset /{}/features has {} rows", where, modality, frames,
                modality, rows);
  AUXGRID_CHECK(offsets.size() == n + 1, "{}: dataset /{}/offsets has {} entries, expected {} (utterances + 1)", where,
                modality, offsets.size(), n + 1);
  AUXGRID_CHECK(offsets[0] == 0, "{}: dataset /{}/offsets starts at {}, expected 0", where, modality, offsets[0]);
  for (std::size_t i = 0; i < n; ++i)
    AUXGRID_CHECK(offsets[i + 1] >= offsets[i], "{}: dataset /{}/offsets decreases at entry {} ({} -> {})", where,
                  modality, i + 1, offsets[i], offsets[i + 1]);
  AUXGRID_CHECK(offsets[n] == rows, "{}: dataset /{}/offsets ends at {}, but /{}/features has {} rows", where,
                modality, offsets[n], modality, rows);
}

std::int64_t rows_of(const H5::Group& g, std::int64_t dim, const std::string& modality, const std::string& where) {
  const auto dims = h5::shape(g, "features", H5T_FLOAT, 2, where);
  AUXGRID_CHECK(static_cast<std::int64_t>(dims[1]) == dim,
                "{}: dataset /{}/features has {} columns, but attribute '{}_dim' is {}", where, modality, dims[1],
                modality, dim);
  return static_cast<std::int64_t>(dims[0]);
}

void check_offsets_length(const H5::Group& g, std::int64_t n, const std::string& modality,
                          const std::string& where) {
  const auto entries = static_cast<std::int64_t>(h5::shape(g, "offsets", H5T_INTEGER, 1, where)[0]);
  AUXGRID_CHECK(entries == n + 1, "{}: dataset /{}/offsets has {} entries, expected {} (utterances + 1)", where,
                modality, entries, n + 1);
}

CorpusInfo read_info(const H5::H5File& f, const std::string& path, const std::string& where) {
  const auto version = h5::read_attr_int(f, "format_version", where);
  AUXGRID_CHECK(version == kCorpusFormatVersion, "{}: attribute 'format_version' is {}, this build reads {}", where,
                version, kCorpusFormatVersion);
  CorpusInfo in;
  in.path = path;
  in.name = h5::read_attr_string(f, "name", where);
  in.description = h5::read_attr_string(f, "description", where);
  in.audio_dim = h5::read_attr_int(f, "audio_dim", where);
  in.video_dim = h5::read_attr_int(f, "video_dim", where);
  AUXGRID_CHECK(in.audio_dim > 0, "{}: attribute 'audio_dim' is {}, must be > 0", where, in.audio_dim);
  AUXGRID_CHECK(in.video_dim > 0, "{}: attribute 'video_dim' is {}, must be > 0", where, in.video_dim);
  in.audio_hop_ms = h5::read_attr_double(f, "audio_hop_ms", where);
  in.video_fps = h5::read_attr_double(f, "video_fps", where);
  in.class_names = h5::read_attr_strings(f, "class_names", where);
  const auto num_classes = h5::read_attr_int(f, "num_classes", where);
  AUXGRID_CHECK(num_classes > 0 && static_cast<std::size_t>(num_classes) == in.class_names.size(),
                "{}: attribute 'num_classes' is {}, but 'class_names' has {} entries", where, num_classes,
                in.class_names.size());

  const H5::Group audio = h5::open_group(f, "audio", where);
  const H5::Group video = h5::open_group(f, "video", where);
  in.audio_frames = rows_of(audio, in.audio_dim, "audio", where);
  in.video_frames = rows_of(video, in.video_dim, "video", where);
  // /utterances/id defines the utterances; everything else must match it.
  const H5::Group utt = h5::open_group(f, "utterances", where);
  in.num_utterances = static_cast<std::int64_t>(h5::shape(utt, "id", H5T_STRING, 1, where)[0]);
  const std::pair<const char*, H5T_class_t> per_utterance[] = {{"speaker", H5T_STRING}, {"label", H5T_INTEGER}};
  for (const auto& [name, cls] : per_utterance) {
    const auto n = static_cast<std::int64_t>(h5::shape(utt, name, cls, 1, where)[0]);
    AUXGRID_CHECK(n == in.num_utterances, "{}: dataset /utterances/{} has {} entries, expected {}", where, name, n,
                  in.num_utterances);
  }
  check_offsets_length(audio, in.num_utterances, "audio", where);
  check_offsets_length(video, in.num_utterances, "video", where);
  return in;
}

}  // namespace

void validate_corpus(const CorpusData& corpus, const std::string& where) {
  const CorpusInfo& in = corpus.info;
  const std::size_t n = corpus.utterance_ids.size();
  AUXGRID_CHECK(in.num_utterances == static_cast<std::int64_t>(n),
                "{}: num_utterances is {}, but dataset /utterances/id has {} entries", where, in.num_utterances, n);
  AUXGRID_CHECK(corpus.speakers.size() == n, "{}: dataset /utterances/speaker has {} entries, expected {}", where,
                corpus.speakers.size(), n);
  AUXGRID_CHECK(corpus.labels.size() == n, "{}: dataset /utterances/label has {} entries, expected {}", where,
                corpus.labels.size(), n);
  AUXGRID_CHECK(!in.class_names.empty(), "{}: attribute 'class_names' is empty", where);
  check_stream("audio", corpus.audio, corpus.audio_offsets, in.audio_dim, in.audio_frames, n, where);
  check_stream("video", corpus.video, corpus.video_offsets, in.video_dim, in.video_frames, n, where);

  const auto classes = static_cast<std::int64_t>(in.class_names.size());
  for (std::size_t i = 0; i < n; ++i)
    AUXGRID_CHECK(corpus.labels[i] >= 0 && corpus.labels[i] < classes,
                  "{}: dataset /utterances/label[{}] is {}, outside [0, {}) (num_classes)", where, i, corpus.labels[i],
                  classes);
  // Splits and evaluation records refer to utterances by id.
  std::unordered_set<std::string> seen;
  for (const auto& id : corpus.utterance_ids)
    AUXGRID_CHECK(seen.insert(id).second, "{}: dataset /utterances/id holds '{}' more than once", where, id);
}

void write_corpus(const std::string& path, const CorpusData& corpus) {
  const std::string where = where_of(path);
  validate_corpus(corpus, where);
  const CorpusInfo& in = corpus.info;
  h5::write_atomically(path, where, [&](H5::H5File& f) {
    h5::attr_int(f, "format_version", kCorpusFormatVersion, H5::PredType::NATIVE_INT32);
    h5::attr_string(f, "name", in.name);
    h5::attr_int(f, "audio_dim", in.audio_dim, H5::PredType::NATIVE_INT64);
    h5::attr_int(f, "video_dim", in.video_dim, H5::PredType::NATIVE_INT64);
    h5::attr_double(f, "audio_hop_ms", in.audio_hop_ms);
    h5::attr_double(f, "video_fps", in.video_fps);
    h5::attr_int(f, "num_classes", static_cast<std::int64_t>(in.class_names.size()), H5::PredType::NATIVE_INT64);
    h5::attr_strings(f, "class_names", in.class_names);
    h5::attr_string(f, "description", in.description);

    const H5::Group audio = h5::create_group(f, "audio");
    h5::write_matrix(audio, "features", H5::PredType::NATIVE_FLOAT, corpus.audio.data(), in.audio_frames,
                     in.audio_dim, kChunkRows);
    h5::write_int64s(audio, "offsets", corpus.audio_offsets);
    const H5::Group video = h5::create_group(f, "video");
    h5::write_matrix(video, "features", H5::PredType::NATIVE_FLOAT, corpus.video.data(), in.video_frames,
                     in.video_dim, kChunkRows);
    h5::write_int64s(video, "offsets", corpus.video_offsets);
    const H5::Group utt = h5::create_group(f, "utterances");
    h5::write_strings(utt, "id", corpus.utterance_ids);
    h5::write_strings(utt, "speaker", corpus.speakers);
    h5::write_int32s(utt, "label", corpus.labels);
  });
}

CorpusInfo read_corpus_info(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = h5::open_read(path, where);
  try {
    return read_info(f, path, where);
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

CorpusData read_corpus(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = h5::open_read(path, where);
  CorpusData c;
  try {
    c.info = read_info(f, path, where);
    const H5::Group audio = h5::open_group(f, "audio", where);
    const H5::Group video = h5::open_group(f, "video", where);
    const H5::Group utt = h5::open_group(f, "utterances", where);
    h5::read_floats_2d(audio, "features", c.audio, where);
    c.audio_offsets = h5::read_int64s(audio, "offsets", where);
    h5::read_floats_2d(video, "features", c.video, where);
    c.video_offsets = h5::read_int64s(video, "offsets", where);
    c.utterance_ids = h5::read_strings(utt, "id", where);
    c.speakers = h5::read_strings(utt, "speaker", where);
    c.labels = h5::read_int32s(utt, "label", where);
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
  validate_corpus(c, where);
  return c;
}

}  // namespace auxgrid::store
