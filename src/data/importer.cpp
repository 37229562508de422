#include "auxgrid/data/importer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/matrix_file.hpp"

namespace auxgrid::data {

namespace {

namespace fs = std::filesystem;

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// OpenSMILE quotes instance names with '; spreadsheets quote with ".
std::string_view unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> fields;
  for (std::size_t begin = 0;;) {
    const auto end = line.find(sep, begin);
    fields.push_back(line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
    if (end == std::string_view::npos) return fields;
    begin = end + 1;
  }
}

// Next line without its line ending (CRLF files too) and, on line 1, a UTF-8 BOM.
bool next_line(std::istream& in, std::string& line, std::size_t& number) {
  if (!std::getline(in, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (++number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  return true;
}

// Locale-independent; accepts nan and inf, which the importer reports with
// their frame. False for text that is not a number or exceeds float's range.
bool parse_number(std::string_view text, double& out) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() &&
         !(std::isfinite(out) && std::abs(out) > FLT_MAX);
}

std::string read_bytes(const std::string& path, const std::string& where) {
  files::require_regular_file(path, where);
  std::ifstream in(path, std::ios::binary);
  AUXGRID_CHECK(in, "{}: cannot open the file", where);
  std::ostringstream s;
  s << in.rdbuf();
  AUXGRID_CHECK(!in.bad(), "{}: read error", where);
  return s.str();
}

std::uint64_t little_endian(const std::string& bytes, std::size_t at, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) v |= std::uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

// The .npy header is a Python dict literal:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (75, 4096), }
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& where) : text_(text), where_(where) {}

  NpyHeader parse() {
    NpyHeader h;
    std::set<std::string> seen;
    expect('{');
    while (!peek('}')) {
      const std::string key = string();
      AUXGRID_CHECK(seen.insert(key).second, "{}: .npy header names '{}' twice", where_, key);
      expect(':');
      if (key == "descr")
        h.descr = string();
      else if (key == "fortran_order")
        h.fortran_order = boolean();
      else if (key == "shape")
        h.shape = tuple();
      else
        fail(fmt::format("unknown key '{}'", key));
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("text after the dict");
    for (const char* key : {"descr", "fortran_order", "shape"})
      AUXGRID_CHECK(seen.count(key), "{}: .npy header has no '{}': {}", where_, key, trim(text_));
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    AUXGRID_FAIL("{}: malformed .npy header ({} at character {}): {}", where_, what, pos_, trim(text_));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const auto end = text_.find(quote, pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    const std::string s(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}})
      if (text_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        return value;
      }
    fail("expected True or False");
  }
  std::vector<std::uint64_t> tuple() {
    std::vector<std::uint64_t> dims;
    expect('(');
    while (!peek(')')) {
      std::uint64_t d = 0;
      const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), d);
      if (ec != std::errc()) fail("expected a dimension");
      pos_ = end - text_.data();
      dims.push_back(d);
      if (!peek(')')) expect(',');
    }
    expect(')');
    return dims;
  }

  std::string_view text_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

// Largest dimension accepted: keeps rows * cols * 4 far from overflow.
constexpr std::uint64_t kMaxDim = std::uint64_t(1) << 31;

// "NaN in audio frame 3, feature 'pcm_RMSenergy_sma'" for the first value a
// corpus may not hold (store::usable_feature: also |x| > 1e30, e.g. a 3e38
// "missing" sentinel), so that --skip-bad skips the clip.
void check_finite(const Matrix& m, const std::string& modality, const std::vector<std::string>& column_names,
                  const std::string& where) {
  for (std::int64_t r = 0; r < m.rows; ++r)
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const float v = m.values[r * m.cols + c];
      if (store::usable_feature(v)) continue;
      AUXGRID_FAIL("{}: {} in {} frame {} (0-based), {}", where,
                   std::isnan(v)   ? std::string("NaN")
                   : std::isinf(v) ? std::string("Inf")
                                   : fmt::format("{} (beyond {:g})", v, store::kMaxFeatureMagnitude),
                   modality, r,
                   column_names.empty() ? fmt::format("column {}", c) : fmt::format("feature '{}'", column_names[c]));
    }
}

// Files `<clip><extension>` in `dir`, by clip name.
std::map<std::string, std::string> clip_files(const std::string& dir, const std::string& extension,
                                              const std::string& what) {
  std::error_code ec;
  AUXGRID_CHECK(fs::is_directory(dir, ec), "{} directory '{}' does not exist or is not a directory", what, dir);
  std::map<std::string, std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == extension && it->is_regular_file())
      files.emplace(it->path().stem().string(), it->path().string());
  AUXGRID_CHECK(!ec, "{} directory '{}': cannot list it: {}", what, dir, ec.message());
  AUXGRID_CHECK(!files.empty(), "{} directory '{}' holds no {} files", what, dir, extension);
  return files;
}

// The video source: a directory of .npy files or one HDF5 file of datasets.
class VideoSource {
 public:
  explicit VideoSource(const ImportOptions& o) : dir_(o.video_dir), h5_path_(o.video_h5) {
    if (!dir_.empty())
      npy_ = clip_files(dir_, ".npy", "video");
    else
      h5_.emplace(h5_path_, fmt::format("video HDF5 file '{}'", h5_path_));
  }

  std::vector<std::string> clips() const {
    std::vector<std::string> names;
    for (const auto& kv : npy_) names.push_back(kv.first);
    if (h5_) names.insert(names.end(), h5_->names().begin(), h5_->names().end());
    return names;
  }
  bool has(const std::string& clip) const { return npy_.count(clip) || (h5_ && h5_->names().count(clip)); }
  // Where `clip`'s video is or would be: "video 'dir/clip.npy'".
  std::string where(const std::string& clip) const {
    if (!dir_.empty()) return fmt::format("video '{}'", (fs::path(dir_) / (clip + ".npy")).string());
    return fmt::format("video '{}:/{}'", h5_path_, clip);
  }
  std::string source() const {
    return dir_.empty() ? fmt::format("the datasets of '{}'", h5_path_) : fmt::format("'{}' (.npy)", dir_);
  }

  Matrix read(const std::string& clip, const std::string& where) const {
    if (!dir_.empty()) return parse_npy(read_bytes(npy_.at(clip), where), where);
    const auto [rows, cols] = h5_->shape(clip, where);
    AUXGRID_CHECK(rows < kMaxDim && cols < kMaxDim, "{}: shape ({}, {}) is too large", where, rows, cols);
    AUXGRID_CHECK(cols > 0, "{}: shape ({}, 0) has no feature columns", where, rows);
    Matrix m;
    m.rows = static_cast<std::int64_t>(rows);
    m.cols = static_cast<std::int64_t>(cols);
    m.values.resize(rows * cols);
    if (!m.values.empty()) h5_->read(clip, m.values.data(), where);
    return m;
  }

 private:
  std::string dir_, h5_path_;
  std::map<std::string, std::string> npy_;
  std::optional<store::MatrixFile> h5_;
};

struct LabelRow {
  std::string label, speaker;
};

// The labels CSV: clip,label,speaker (any column order). Its problems are not
// about one clip, so they always throw.
struct LabelsFile {
  std::map<std::string, LabelRow> rows;
  std::vector<std::string> labels_in_order;  // distinct, first seen first
};

LabelsFile read_labels(const std::string& path) {
  const std::string where = fmt::format("labels '{}'", path);
  std::istringstream in(read_bytes(path, where));
  std::string line;
  std::size_t number = 0;
  AUXGRID_CHECK(next_line(in, line, number), "{}: empty file, expected the header clip,label,speaker", where);
  const auto header = split(line, ',');
  std::map<std::string, std::size_t> column;
  for (std::size_t i = 0; i < header.size(); ++i) column.emplace(std::string(unquote(header[i])), i);
  for (const char* name : {"clip", "label", "speaker"})
    AUXGRID_CHECK(column.count(name), "{}: line 1: no column '{}'; the header must name clip,label,speaker, got '{}'",
                  where, name, line);
  LabelsFile file;
  std::map<std::string, std::size_t> line_of;
  while (next_line(in, line, number)) {
    if (trim(line).empty()) continue;
    const auto fields = split(line, ',');
    AUXGRID_CHECK(fields.size() == header.size(), "{}: line {}: {} fields, the header has {}", where, number,
                  fields.size(), header.size());
    const auto field = [&](const char* name) {
      const std::string value(unquote(fields[column.at(name)]));
      AUXGRID_CHECK(!value.empty(), "{}: line {}: empty {}", where, number, name);
      return value;
    };
    const std::string clip = field("clip"), label = field("label");
    const auto [it, added] = line_of.emplace(clip, number);
    AUXGRID_CHECK(added, "{}: line {}: clip '{}' is already labelled on line {}", where, number, clip, it->second);
    if (std::find(file.labels_in_order.begin(), file.labels_in_order.end(), label) == file.labels_in_order.end())
      file.labels_in_order.push_back(label);
    file.rows.emplace(clip, LabelRow{label, field("speaker")});
  }
  return file;
}

struct Clip {
  std::string name, label, speaker;
  std::string audio_where, video_where;
  Matrix audio, video;
  std::string problem;  // empty: good
};

void check_options(const ImportOptions& o) {
  AUXGRID_CHECK(!o.name.empty(), "the corpus needs a name");
  AUXGRID_CHECK(!o.audio_dir.empty(), "no audio directory given (--audio-dir)");
  // The messages name the `auxgrid import` flags, which mirror the fields.
  AUXGRID_CHECK(o.video_dir.empty() != o.video_h5.empty(),
                "give exactly one video source: a .npy directory (--video-dir) or an HDF5 file (--video-h5)");
  AUXGRID_CHECK(o.labels_csv.empty() == o.crema_d_names,
                "give exactly one label source: a labels CSV (--labels) or CREMA-D file names (--crema-d-names)");
  AUXGRID_CHECK(o.classes.empty() || !o.crema_d_names,
                "fixed classes (--classes) apply to a labels CSV; CREMA-D names have their own ({})",
                fmt::join(crema_d_classes(), ", "));
  std::set<std::string> distinct(o.classes.begin(), o.classes.end());
  AUXGRID_CHECK(distinct.size() == o.classes.size() && !distinct.count(""),
                "the class list '{}' has an empty or repeated name", fmt::join(o.classes, ","));
  AUXGRID_CHECK(o.audio_hop_ms > 0 && o.video_fps > 0, "audio hop ({} ms) and video rate ({} fps) must be > 0",
                o.audio_hop_ms, o.video_fps);
}

// The most common width of the good clips (ties: the first clip's), and that clip.
std::pair<std::int64_t, std::string> majority_width(const std::vector<Clip>& clips, Matrix Clip::*modality) {
  std::map<std::int64_t, std::pair<int, std::string>> count;  // width -> clips, first clip
  for (const auto& c : clips)
    if (c.problem.empty()) {
      auto& [n, first] = count[(c.*modality).cols];
      if (n++ == 0) first = c.name;
    }
  std::pair<std::int64_t, std::string> best{0, ""};
  int best_n = 0;
  for (const auto& c : clips)
    if (c.problem.empty()) {
      const auto& [n, first] = count.at((c.*modality).cols);
      if (n > best_n) best_n = n, best = {(c.*modality).cols, first};
    }
  return best;
}

}  // namespace

LldTable parse_opensmile_csv(std::istream& in, const std::string& where) {
  std::string line;
  std::size_t number = 0;
  AUXGRID_CHECK(next_line(in, line, number), "{}: empty file, expected the header 'name;frameTime;<features>'", where);
  const auto header = split(line, ';');
  AUXGRID_CHECK(header.size() >= 3 && unquote(header[0]) == "name" && unquote(header[1]) == "frameTime",
                "{}: line 1: the header must be 'name;frameTime;' and the feature names (OpenSMILE -lldcsvoutput), "
                "got '{}'",
                where, line.substr(0, 80));
  LldTable t;
  for (std::size_t i = 2; i < header.size(); ++i) t.feature_names.emplace_back(unquote(header[i]));
  t.frames.cols = static_cast<std::int64_t>(t.feature_names.size());
  while (next_line(in, line, number)) {
    if (trim(line).empty()) continue;
    const auto fields = split(line, ';');
    AUXGRID_CHECK(fields.size() == header.size(), "{}: line {}: {} fields, the header has {}", where, number,
                  fields.size(), header.size());
    double v = 0;
    AUXGRID_CHECK(parse_number(fields[1], v), "{}: line {}: frameTime '{}' is not a number", where, number,
                  trim(fields[1]));
    for (std::size_t i = 2; i < fields.size(); ++i) {
      AUXGRID_CHECK(parse_number(fields[i], v), "{}: line {}: feature '{}' (field {}): '{}' is not a float32 number",
                    where, number, t.feature_names[i - 2], i + 1, trim(fields[i]));
      t.frames.values.push_back(static_cast<float>(v));
    }
    ++t.frames.rows;
  }
  AUXGRID_CHECK(!in.bad(), "{}: read error", where);
  return t;
}

Matrix parse_npy(const std::string& bytes, const std::string& where) {
  AUXGRID_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0,
                "{}: not a .npy file (no \\x93NUMPY magic at the start)", where);
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  AUXGRID_CHECK(major == 1 || major == 2, "{}: .npy format version {}.{}; this reader supports 1.0 and 2.0", where,
                major, minor);
  const std::size_t length_bytes = major == 1 ? 2 : 4, header_start = 8 + length_bytes;
  AUXGRID_CHECK(bytes.size() >= header_start, "{}: truncated .npy header", where);
  const std::uint64_t header_length = little_endian(bytes, 8, length_bytes);
  AUXGRID_CHECK(header_start + header_length <= bytes.size(),
                "{}: the .npy header claims {} bytes, but the file ends after {}", where, header_length,
                bytes.size() - header_start);
  const NpyHeader h = NpyHeaderParser(std::string_view(bytes).substr(header_start, header_length), where).parse();

  AUXGRID_CHECK(h.descr == "<f4" || h.descr == "<f2",
                "{}: dtype '{}' is not supported; expected '<f4' or '<f2' (little-endian float32 or float16)", where,
                h.descr);
  AUXGRID_CHECK(!h.fortran_order, "{}: fortran_order is True; expected C order (rows = frames)", where);
  AUXGRID_CHECK(h.shape.size() == 2, "{}: shape ({}) has rank {}; expected (frames, D)", where,
                fmt::join(h.shape, ", "), h.shape.size());
  AUXGRID_CHECK(h.shape[0] < kMaxDim && h.shape[1] < kMaxDim, "{}: shape ({}, {}) is too large", where, h.shape[0],
                h.shape[1]);
  AUXGRID_CHECK(h.shape[1] > 0, "{}: shape ({}, 0) has no feature columns", where, h.shape[0]);
  const std::size_t item = h.descr == "<f4" ? 4 : 2, count = h.shape[0] * h.shape[1];
  const std::size_t data_start = header_start + header_length;
  AUXGRID_CHECK(bytes.size() - data_start == count * item, "{}: {} data bytes, but shape ({}, {}) of {} needs {}",
                where, bytes.size() - data_start, h.shape[0], h.shape[1], h.descr, count * item);

  Matrix m;
  m.rows = static_cast<std::int64_t>(h.shape[0]);
  m.cols = static_cast<std::int64_t>(h.shape[1]);
  m.values.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto bits = little_endian(bytes, data_start + i * item, item);
    if (item == 2) {
      m.values[i] = store::half_to_float(static_cast<std::uint16_t>(bits));
    } else {
      const auto word = static_cast<std::uint32_t>(bits);
      std::memcpy(&m.values[i], &word, sizeof word);
    }
  }
  return m;
}

const std::vector<std::string>& crema_d_classes() {
  static const std::vector<std::string> classes = {"anger", "disgust", "fear", "happiness", "sadness", "neutral"};
  return classes;
}

CremaDName parse_crema_d_name(const std::string& clip) {
  const auto parts = split(clip, '_');
  const bool shaped = parts.size() == 4 && !parts[0].empty() &&
                      std::all_of(parts[0].begin(), parts[0].end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                      !parts[1].empty() && !parts[3].empty();
  AUXGRID_CHECK(shaped,
                "clip '{}': missing label: the name is not a CREMA-D name ACTOR_SENTENCE_EMOTION_LEVEL "
                "(e.g. 1001_DFA_ANG_XX)",
                clip);
  static const char* const codes[] = {"ANG", "DIS", "FEA", "HAP", "SAD", "NEU"};  // crema_d_classes() order
  const auto code = std::find(std::begin(codes), std::end(codes), parts[2]);
  AUXGRID_CHECK(code != std::end(codes), "clip '{}': unknown label: emotion code '{}' is not one of {}", clip, parts[2],
                fmt::join(codes, ", "));
  return {std::string(parts[0]), std::string(parts[1]), std::string(parts[2]), std::string(parts[3]),
          static_cast<int>(code - std::begin(codes))};
}

namespace {

// Where the clips are read from.
struct Sources {
  const ImportOptions& o;
  std::map<std::string, std::string> audio_files;  // clip -> CSV path
  VideoSource video;
  LabelsFile labels;
};

// Reads one clip; every check throws an Error that names it, and the caller
// decides whether that ends the import or skips the clip.
void load_clip(const Sources& s, Clip& c) {
  const auto& o = s.o;
  const auto audio = s.audio_files.find(c.name);
  c.audio_where =
      fmt::format("audio '{}'",
                  audio != s.audio_files.end() ? audio->second : (fs::path(o.audio_dir) / (c.name + ".csv")).string());
  c.video_where = s.video.where(c.name);
  AUXGRID_CHECK(audio != s.audio_files.end(), "clip '{}': missing audio: no {} for {}", c.name, c.audio_where,
                c.video_where);
  AUXGRID_CHECK(s.video.has(c.name), "clip '{}': missing video: no {} for {}", c.name, c.video_where, c.audio_where);
  if (o.crema_d_names) {
    const auto parsed = parse_crema_d_name(c.name);
    c.label = crema_d_classes()[parsed.label];
    c.speaker = parsed.actor;
  } else {
    const auto row = s.labels.rows.find(c.name);
    AUXGRID_CHECK(row != s.labels.rows.end(), "clip '{}': missing label: no row in labels '{}'", c.name, o.labels_csv);
    c.label = row->second.label;
    c.speaker = row->second.speaker;
    AUXGRID_CHECK(o.classes.empty() || std::count(o.classes.begin(), o.classes.end(), c.label),
                  "clip '{}': unknown label '{}' in labels '{}'; the classes are {}", c.name, c.label, o.labels_csv,
                  fmt::join(o.classes, ", "));
  }
  const std::string audio_where = fmt::format("clip '{}': {}", c.name, c.audio_where);
  std::istringstream csv(read_bytes(audio->second, audio_where));
  LldTable table = parse_opensmile_csv(csv, audio_where);
  c.audio = std::move(table.frames);
  AUXGRID_CHECK(c.audio.rows > 0, "{}: empty sequence (no audio frames)", audio_where);
  check_finite(c.audio, "audio", table.feature_names, audio_where);
  const std::string video_where = fmt::format("clip '{}': {}", c.name, c.video_where);
  c.video = s.video.read(c.name, video_where);
  AUXGRID_CHECK(c.video.rows > 0, "{}: empty sequence (no video frames)", video_where);
  check_finite(c.video, "video", {}, video_where);
}

// A clip whose features are not of the clips' common width is rejected. The
// reference width is the most common one, so that one odd clip is the one
// blamed, whatever its place in the order.
void reject_odd_widths(std::vector<Clip>& clips, const std::function<void(Clip&, const std::string&)>& reject) {
  struct Stream {
    const char* modality;
    Matrix Clip::*features;
    std::string Clip::*where;
  };
  for (const auto& s :
       {Stream{"audio", &Clip::audio, &Clip::audio_where}, Stream{"video", &Clip::video, &Clip::video_where}}) {
    const auto [width, example] = majority_width(clips, s.features);
    for (auto& c : clips)
      if (c.problem.empty() && (c.*s.features).cols != width)
        reject(c, fmt::format("clip '{}': {} has width {}, but the other clips' {} has {} (e.g. '{}')", c.name,
                              c.*s.where, (c.*s.features).cols, s.modality, width, example));
  }
}

// The corpus of the kept clips, in name order; their features move into it.
store::CorpusData assemble_corpus(const Sources& s, const std::vector<Clip*>& kept, std::size_t bad) {
  const auto& o = s.o;
  store::CorpusData corpus;
  auto& info = corpus.info;
  info.class_names = o.crema_d_names ? crema_d_classes() : o.classes;
  if (info.class_names.empty())  // labels-file order, restricted to the imported clips
    for (const auto& label : s.labels.labels_in_order)
      if (std::any_of(kept.begin(), kept.end(), [&](const Clip* c) { return c->label == label; }))
        info.class_names.push_back(label);
  info.name = o.name;
  info.description = fmt::format(
      "imported: audio OpenSMILE LLD CSVs from '{}', video from {}, labels from {}; raw features (not normalised){}",
      o.audio_dir, s.video.source(),
      o.crema_d_names ? std::string("CREMA-D file names") : fmt::format("'{}'", o.labels_csv),
      bad ? fmt::format("; {} bad clip(s) skipped", bad) : std::string());
  info.audio_dim = kept.front()->audio.cols;
  info.video_dim = kept.front()->video.cols;
  info.audio_hop_ms = o.audio_hop_ms;
  info.video_fps = o.video_fps;
  info.num_utterances = static_cast<std::int64_t>(kept.size());
  for (const Clip* c : kept) {
    info.audio_frames += c->audio.rows;
    info.video_frames += c->video.rows;
  }

  corpus.audio.reserve(info.audio_frames * info.audio_dim);
  corpus.video.reserve(info.video_frames * info.video_dim);
  corpus.audio_offsets.push_back(0);
  corpus.video_offsets.push_back(0);
  for (Clip* c : kept) {
    corpus.audio.insert(corpus.audio.end(), c->audio.values.begin(), c->audio.values.end());
    corpus.video.insert(corpus.video.end(), c->video.values.begin(), c->video.values.end());
    corpus.audio_offsets.push_back(corpus.audio_offsets.back() + c->audio.rows);
    corpus.video_offsets.push_back(corpus.video_offsets.back() + c->video.rows);
    c->audio = Matrix{};  // the corpus holds the only copy from here on
    c->video = Matrix{};
    corpus.utterance_ids.push_back(c->name);
    corpus.speakers.push_back(c->speaker);
    const auto label = std::find(info.class_names.begin(), info.class_names.end(), c->label);
    corpus.labels.push_back(static_cast<std::int32_t>(label - info.class_names.begin()));
  }
  return corpus;
}

}  // namespace

store::CorpusData import_corpus(const ImportOptions& o, std::vector<SkippedClip>* skipped) {
  check_options(o);
  const Sources sources{o, clip_files(o.audio_dir, ".csv", "audio"), VideoSource(o),
                        o.labels_csv.empty() ? LabelsFile{} : read_labels(o.labels_csv)};
  std::set<std::string> names;
  for (const auto& kv : sources.audio_files) names.insert(kv.first);
  for (const auto& name : sources.video.clips()) names.insert(name);

  const auto reject = [&](Clip& c, const std::string& problem) {
    if (!o.skip_bad) throw Error(problem);
    c.problem = problem;
    c.audio = Matrix{};
    c.video = Matrix{};
  };
  std::vector<Clip> clips;
  for (const auto& name : names) {
    Clip& c = clips.emplace_back();
    c.name = name;
    try {
      load_clip(sources, c);
    } catch (const Error& e) {
      reject(c, e.what());
    }
  }
  reject_odd_widths(clips, reject);

  std::vector<Clip*> kept;
  std::size_t bad = 0;
  for (auto& c : clips) {
    if (c.problem.empty()) {
      kept.push_back(&c);
    } else {
      ++bad;
      if (skipped) skipped->push_back({c.name, c.problem});
    }
  }
  AUXGRID_CHECK(!kept.empty(), "no clip left to import: all {} clips are bad (first: {})", clips.size(),
                clips.front().problem);
  return assemble_corpus(sources, kept, bad);
}

}  // namespace auxgrid::data
