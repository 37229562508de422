#define BOOST_TEST_MODULE importer
#include <boost/test/unit_test.hpp>

#include <H5Cpp.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

#include "auxgrid/data/importer.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "expect_error.hpp"

using namespace auxgrid;
namespace fs = std::filesystem;

namespace {

using Frames = std::vector<std::vector<float>>;

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  BOOST_REQUIRE(out.good());
}

std::string little_endian(std::uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// Exact for the values used here (normal, at most 10 mantissa bits).
std::uint16_t float_to_half(float f) {
  if (f == 0) return 0;
  if (std::isinf(f)) return f < 0 ? 0xfc00 : 0x7c00;
  std::uint32_t bits;
  std::memcpy(&bits, &f, 4);
  BOOST_REQUIRE((bits & 0x1fff) == 0);
  return static_cast<std::uint16_t>(((bits >> 16) & 0x8000) | ((((bits >> 23) & 0xff) - 112) << 10) |
                                    ((bits >> 13) & 0x3ff));
}

// A .npy file as NumPy writes it: magic, version, header length, a dict
// padded with spaces and '\n' to a multiple of 64 bytes, then the data.
std::string npy(const Frames& frames, std::size_t cols, const std::string& descr = "<f4", int major = 1,
                const std::string& shape_override = "", const std::string& fortran = "False") {
  const std::string shape = shape_override.empty() ? fmt::format("({}, {})", frames.size(), cols) : shape_override;
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}", descr, fortran, shape);
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64) header.push_back(' ');
  header.push_back('\n');
  std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0' +
                      little_endian(header.size(), major == 1 ? 2 : 4) + header;
  for (const auto& row : frames)
    for (float v : row) {
      if (descr == "<f2") {
        bytes += little_endian(float_to_half(v), 2);
      } else {
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        bytes += little_endian(bits, 4);
      }
    }
  return bytes;
}

// An OpenSMILE -lldcsvoutput file.
std::string lld_csv(const Frames& frames, std::size_t cols, bool quoted = true, const std::string& eol = "\n") {
  std::string s = "name;frameTime";
  for (std::size_t f = 0; f < cols; ++f) s += fmt::format(";feat{}_sma", f);
  s += eol;
  for (std::size_t t = 0; t < frames.size(); ++t) {
    s += fmt::format("{};{:.6f}", quoted ? "'unknown'" : "unknown", t * 0.016);
    for (float v : frames[t]) s += fmt::format(";{}", v);
    s += eol;
  }
  return s;
}

constexpr std::size_t kAudioDim = 5, kVideoDim = 6;

Frames audio_frames(int clip, int n, std::size_t cols = kAudioDim) {
  Frames f(n, std::vector<float>(cols));
  for (int t = 0; t < n; ++t)
    for (std::size_t c = 0; c < cols; ++c) f[t][c] = clip * 10.0f + t + c * 0.125f;
  return f;
}
Frames video_frames(int clip, int n, std::size_t cols = kVideoDim) {
  Frames f(n, std::vector<float>(cols));
  for (int t = 0; t < n; ++t)
    for (std::size_t c = 0; c < cols; ++c) f[t][c] = -(clip + t * 0.5f + c * 0.25f);  // exact in float16
  return f;
}

// 3 actors x 4 clips with CREMA-D names, audio 3+j frames of 5 features,
// video 2+j frames of 6 (float16 for odd j, format 2.0 for j == 2).
struct Corpus {
  fs::path dir;
  std::vector<std::string> names;     // in creation order
  std::vector<std::string> emotions;  // their codes

  Corpus() {
    static int counter = 0;
    dir = fs::temp_directory_path() / fmt::format("auxgrid_test_importer_{}_{}", ::getpid(), counter++);
    fs::remove_all(dir);
    fs::create_directories(dir / "audio");
    fs::create_directories(dir / "video");
    const char* codes[] = {"ANG", "DIS", "FEA", "HAP", "SAD", "NEU"};
    const char* sentences[] = {"DFA", "IEO", "TIE", "MTI"};
    int k = 0;
    for (int actor = 1001; actor <= 1003; ++actor)
      for (int j = 0; j < 4; ++j, ++k) {
        const std::string code = codes[(actor + j) % 6];
        names.push_back(fmt::format("{}_{}_{}_XX", actor, sentences[j], code));
        emotions.push_back(code);
        write_audio(names.back(), lld_csv(audio_frames(k, 3 + j), kAudioDim, j != 1, j == 3 ? "\r\n" : "\n"));
        write_npy(names.back(), npy(video_frames(k, 2 + j), kVideoDim, j % 2 ? "<f2" : "<f4", j == 2 ? 2 : 1));
      }
  }
  ~Corpus() { fs::remove_all(dir); }

  fs::path audio_path(const std::string& clip) const { return dir / "audio" / (clip + ".csv"); }
  fs::path video_path(const std::string& clip) const { return dir / "video" / (clip + ".npy"); }
  void write_audio(const std::string& clip, const std::string& text) const { write_file(audio_path(clip), text); }
  void write_npy(const std::string& clip, const std::string& bytes) const { write_file(video_path(clip), bytes); }

  data::ImportOptions options() const {
    data::ImportOptions o;
    o.name = "test";
    o.audio_dir = (dir / "audio").string();
    o.video_dir = (dir / "video").string();
    o.crema_d_names = true;
    return o;
  }
};

int crema_index(const std::string& code) {
  const std::vector<std::string> codes = {"ANG", "DIS", "FEA", "HAP", "SAD", "NEU"};
  return static_cast<int>(std::find(codes.begin(), codes.end(), code) - codes.begin());
}

// Runs the import, which must fail naming the clip and every fragment.
void expect_import_error(const data::ImportOptions& o, std::initializer_list<std::string> fragments) {
  expect_error([&] { data::import_corpus(o); }, fragments);
}

}  // namespace

BOOST_AUTO_TEST_CASE(opensmile_csv_parser) {
  std::istringstream in("\xEF\xBB\xBFname;frameTime;a;b\r\n'x';0.000000;1.5;-2e-1\r\nx;0.016;nan;+inf\n\n");
  const auto t = data::parse_opensmile_csv(in, "here");
  BOOST_TEST(t.feature_names == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(t.frames.rows == 2);
  BOOST_TEST(t.frames.cols == 2);
  BOOST_TEST(t.frames.values[0] == 1.5f);
  BOOST_TEST(t.frames.values[1] == -0.2f);
  BOOST_TEST(std::isnan(t.frames.values[2]));
  BOOST_TEST(std::isinf(t.frames.values[3]));

  const auto parse = [](const std::string& text) {
    std::istringstream s(text);
    data::parse_opensmile_csv(s, "f.csv");
  };
  expect_error([&] { parse(""); }, {"f.csv", "empty file"});
  expect_error([&] { parse("name,frameTime,a\n"); }, {"f.csv", "line 1", "name;frameTime;"});
  expect_error([&] { parse("name;frameTime;a\nx;0;1;2\n"); }, {"f.csv", "line 2", "4 fields, the header has 3"});
  expect_error([&] { parse("name;frameTime;a\nx;zero;1\n"); }, {"f.csv", "line 2", "frameTime 'zero'"});
  expect_error([&] { parse("name;frameTime;a\nx;0;1,5\n"); }, {"f.csv", "line 2", "feature 'a'", "'1,5'"});
  expect_error([&] { parse("name;frameTime;a\nx;0;1e39\n"); }, {"f.csv", "'1e39' is not a float32"});
}

BOOST_AUTO_TEST_CASE(npy_parser) {
  const Frames frames = {{1.5f, -2.0f, 0.25f}, {3.0f, 4.0f, -0.5f}};
  for (const char* descr : {"<f4", "<f2"})
    for (int major : {1, 2}) {
      const auto m = data::parse_npy(npy(frames, 3, descr, major), "v.npy");
      BOOST_TEST(m.rows == 2);
      BOOST_TEST(m.cols == 3);
      BOOST_TEST(m.values == (std::vector<float>{1.5f, -2.0f, 0.25f, 3.0f, 4.0f, -0.5f}),
                 boost::test_tools::per_element());
    }
  BOOST_TEST(data::parse_npy(npy({}, 3), "v.npy").rows == 0);

  const auto bad = [&](std::string bytes, std::initializer_list<std::string> fragments) {
    expect_error([&] { data::parse_npy(bytes, "v.npy"); }, fragments);
  };
  bad("not numpy at all", {"v.npy", "magic"});
  std::string v3 = npy(frames, 3);
  v3[6] = 3;
  bad(v3, {"v.npy", "version 3.0"});
  bad(npy(frames, 3, ">f4"), {"v.npy", "dtype '>f4'", "'<f4' or '<f2'"});
  bad(npy(frames, 3, "<f8"), {"v.npy", "dtype '<f8'"});
  bad(npy(frames, 3, "<f4", 1, "", "True"), {"v.npy", "fortran_order"});
  bad(npy(frames, 3, "<f4", 1, "(6,)"), {"v.npy", "rank 1"});
  bad(npy(frames, 3, "<f4", 1, "(2, 0)"), {"v.npy", "no feature columns"});
  bad(npy(frames, 3, "<f4", 1, "(2, 4)"), {"v.npy", "24 data bytes", "needs 32"});
  bad(npy(frames, 3, "<f4", 1, "[2, 3]"), {"v.npy", "malformed .npy header", "expected '('"});
  bad(npy(frames, 3).substr(0, 40), {"v.npy", "the file ends"});
}

BOOST_AUTO_TEST_CASE(crema_d_names) {
  const auto n = data::parse_crema_d_name("1076_MTI_SAD_XX");
  BOOST_TEST(n.actor == "1076");
  BOOST_TEST(n.sentence == "MTI");
  BOOST_TEST(n.emotion == "SAD");
  BOOST_TEST(n.level == "XX");
  BOOST_TEST(data::crema_d_classes()[n.label] == "sadness");
  BOOST_TEST(data::crema_d_classes() ==
                 (std::vector<std::string>{"anger", "disgust", "fear", "happiness", "sadness", "neutral"}),
             boost::test_tools::per_element());
  expect_error([] { data::parse_crema_d_name("1001_DFA_XYZ_HI"); }, {"1001_DFA_XYZ_HI", "unknown label", "XYZ"});
  expect_error([] { data::parse_crema_d_name("speaker1_angry"); }, {"speaker1_angry", "missing label", "CREMA-D"});
  expect_error([] { data::parse_crema_d_name("A001_DFA_ANG_HI"); }, {"A001_DFA_ANG_HI", "missing label"});
}

BOOST_AUTO_TEST_CASE(imports_crema_d_clips) {
  const Corpus c;
  std::vector<data::SkippedClip> skipped;
  const auto corpus = data::import_corpus(c.options(), &skipped);
  BOOST_TEST(skipped.empty());
  const auto& i = corpus.info;
  BOOST_TEST(i.name == "test");
  BOOST_TEST(i.audio_dim == 5);
  BOOST_TEST(i.video_dim == 6);
  BOOST_TEST(i.audio_hop_ms == 16.0);
  BOOST_TEST(i.video_fps == 29.97);
  BOOST_TEST(i.class_names == data::crema_d_classes(), boost::test_tools::per_element());
  BOOST_TEST(i.num_utterances == 12);
  BOOST_TEST(i.audio_frames == 3 * (3 + 4 + 5 + 6));
  BOOST_TEST(i.video_frames == 3 * (2 + 3 + 4 + 5));
  BOOST_TEST(i.description.find((c.dir / "audio").string()) != std::string::npos);
  BOOST_TEST(i.description.find((c.dir / "video").string()) != std::string::npos);

  auto sorted = c.names;
  std::sort(sorted.begin(), sorted.end());
  BOOST_TEST(corpus.utterance_ids == sorted, boost::test_tools::per_element());
  for (std::size_t u = 0; u < sorted.size(); ++u) {
    const auto k = static_cast<int>(std::find(c.names.begin(), c.names.end(), sorted[u]) - c.names.begin());
    const int j = k % 4;
    BOOST_TEST_CONTEXT("clip " << sorted[u]) {
      BOOST_TEST(corpus.speakers[u] == sorted[u].substr(0, 4));
      BOOST_TEST(corpus.labels[u] == crema_index(c.emotions[k]));
      BOOST_TEST(corpus.audio_offsets[u + 1] - corpus.audio_offsets[u] == 3 + j);
      BOOST_TEST(corpus.video_offsets[u + 1] - corpus.video_offsets[u] == 2 + j);
      const auto a = audio_frames(k, 3 + j), v = video_frames(k, 2 + j);  // float16 for odd j
      for (int t = 0; t < 2 + j; ++t)
        for (std::size_t f = 0; f < kVideoDim; ++f)
          BOOST_TEST(corpus.video[(corpus.video_offsets[u] + t) * kVideoDim + f] == v[t][f]);
      for (int t = 0; t < 3 + j; ++t)
        for (std::size_t f = 0; f < kAudioDim; ++f)
          BOOST_TEST(corpus.audio[(corpus.audio_offsets[u] + t) * kAudioDim + f] == a[t][f]);
    }
  }

  // Through the file and back, and the same bytes every time.
  const auto file = (c.dir / "corpus.h5").string(), again = (c.dir / "again.h5").string();
  store::write_corpus(file, corpus);
  store::write_corpus(again, data::import_corpus(c.options()));
  const auto back = store::read_corpus(file);
  BOOST_TEST(back.audio == corpus.audio, boost::test_tools::per_element());
  BOOST_TEST(back.video == corpus.video, boost::test_tools::per_element());
  BOOST_TEST(back.info.class_names == corpus.info.class_names, boost::test_tools::per_element());
  const auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  BOOST_TEST((bytes(file) == bytes(again)));
}

BOOST_AUTO_TEST_CASE(missing_video) {
  const Corpus c;
  fs::remove(c.video_path(c.names[5]));
  expect_import_error(c.options(), {"clip '" + c.names[5] + "'", "missing video", c.video_path(c.names[5]).string()});
}

BOOST_AUTO_TEST_CASE(missing_audio) {
  const Corpus c;
  fs::remove(c.audio_path(c.names[2]));
  expect_import_error(c.options(), {"clip '" + c.names[2] + "'", "missing audio", c.audio_path(c.names[2]).string()});
}

BOOST_AUTO_TEST_CASE(missing_label) {
  const Corpus c;
  c.write_audio("speaker1_angry", lld_csv(audio_frames(0, 3), kAudioDim));
  c.write_npy("speaker1_angry", npy(video_frames(0, 3), kVideoDim));
  expect_import_error(c.options(), {"clip 'speaker1_angry'", "missing label", "CREMA-D"});
}

BOOST_AUTO_TEST_CASE(wrong_audio_width) {
  const Corpus c;
  // The first clip in order is the odd one: the majority width still wins.
  const auto first = *std::min_element(c.names.begin(), c.names.end());
  c.write_audio(first, lld_csv(audio_frames(0, 4, 4), 4));
  expect_import_error(
      c.options(), {"clip '" + first + "'", c.audio_path(first).string(), "has width 4", "other clips' audio has 5"});
}

BOOST_AUTO_TEST_CASE(wrong_video_width) {
  const Corpus c;
  c.write_npy(c.names[7], npy(video_frames(0, 3, 7), 7));
  expect_import_error(c.options(), {"clip '" + c.names[7] + "'", c.video_path(c.names[7]).string(), "has width 7",
                                    "other clips' video has 6"});
}

BOOST_AUTO_TEST_CASE(nan_in_audio) {
  const Corpus c;
  auto frames = audio_frames(0, 4);
  frames[2][3] = std::numeric_limits<float>::quiet_NaN();
  c.write_audio(c.names[4], lld_csv(frames, kAudioDim));
  expect_import_error(c.options(), {"clip '" + c.names[4] + "'", c.audio_path(c.names[4]).string(),
                                    "NaN in audio frame 2", "feature 'feat3_sma'"});
}

BOOST_AUTO_TEST_CASE(inf_in_video) {
  const Corpus c;
  auto frames = video_frames(0, 3);
  frames[1][0] = -std::numeric_limits<float>::infinity();
  c.write_npy(c.names[9], npy(frames, kVideoDim, "<f2"));
  expect_import_error(c.options(), {"clip '" + c.names[9] + "'", c.video_path(c.names[9]).string(),
                                    "Inf in video frame 1", "column 0"});
}

// Issue 16, item 6: a finite value no corpus may hold (a 3e38 "missing"
// sentinel) is refused per clip, like NaN, naming it.
BOOST_AUTO_TEST_CASE(huge_value_in_audio) {
  const Corpus c;
  auto frames = audio_frames(0, 4);
  frames[1][2] = 3e38f;
  c.write_audio(c.names[3], lld_csv(frames, kAudioDim));
  expect_import_error(c.options(), {"clip '" + c.names[3] + "'", c.audio_path(c.names[3]).string(),
                                    "3e+38 (beyond 1e+30) in audio frame 1", "feature 'feat2_sma'"});
}

BOOST_AUTO_TEST_CASE(empty_audio) {
  const Corpus c;
  c.write_audio(c.names[0], lld_csv({}, kAudioDim));
  expect_import_error(c.options(), {"clip '" + c.names[0] + "'", c.audio_path(c.names[0]).string(), "empty sequence"});
}

BOOST_AUTO_TEST_CASE(empty_video) {
  const Corpus c;
  c.write_npy(c.names[3], npy({}, kVideoDim));
  expect_import_error(c.options(), {"clip '" + c.names[3] + "'", c.video_path(c.names[3]).string(), "empty sequence"});
}

BOOST_AUTO_TEST_CASE(unknown_label) {
  const Corpus c;
  c.write_audio("1002_DFA_BOR_XX", lld_csv(audio_frames(0, 3), kAudioDim));
  c.write_npy("1002_DFA_BOR_XX", npy(video_frames(0, 3), kVideoDim));
  expect_import_error(c.options(), {"clip '1002_DFA_BOR_XX'", "unknown label", "'BOR'"});
}

BOOST_AUTO_TEST_CASE(malformed_csv_row) {
  const Corpus c;
  auto text = lld_csv(audio_frames(0, 4), kAudioDim);
  text.insert(text.rfind(";"), ";7");  // one field too many on the last row (line 5)
  c.write_audio(c.names[6], text);
  expect_import_error(c.options(), {"clip '" + c.names[6] + "'", c.audio_path(c.names[6]).string(), "line 5",
                                    "8 fields, the header has 7"});
}

BOOST_AUTO_TEST_CASE(unparsable_number) {
  const Corpus c;
  c.write_audio(c.names[1], "name;frameTime;a;b;c;d;e\n'unknown';0.0;1;2;3;4;five\n");
  expect_import_error(
      c.options(), {"clip '" + c.names[1] + "'", c.audio_path(c.names[1]).string(), "line 2", "feature 'e'", "'five'"});
}

BOOST_AUTO_TEST_CASE(bad_npy_header) {
  const Corpus c;
  c.write_npy(c.names[8], npy(video_frames(0, 3), kVideoDim, "<f8"));
  expect_import_error(c.options(), {"clip '" + c.names[8] + "'", c.video_path(c.names[8]).string(), "dtype '<f8'"});
  c.write_npy(c.names[8], "garbage");
  expect_import_error(c.options(), {"clip '" + c.names[8] + "'", c.video_path(c.names[8]).string(), "magic"});
}

BOOST_AUTO_TEST_CASE(skip_bad_lists_and_skips) {
  const Corpus c;
  fs::remove(c.video_path(c.names[0]));
  c.write_npy(c.names[5], npy(video_frames(0, 3, 7), 7));
  c.write_audio(c.names[10], lld_csv({}, kAudioDim));
  auto o = c.options();
  expect_import_error(o, {"clip '"});  // the default: the first problem fails
  o.skip_bad = true;
  std::vector<data::SkippedClip> skipped;
  const auto corpus = data::import_corpus(o, &skipped);
  std::vector<std::string> bad = {c.names[0], c.names[5], c.names[10]};
  std::sort(bad.begin(), bad.end());
  BOOST_REQUIRE(skipped.size() == 3);
  for (std::size_t s = 0; s < 3; ++s) {
    BOOST_TEST(skipped[s].clip == bad[s]);
    BOOST_TEST(skipped[s].reason.find("clip '" + bad[s] + "'") != std::string::npos);
  }
  BOOST_TEST(skipped[std::find(bad.begin(), bad.end(), c.names[5]) - bad.begin()].reason.find("has width 7") !=
             std::string::npos);
  BOOST_TEST(corpus.info.num_utterances == 9);
  for (const auto& b : bad)
    BOOST_TEST((std::find(corpus.utterance_ids.begin(), corpus.utterance_ids.end(), b) == corpus.utterance_ids.end()));
  BOOST_TEST(corpus.info.description.find("3 bad clip(s) skipped") != std::string::npos);
  store::validate_corpus(corpus, "skip_bad");

  // Nothing left is an error even when skipping.
  for (const auto& name : c.names) fs::remove(c.video_path(name));
  c.write_npy("only_video", npy(video_frames(0, 3), kVideoDim));
  expect_import_error(o, {"no clip left", "missing"});
}

BOOST_AUTO_TEST_CASE(labels_csv) {
  const Corpus c;
  // Labels in a CSV: first-seen order, columns in any order, quoted fields.
  const char* labels[] = {"calm", "angry", "calm", "sad"};
  const auto labels_csv = [&](std::size_t without) {
    std::string csv = "speaker,clip,label\r\n";
    for (std::size_t k = 0; k < c.names.size(); ++k)
      if (k != without) csv += fmt::format("s{},\"{}\",{}\r\n", k % 3, c.names[k], labels[k % 4]);
    return csv + "s9,not_imported,bored\n";  // rows without features are ignored
  };
  write_file(c.dir / "labels.csv", labels_csv(c.names.size()));
  auto o = c.options();
  o.crema_d_names = false;
  o.labels_csv = (c.dir / "labels.csv").string();
  const auto corpus = data::import_corpus(o);
  BOOST_TEST(corpus.info.class_names == (std::vector<std::string>{"calm", "angry", "sad"}),
             boost::test_tools::per_element());
  for (std::size_t u = 0; u < corpus.utterance_ids.size(); ++u) {
    const auto k = std::find(c.names.begin(), c.names.end(), corpus.utterance_ids[u]) - c.names.begin();
    BOOST_TEST(corpus.info.class_names[corpus.labels[u]] == labels[k % 4]);
    BOOST_TEST(corpus.speakers[u] == fmt::format("s{}", k % 3));
  }

  // --classes fixes the order (a class may have no clips).
  o.classes = {"sad", "calm", "happy", "angry"};
  const auto fixed = data::import_corpus(o);
  BOOST_TEST(fixed.info.class_names == o.classes, boost::test_tools::per_element());
  for (std::size_t u = 0; u < fixed.utterance_ids.size(); ++u)
    BOOST_TEST(fixed.info.class_names[fixed.labels[u]] == corpus.info.class_names[corpus.labels[u]]);

  // A label outside --classes, and a clip with no row.
  o.classes = {"calm", "sad"};
  expect_import_error(o, {"clip '" + c.names[1] + "'", "unknown label 'angry'", "labels.csv"});
  o.classes.clear();
  write_file(c.dir / "labels.csv", labels_csv(2));
  expect_import_error(o, {"clip '" + c.names[2] + "'", "missing label", "labels.csv"});

  // The file itself: always fatal, naming the line.
  write_file(c.dir / "labels.csv", "clip,label\n");
  expect_import_error(o, {"labels.csv", "no column 'speaker'"});
  write_file(c.dir / "labels.csv", "clip,label,speaker\na,b\n");
  expect_import_error(o, {"labels.csv", "line 2", "2 fields"});
  write_file(c.dir / "labels.csv", "clip,label,speaker\na,b,c\na,b,c\n");
  expect_import_error(o, {"labels.csv", "line 3", "clip 'a' is already labelled on line 2"});
}

BOOST_AUTO_TEST_CASE(hdf5_video) {
  const Corpus c;
  const auto h5 = (c.dir / "video.h5").string();
  {
    H5::H5File f(h5, H5F_ACC_TRUNC);
    // float16 as h5py stores it: IEEE layout, 2 bytes, bias 15.
    H5::FloatType half(H5::PredType::IEEE_F32LE);
    half.setFields(15, 10, 5, 0, 10);
    half.setSize(2);
    half.setEbias(15);
    for (std::size_t k = 0; k < c.names.size(); ++k) {
      const auto frames = video_frames(static_cast<int>(k), 2 + k % 4);
      const hsize_t dims[2] = {frames.size(), kVideoDim};
      const H5::DataSpace space(2, dims);
      if (k % 2) {
        std::vector<std::uint16_t> bits;
        for (const auto& row : frames)
          for (float v : row) bits.push_back(float_to_half(v));
        f.createDataSet(c.names[k], half, space).write(bits.data(), half);
      } else {
        std::vector<float> values;
        for (const auto& row : frames) values.insert(values.end(), row.begin(), row.end());
        f.createDataSet(c.names[k], H5::PredType::IEEE_F32LE, space).write(values.data(), H5::PredType::NATIVE_FLOAT);
      }
    }
  }
  auto o = c.options();
  o.video_dir.clear();
  o.video_h5 = h5;
  const auto corpus = data::import_corpus(o);
  const auto from_npy = data::import_corpus(c.options());
  BOOST_TEST(corpus.utterance_ids == from_npy.utterance_ids, boost::test_tools::per_element());
  BOOST_TEST(corpus.video == from_npy.video, boost::test_tools::per_element());
  BOOST_TEST(corpus.video_offsets == from_npy.video_offsets, boost::test_tools::per_element());
  BOOST_TEST(corpus.info.description.find(h5) != std::string::npos);

  {
    H5::H5File f(h5, H5F_ACC_RDWR);
    f.unlink(c.names[4]);
    const hsize_t dims[3] = {2, 3, 2};
    f.createDataSet(c.names[4], H5::PredType::NATIVE_FLOAT, H5::DataSpace(3, dims));
  }
  expect_import_error(o, {"clip '" + c.names[4] + "'", h5 + ":/" + c.names[4], "rank 3"});
  {
    H5::H5File f(h5, H5F_ACC_RDWR);
    f.unlink(c.names[4]);
  }
  expect_import_error(o, {"clip '" + c.names[4] + "'", "missing video", h5 + ":/" + c.names[4]});
}

BOOST_AUTO_TEST_CASE(bad_options) {
  const Corpus c;
  auto o = c.options();
  o.video_h5 = "v.h5";
  expect_import_error(o, {"exactly one video source"});
  o = c.options();
  o.labels_csv = "l.csv";
  expect_import_error(o, {"exactly one label source"});
  o = c.options();
  o.classes = {"anger"};
  expect_import_error(o, {"CREMA-D names have their own"});
  o = c.options();
  o.audio_dir = (c.dir / "nowhere").string();
  expect_import_error(o, {"nowhere", "does not exist"});
  o = c.options();
  o.video_dir = (c.dir / "audio").string();
  expect_import_error(o, {"holds no .npy files"});
}
