#include "auxgrid/store/corpus_writer.hpp"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "h5.hpp"

namespace auxgrid::store {

namespace {

// Rows per chunk of the feature matrices (capped at 4 MiB a chunk): large
// enough for fast whole-file reads; also what the writer buffers.
constexpr hsize_t kChunkRows = 1024;

// Halves converted per write call: a bounded scratch, whatever the utterance.
constexpr std::size_t kHalfScratchValues = std::size_t{1} << 17;

void write_attributes(const H5::H5File& f, const CorpusInfo& in) {
  h5::attr_int(f, "format_version", kCorpusFormatVersion, H5::PredType::NATIVE_INT32);
  h5::attr_string(f, "name", in.name);
  h5::attr_int(f, "audio_dim", in.audio_dim, H5::PredType::NATIVE_INT64);
  h5::attr_int(f, "video_dim", in.video_dim, H5::PredType::NATIVE_INT64);
  h5::attr_double(f, "audio_hop_ms", in.audio_hop_ms);
  h5::attr_double(f, "video_fps", in.video_fps);
  h5::attr_int(f, "num_classes", static_cast<std::int64_t>(in.class_names.size()), H5::PredType::NATIVE_INT64);
  h5::attr_strings(f, "class_names", in.class_names);
  h5::attr_string(f, "description", in.description);
  h5::attr_string(f, "video_dtype", in.video_dtype);
}

const CorpusInfo& checked(const CorpusInfo& in, const std::string& where) {
  AUXGRID_CHECK(in.audio_dim > 0, "{}: attribute 'audio_dim' is {}, must be > 0", where, in.audio_dim);
  AUXGRID_CHECK(in.video_dim > 0, "{}: attribute 'video_dim' is {}, must be > 0", where, in.video_dim);
  AUXGRID_CHECK(!in.class_names.empty(), "{}: attribute 'class_names' is empty", where);
  AUXGRID_CHECK(in.video_dtype == "float32" || in.video_dtype == "float16",
                "{}: attribute 'video_dtype' is '{}', expected 'float32' or 'float16'", where, in.video_dtype);
  return in;
}

// The smallest magnitude that rounds to infinity in float16 (65504 is the largest finite half).
constexpr float kHalfOverflow = 65520.0f;

// Every value a reader will see is usable (corpus_file.hpp, usable_feature):
// a corpus is refused at the utterance that holds a bad value, not trained on.
// float16 storage turns values beyond 65504 into infinity, so those are refused too.
void check_values(const std::string& where, const std::string& id, const char* modality, const float* values,
                  std::int64_t frames, std::int64_t dim, bool half) {
  for (std::int64_t i = 0; i < frames * dim; ++i) {
    const float x = values[i];
    AUXGRID_CHECK(usable_feature(x),
                  "{}: utterance '{}': {} frame {}, feature {} is {} (corpora hold finite values, |x| <= {:g})", where,
                  id, modality, i / dim, i % dim, x, kMaxFeatureMagnitude);
    AUXGRID_CHECK(
        !half || (x > -kHalfOverflow && x < kHalfOverflow),
        "{}: utterance '{}': {} frame {}, feature {} is {}, beyond float16's range (65504; video_dtype float16)", where,
        id, modality, i / dim, i % dim, x);
  }
}

}  // namespace

struct CorpusWriter::Impl {
  Impl(const std::string& path, const CorpusInfo& in)
      : where(fmt::format("corpus '{}'", path)),
        info(checked(in, where)),
        half(in.video_dtype == "float16"),
        file(path, where),
        audio_group(h5::create_group(file.file(), "audio")),
        video_group(h5::create_group(file.file(), "video")),
        utterance_group(h5::create_group(file.file(), "utterances")),
        audio(audio_group, "features", H5::PredType::NATIVE_FLOAT, in.audio_dim, kChunkRows),
        video(video_group, "features", half ? H5::DataType(h5::half_type()) : H5::DataType(H5::PredType::NATIVE_FLOAT),
              in.video_dim, kChunkRows) {
    info.path = path;
    write_attributes(file.file(), info);
  }

  void append_video(const float* values, std::int64_t frames) {
    const auto dim = static_cast<std::size_t>(info.video_dim);
    if (!half) return video.append(values, frames);
    const std::size_t rows_per_slice = std::max<std::size_t>(1, kHalfScratchValues / dim);
    scratch.resize(std::min(rows_per_slice, static_cast<std::size_t>(frames)) * dim);
    for (std::size_t first = 0; first < static_cast<std::size_t>(frames); first += rows_per_slice) {
      const std::size_t n = std::min(rows_per_slice, static_cast<std::size_t>(frames) - first);
      const float* in = values + first * dim;
      for (std::size_t k = 0; k < n * dim; ++k) scratch[k] = float_to_half(in[k]);
      video.append(scratch.data(), n);
    }
  }

  std::string where;
  CorpusInfo info;
  bool half;
  h5::AtomicFile file;  // declared before the objects in it: closed after them
  H5::Group audio_group, video_group, utterance_group;
  h5::RowAppender audio, video;
  std::vector<std::uint16_t> scratch;
  std::vector<std::int64_t> audio_offsets{0}, video_offsets{0};
  std::vector<std::string> ids, speakers;
  std::vector<std::int32_t> labels;
  std::unordered_set<std::string> seen;
  // Set by a call that may have left the file half-written; cleared when it succeeds.
  bool broken = false, finished = false;
};

CorpusWriter::CorpusWriter(const std::string& path, const CorpusInfo& info) {
  try {
    impl_ = std::make_unique<Impl>(path, info);
  } catch (const H5::Exception& e) {
    h5::fail(e, fmt::format("corpus '{}'", path));
  }
}

CorpusWriter::~CorpusWriter() = default;  // an unfinished AtomicFile removes itself

std::int64_t CorpusWriter::utterances() const { return static_cast<std::int64_t>(impl_->ids.size()); }

void CorpusWriter::append(const std::string& id, const std::string& speaker, std::int32_t label, const float* audio,
                          std::int64_t audio_frames, const float* video, std::int64_t video_frames) {
  Impl& w = *impl_;
  AUXGRID_CHECK(!w.finished && !w.broken, "{}: cannot append '{}': the writer is {}", w.where, id,
                w.finished ? "finished" : "broken by an earlier error");
  const auto classes = static_cast<std::int32_t>(w.info.class_names.size());
  AUXGRID_CHECK(label >= 0 && label < classes, "{}: utterance '{}': label {} is outside [0, {}) (num_classes)", w.where,
                id, label, classes);
  AUXGRID_CHECK(audio_frames >= 0 && video_frames >= 0, "{}: utterance '{}': negative frame count ({} audio, {} video)",
                w.where, id, audio_frames, video_frames);
  AUXGRID_CHECK(!w.seen.count(id), "{}: dataset /utterances/id holds '{}' more than once", w.where, id);
  check_values(w.where, id, "audio", audio, audio_frames, w.info.audio_dim, false);
  check_values(w.where, id, "video", video, video_frames, w.info.video_dim, w.half);
  w.broken = true;
  try {
    w.audio.append(audio, audio_frames);
    w.append_video(video, video_frames);
  } catch (const H5::Exception& e) {
    h5::fail(e, w.where);
  }
  w.seen.insert(id);
  w.ids.push_back(id);
  w.speakers.push_back(speaker);
  w.labels.push_back(label);
  w.audio_offsets.push_back(w.audio_offsets.back() + audio_frames);
  w.video_offsets.push_back(w.video_offsets.back() + video_frames);
  w.broken = false;
}

CorpusInfo CorpusWriter::finish() {
  Impl& w = *impl_;
  AUXGRID_CHECK(!w.finished && !w.broken, "{}: cannot finish: the writer is {}", w.where,
                w.finished ? "finished" : "broken by an earlier error");
  w.broken = true;
  try {
    w.audio.close();
    w.video.close();
    h5::write_int64s(w.audio_group, "offsets", w.audio_offsets);
    h5::write_int64s(w.video_group, "offsets", w.video_offsets);
    h5::write_strings(w.utterance_group, "id", w.ids);
    h5::write_strings(w.utterance_group, "speaker", w.speakers);
    h5::write_int32s(w.utterance_group, "label", w.labels);
    // Every object must be closed before the file, or closing it would not
    // flush them and the sync would miss their data.
    w.audio_group.close();
    w.video_group.close();
    w.utterance_group.close();
  } catch (const H5::Exception& e) {
    h5::fail(e, w.where);
  }
  w.file.commit();
  w.info.num_utterances = static_cast<std::int64_t>(w.ids.size());
  w.info.audio_frames = w.audio_offsets.back();
  w.info.video_frames = w.video_offsets.back();
  w.broken = false;
  w.finished = true;
  return w.info;
}

}  // namespace auxgrid::store
