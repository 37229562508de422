#include "auxgrid/store/corpus_file.hpp"

#include <fmt/ranges.h>

#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/store/corpus_writer.hpp"
#include "h5.hpp"

namespace auxgrid::store {

namespace {

std::string where_of(const std::string& path) { return fmt::format("corpus '{}'", path); }

// The feature matrix holds `frames` rows of `dim` values.
void check_features(const std::string& modality, const std::vector<float>& features, std::int64_t dim,
                    std::int64_t frames, const std::string& where) {
  AUXGRID_CHECK(dim > 0, "{}: attribute '{}_dim' is {}, must be > 0", where, modality, dim);
  AUXGRID_CHECK(features.size() % static_cast<std::size_t>(dim) == 0,
                "{}: dataset /{}/features has {} values, not a multiple of {}_dim = {}", where, modality,
                features.size(), modality, dim);
  const auto rows = static_cast<std::int64_t>(features.size()) / dim;
  AUXGRID_CHECK(frames == rows, "{}: {}_frames is {}, but dataset /{}/features has {} rows", where, modality, frames,
                modality, rows);
}

void check_offsets(const std::string& modality, const std::vector<std::int64_t>& offsets, std::int64_t rows,
                   std::size_t n, const std::string& where) {
  AUXGRID_CHECK(offsets.size() == n + 1, "{}: dataset /{}/offsets has {} entries, expected {} (utterances + 1)", where,
                modality, offsets.size(), n + 1);
  AUXGRID_CHECK(offsets[0] == 0, "{}: dataset /{}/offsets starts at {}, expected 0", where, modality, offsets[0]);
  for (std::size_t i = 0; i < n; ++i)
    AUXGRID_CHECK(offsets[i + 1] >= offsets[i], "{}: dataset /{}/offsets decreases at entry {} ({} -> {})", where,
                  modality, i + 1, offsets[i], offsets[i + 1]);
  AUXGRID_CHECK(offsets[n] == rows, "{}: dataset /{}/offsets ends at {}, but /{}/features has {} rows", where, modality,
                offsets[n], modality, rows);
}

// The first few of a list of utterances, for messages: "'u1', 'u7' and 3 more".
constexpr std::size_t kNamed = 5;
std::string first_few(const std::vector<std::string>& items, std::size_t total) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < kNamed; ++i) out += (i ? ", " : "") + items[i];
  if (total > kNamed) out += fmt::format(" and {} more", total - kNamed);
  return out;
}

// Labels outside the classes and repeated ids, each kind as one problem that
// names its first few utterances by id.
std::vector<std::string> label_and_id_problems(const CorpusInfo& in, const std::vector<std::string>& ids,
                                               const std::vector<std::int32_t>& labels) {
  std::vector<std::string> problems, bad_labels, repeated;
  std::size_t n_bad_labels = 0, n_repeated = 0;
  const auto classes = static_cast<std::int64_t>(in.class_names.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      if (++n_bad_labels <= kNamed) bad_labels.push_back(fmt::format("'{}' ({})", ids[i], labels[i]));
  if (n_bad_labels)
    problems.push_back(
        fmt::format("dataset /utterances/label: {} utterance(s) with a label outside [0, {}) "
                    "(num_classes): {}",
                    n_bad_labels, classes, first_few(bad_labels, n_bad_labels)));
  // Splits and evaluation records refer to utterances by id.
  std::unordered_set<std::string> seen, reported;
  for (const auto& id : ids)
    if (!seen.insert(id).second && reported.insert(id).second)
      if (++n_repeated <= kNamed) repeated.push_back(fmt::format("'{}'", id));
  if (n_repeated)
    problems.push_back(fmt::format("dataset /utterances/id holds {} more than once ({} id(s))",
                                   first_few(repeated, n_repeated), n_repeated));
  return problems;
}

[[noreturn]] void fail_with(const std::string& where, const std::vector<std::string>& problems) {
  AUXGRID_FAIL("{}: {}", where, fmt::format("{}", fmt::join(problems, "; ")));
}

// Everything but the features: per-utterance sizes, offsets against the
// totals in `in`; with `contents`, also labels in range and unique ids.
void check_index(const CorpusInfo& in, const std::vector<std::int64_t>& audio_offsets,
                 const std::vector<std::int64_t>& video_offsets, const std::vector<std::string>& ids,
                 const std::vector<std::string>& speakers, const std::vector<std::int32_t>& labels,
                 const std::string& where, bool contents = true) {
  const std::size_t n = ids.size();
  AUXGRID_CHECK(in.num_utterances == static_cast<std::int64_t>(n),
                "{}: num_utterances is {}, but dataset /utterances/id has {} entries", where, in.num_utterances, n);
  AUXGRID_CHECK(speakers.size() == n, "{}: dataset /utterances/speaker has {} entries, expected {}", where,
                speakers.size(), n);
  AUXGRID_CHECK(labels.size() == n, "{}: dataset /utterances/label has {} entries, expected {}", where, labels.size(),
                n);
  AUXGRID_CHECK(!in.class_names.empty(), "{}: attribute 'class_names' is empty", where);
  AUXGRID_CHECK(in.video_dtype == "float32" || in.video_dtype == "float16",
                "{}: attribute 'video_dtype' is '{}', expected 'float32' or 'float16'", where, in.video_dtype);
  check_offsets("audio", audio_offsets, in.audio_frames, n, where);
  check_offsets("video", video_offsets, in.video_frames, n, where);
  if (!contents) return;
  const auto problems = label_and_id_problems(in, ids, labels);
  if (!problems.empty()) fail_with(where, problems);
}

// Utterances whose features hold a value that usable_feature refuses, found
// one block of rows at a time: the first bad value of each is named.
class FeatureScan {
 public:
  FeatureScan(const std::string& modality, const std::vector<std::int64_t>& offsets,
              const std::vector<std::string>& ids)
      : modality_(modality), offsets_(offsets), ids_(ids) {}

  // Rows [first, first + n) of the modality's features, `dim` values each.
  void rows(std::int64_t first, std::int64_t n, std::int64_t dim, const float* values) {
    for (std::int64_t r = 0; r < n; ++r) {
      const float* row = values + r * dim;
      bool usable = true;
      for (std::int64_t k = 0; k < dim; ++k) usable &= usable_feature(row[k]);
      if (usable) continue;
      const auto frame = first + r;
      while (offsets_[u_ + 1] <= frame) ++u_;  // offsets are monotone: u_ only moves forward
      if (u_ == last_bad_) continue;
      last_bad_ = u_;
      std::int64_t k = 0;
      while (usable_feature(row[k])) ++k;
      if (bad_.size() < kNamed)
        bad_.push_back(
            fmt::format("'{}' ({} frame {}, feature {}: {})", ids_[u_], modality_, frame - offsets_[u_], k, row[k]));
      ++count_;
    }
  }
  std::size_t count() const { return count_; }
  const std::vector<std::string>& named() const { return bad_; }

 private:
  std::string modality_;
  const std::vector<std::int64_t>& offsets_;
  const std::vector<std::string>& ids_;
  std::size_t u_ = 0, last_bad_ = static_cast<std::size_t>(-1), count_ = 0;
  std::vector<std::string> bad_;
};

std::int64_t rows_of(const H5::Group& g, std::int64_t dim, const std::string& modality, const std::string& where) {
  const auto dims = h5::shape(g, "features", H5T_FLOAT, 2, where);
  AUXGRID_CHECK(static_cast<std::int64_t>(dims[1]) == dim,
                "{}: dataset /{}/features has {} columns, but attribute '{}_dim' is {}", where, modality, dims[1],
                modality, dim);
  return static_cast<std::int64_t>(dims[0]);
}

void check_offsets_length(const H5::Group& g, std::int64_t n, const std::string& modality, const std::string& where) {
  const auto entries = static_cast<std::int64_t>(h5::shape(g, "offsets", H5T_INTEGER, 1, where)[0]);
  AUXGRID_CHECK(entries == n + 1, "{}: dataset /{}/offsets has {} entries, expected {} (utterances + 1)", where,
                modality, entries, n + 1);
}

CorpusInfo read_info(const H5::H5File& f, const std::string& path, const std::string& where) {
  const auto version = h5::read_attr_int(f, "format_version", where);
  AUXGRID_CHECK(version >= 1 && version <= kCorpusFormatVersion,
                "{}: attribute 'format_version' is {}, this build reads 1 to {}", where, version, kCorpusFormatVersion);
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
  // Version 1 had no video_dtype and always stored float32.
  if (version >= 2) {
    in.video_dtype = h5::read_attr_string(f, "video_dtype", where);
    const std::size_t bytes = in.video_dtype == "float16" ? 2 : in.video_dtype == "float32" ? 4 : 0;
    AUXGRID_CHECK(bytes > 0, "{}: attribute 'video_dtype' is '{}', expected 'float32' or 'float16'", where,
                  in.video_dtype);
    const std::size_t stored = video.openDataSet("features").getDataType().getSize();
    AUXGRID_CHECK(stored == bytes,
                  "{}: attribute 'video_dtype' is '{}', but dataset /video/features holds {}-byte values", where,
                  in.video_dtype, stored);
  }
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

// Values of half_to_float for every bit pattern, built once.
const float* half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(1 << 16);
    for (std::uint32_t h = 0; h < t.size(); ++h) {
      const std::uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
      std::uint32_t bits;
      if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in float
        const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
        std::memcpy(&bits, &magnitude, 4);
        bits |= sign;
      } else if (exponent == 31) {  // infinity or NaN, payload kept
        bits = sign | 0x7f800000u | (mantissa << 13);
      } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
      }
      std::memcpy(&t[h], &bits, 4);
    }
    return t;
  }();
  return table.data();
}

// Half precision goes through our table: HDF5's own conversion of a custom
// float type works bit by bit (measured 6x slower than the whole read with
// the table). Anything else goes through HDF5.
void read_video_features(const H5::Group& video, std::vector<float>& out, const std::string& where) {
  std::vector<hsize_t> dims;
  const H5::DataSet ds = h5::open_dataset(video, "features", H5T_FLOAT, 2, dims, where);
  const H5::FloatType half = h5::half_type();
  if (!(ds.getDataType() == half)) {
    h5::read_floats_2d(video, "features", out, where);
    return;
  }
  const hsize_t rows = dims[0], cols = dims[1];
  out.resize(rows * cols);
  const hsize_t block = std::max<hsize_t>(1, (hsize_t{1} << 20) / cols);  // 2 MiB of halves
  std::vector<std::uint16_t> bits(std::min(rows, block) * cols);
  const float* table = half_table();
  for (hsize_t first = 0; first < rows; first += block) {
    const hsize_t n = std::min(block, rows - first);
    h5::read_rows(ds, first, n, cols, half, bits.data());
    float* dst = out.data() + first * cols;
    for (std::size_t k = 0; k < n * cols; ++k) dst[k] = table[bits[k]];
  }
}

// Every row of a modality's features through `scan`, 4 MiB of floats at a
// time (float16 through the table, as read_video_features does).
void scan_features(const H5::Group& g, FeatureScan& scan, const std::string& where) {
  std::vector<hsize_t> dims;
  const H5::DataSet ds = h5::open_dataset(g, "features", H5T_FLOAT, 2, dims, where);
  const hsize_t rows = dims[0], cols = dims[1];
  const bool half = ds.getDataType() == h5::half_type();
  const hsize_t block = std::max<hsize_t>(1, (hsize_t{1} << 20) / std::max<hsize_t>(1, cols));
  std::vector<float> values(std::min(rows, block) * cols);
  std::vector<std::uint16_t> bits(half ? values.size() : 0);
  const float* table = half_table();
  for (hsize_t first = 0; first < rows; first += block) {
    const hsize_t n = std::min(block, rows - first);
    if (half) {
      h5::read_rows(ds, first, n, cols, h5::half_type(), bits.data());
      for (std::size_t k = 0; k < n * cols; ++k) values[k] = table[bits[k]];
    } else {
      h5::read_rows(ds, first, n, cols, H5::PredType::NATIVE_FLOAT, values.data());
    }
    scan.rows(static_cast<std::int64_t>(first), static_cast<std::int64_t>(n), static_cast<std::int64_t>(cols),
              values.data());
  }
}

void add_value_problems(const FeatureScan& audio, const FeatureScan& video, std::vector<std::string>& problems) {
  const auto count = audio.count() + video.count();
  if (count == 0) return;
  auto named = audio.named();
  named.insert(named.end(), video.named().begin(), video.named().end());
  problems.push_back(
      fmt::format("{} utterance(s) with a non-finite or huge feature value (|x| > {:g}; fix or drop them): {}", count,
                  kMaxFeatureMagnitude, first_few(named, count)));
}

CorpusIndex read_index(const H5::H5File& f, const std::string& path, const std::string& where) {
  CorpusIndex x;
  x.info = read_info(f, path, where);
  const H5::Group utt = h5::open_group(f, "utterances", where);
  x.audio_offsets = h5::read_int64s(h5::open_group(f, "audio", where), "offsets", where);
  x.video_offsets = h5::read_int64s(h5::open_group(f, "video", where), "offsets", where);
  x.utterance_ids = h5::read_strings(utt, "id", where);
  x.speakers = h5::read_strings(utt, "speaker", where);
  x.labels = h5::read_int32s(utt, "label", where);
  return x;
}

}  // namespace

std::uint16_t float_to_half(float value) {
  // F. Giesen's float_to_half_fast3_rtne: exact round to nearest even.
  std::uint32_t f;
  std::memcpy(&f, &value, 4);
  const std::uint32_t sign = f & 0x80000000u;
  f ^= sign;
  std::uint32_t h;
  if (f >= 0x47800000u) {  // >= 65536: infinity, or NaN (kept quiet)
    h = f > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (f < 0x38800000u) {  // below 2^-14: subnormal or zero
    // Adding 0.5 aligns the 10 mantissa bits at the bottom; the FPU rounds.
    float aligned;
    std::memcpy(&aligned, &f, 4);
    aligned += 0.5f;
    std::uint32_t bits;
    std::memcpy(&bits, &aligned, 4);
    h = bits - 0x3f000000u;
  } else {
    const std::uint32_t mantissa_odd = (f >> 13) & 1u;
    f += (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + mantissa_odd;  // rebias, round
    h = f >> 13;
  }
  return static_cast<std::uint16_t>(h | (sign >> 16));
}

float half_to_float(std::uint16_t bits) { return half_table()[bits]; }

void round_to_half(float* values, std::size_t n) {
  const float* table = half_table();
  for (std::size_t i = 0; i < n; ++i) values[i] = table[float_to_half(values[i])];
}

void validate_corpus(const CorpusData& corpus, const std::string& where) {
  const CorpusInfo& in = corpus.info;
  check_features("audio", corpus.audio, in.audio_dim, in.audio_frames, where);
  check_features("video", corpus.video, in.video_dim, in.video_frames, where);
  check_index(in, corpus.audio_offsets, corpus.video_offsets, corpus.utterance_ids, corpus.speakers, corpus.labels,
              where);
  FeatureScan audio("audio", corpus.audio_offsets, corpus.utterance_ids);
  FeatureScan video("video", corpus.video_offsets, corpus.utterance_ids);
  audio.rows(0, in.audio_frames, in.audio_dim, corpus.audio.data());
  video.rows(0, in.video_frames, in.video_dim, corpus.video.data());
  std::vector<std::string> problems;
  add_value_problems(audio, video, problems);
  if (!problems.empty()) fail_with(where, problems);
}

void write_corpus(const std::string& path, const CorpusData& corpus) {
  validate_corpus(corpus, where_of(path));
  const CorpusInfo& in = corpus.info;
  CorpusWriter writer(path, in);
  for (std::size_t i = 0; i < corpus.utterance_ids.size(); ++i) {
    const auto a = corpus.audio_offsets[i], v = corpus.video_offsets[i];
    writer.append(corpus.utterance_ids[i], corpus.speakers[i], corpus.labels[i], corpus.audio.data() + a * in.audio_dim,
                  corpus.audio_offsets[i + 1] - a, corpus.video.data() + v * in.video_dim,
                  corpus.video_offsets[i + 1] - v);
  }
  writer.finish();
}

namespace {
// A corpus file, opened to read; a missing one gets the commands that make one.
H5::H5File open_corpus(const std::string& path, const std::string& where) {
  std::error_code ec;
  AUXGRID_CHECK(std::filesystem::exists(path, ec),
                "{}: no such file (a corpus is made by `auxgrid synth --preset NAME --out {}` or from real features by "
                "`auxgrid import ... --out {}`)",
                where, path, path);
  return h5::open_read(path, where);
}
}  // namespace

CorpusInfo read_corpus_info(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = open_corpus(path, where);
  try {
    return read_info(f, path, where);
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

CorpusIndex read_corpus_index(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = open_corpus(path, where);
  try {
    CorpusIndex x = read_index(f, path, where);
    check_index(x.info, x.audio_offsets, x.video_offsets, x.utterance_ids, x.speakers, x.labels, where);
    return x;
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

CorpusIndex validate_corpus_file(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = open_corpus(path, where);
  try {
    CorpusIndex x = read_index(f, path, where);
    check_index(x.info, x.audio_offsets, x.video_offsets, x.utterance_ids, x.speakers, x.labels, where,
                /*contents=*/false);
    auto problems = label_and_id_problems(x.info, x.utterance_ids, x.labels);
    FeatureScan audio("audio", x.audio_offsets, x.utterance_ids);
    FeatureScan video("video", x.video_offsets, x.utterance_ids);
    scan_features(h5::open_group(f, "audio", where), audio, where);
    scan_features(h5::open_group(f, "video", where), video, where);
    add_value_problems(audio, video, problems);
    // A class no utterance has: its head never trains and its F1 is undefined
    // in every trial (a stale class_names, or a label mapping that lost it).
    std::vector<std::int64_t> per_class(x.info.class_names.size(), 0);
    for (auto l : x.labels)
      if (l >= 0 && static_cast<std::size_t>(l) < per_class.size()) ++per_class[l];
    std::vector<std::string> empty;
    for (std::size_t c = 0; c < per_class.size(); ++c)
      if (per_class[c] == 0) empty.push_back(fmt::format("'{}'", x.info.class_names[c]));
    if (!empty.empty())
      problems.push_back(
          fmt::format("class(es) {} of attribute 'class_names' have no utterances", fmt::join(empty, ", ")));
    if (!problems.empty()) fail_with(where, problems);
    return x;
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
}

CorpusData read_corpus(const std::string& path) {
  const std::string where = where_of(path);
  const H5::H5File f = open_corpus(path, where);
  CorpusData c;
  try {
    CorpusIndex x = read_index(f, path, where);
    c.info = std::move(x.info);
    c.audio_offsets = std::move(x.audio_offsets);
    c.video_offsets = std::move(x.video_offsets);
    c.utterance_ids = std::move(x.utterance_ids);
    c.speakers = std::move(x.speakers);
    c.labels = std::move(x.labels);
    h5::read_floats_2d(h5::open_group(f, "audio", where), "features", c.audio, where);
    read_video_features(h5::open_group(f, "video", where), c.video, where);
  } catch (const H5::Exception& e) {
    h5::fail(e, where);
  }
  validate_corpus(c, where);
  return c;
}

}  // namespace auxgrid::store
