#define BOOST_TEST_MODULE store
#include <boost/test/unit_test.hpp>

#include "temp_files.hpp"
#include "raw_corpus.hpp"
#include "write_limits.hpp"

#include "expect_error.hpp"

#include <H5Cpp.h>  // the raw API, to damage files the way crashes and bugs do

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <cmath>
#include <cstring>
#include <limits>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auxgrid/core/files.hpp"
#include "auxgrid/core/check.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/store/corpus_writer.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/result_file.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace fs = std::filesystem;
using namespace auxgrid;
using namespace auxgrid::store;

namespace {

CorpusData make_corpus() {
  CorpusData c;
  c.info.name = "synth-small";
  c.info.description = "five utterances, one without video frames; ünïcode";
  c.info.audio_dim = 3;
  c.info.video_dim = 2;
  c.info.audio_hop_ms = 10;
  c.info.video_fps = 29.97;
  c.info.class_names = {"anger", "happiness", "neutral", "sadness"};
  c.utterance_ids = {"u0", "u1", "u2", "u3", "u4"};
  c.speakers = {"s0", "s0", "s1", "s1", "s2"};
  c.labels = {0, 3, 1, 2, 3};
  c.audio_offsets = {0, 4, 9, 11, 18, 20};
  c.video_offsets = {0, 2, 2, 5, 6, 8};  // u1 has no video
  for (int i = 0; i < 20 * 3; ++i) c.audio.push_back(0.25f * i - 3.0f);
  for (int i = 0; i < 8 * 2; ++i) c.video.push_back(1.0f / (i + 1));
  c.info.num_utterances = 5;
  c.info.audio_frames = 20;
  c.info.video_frames = 8;
  return c;
}

// Many utterances (some empty), enough rows for several chunks of both
// modalities, values with all kinds of magnitudes.
CorpusData make_large_corpus(const std::string& video_dtype) {
  CorpusData c;
  c.info.name = "large";
  c.info.description = "chunk boundaries";
  c.info.audio_dim = 7;
  c.info.video_dim = 1500;  // 4 MiB chunks of float32 hold 699 rows
  c.info.audio_hop_ms = 16;
  c.info.video_fps = 29.97;
  c.info.class_names = {"a", "b", "c"};
  c.info.video_dtype = video_dtype;
  c.audio_offsets = {0};
  c.video_offsets = {0};
  std::uint32_t state = 12345;
  const auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int u = 0; u < 150; ++u) {
    c.utterance_ids.push_back("utt" + std::to_string(u));
    c.speakers.push_back("s" + std::to_string(u % 7));
    c.labels.push_back(static_cast<std::int32_t>(next() % 3));
    const std::int64_t audio_frames = (u % 11 == 0) ? 0 : 1 + next() % 70, video_frames = next() % 35;
    for (std::int64_t k = 0; k < audio_frames * c.info.audio_dim; ++k)
      c.audio.push_back(static_cast<float>(next()) * 1e-9f - 2.0f);
    for (std::int64_t k = 0; k < video_frames * c.info.video_dim; ++k) {
      const float unit = static_cast<float>(next() >> 8) / 16777216.0f - 0.5f;
      c.video.push_back(std::ldexp(unit, static_cast<int>(next() % 40) - 24));  // 2^-25 .. 2^15
    }
    c.audio_offsets.push_back(c.audio_offsets.back() + audio_frames);
    c.video_offsets.push_back(c.video_offsets.back() + video_frames);
  }
  c.info.num_utterances = 150;
  c.info.audio_frames = c.audio_offsets.back();
  c.info.video_frames = c.video_offsets.back();
  return c;
}

void check_same(const CorpusData& a, const CorpusData& b) {
  BOOST_TEST(a.info.name == b.info.name);
  BOOST_TEST(a.info.description == b.info.description);
  BOOST_TEST(a.info.audio_dim == b.info.audio_dim);
  BOOST_TEST(a.info.video_dim == b.info.video_dim);
  BOOST_TEST(a.info.audio_hop_ms == b.info.audio_hop_ms);
  BOOST_TEST(a.info.video_fps == b.info.video_fps);
  BOOST_TEST(a.info.class_names == b.info.class_names);
  BOOST_TEST(a.info.num_utterances == b.info.num_utterances);
  BOOST_TEST(a.info.audio_frames == b.info.audio_frames);
  BOOST_TEST(a.info.video_frames == b.info.video_frames);
  BOOST_TEST(a.info.video_dtype == b.info.video_dtype);
  BOOST_TEST((a.audio == b.audio));
  BOOST_TEST(a.audio_offsets == b.audio_offsets);
  BOOST_TEST((a.video == b.video));
  BOOST_TEST(a.video_offsets == b.video_offsets);
  BOOST_TEST(a.utterance_ids == b.utterance_ids);
  BOOST_TEST(a.speakers == b.speakers);
  BOOST_TEST(a.labels == b.labels);
}

// Appends every utterance of `c` to a streaming writer, as a generator would.
CorpusInfo stream(const std::string& path, const CorpusData& c) {
  CorpusWriter w(path, c.info);
  for (std::size_t u = 0; u < c.labels.size(); ++u) {
    const auto a = c.audio_offsets[u], v = c.video_offsets[u];
    w.append(c.utterance_ids[u], c.speakers[u], c.labels[u], c.audio.data() + a * c.info.audio_dim,
             c.audio_offsets[u + 1] - a, c.video.data() + v * c.info.video_dim, c.video_offsets[u + 1] - v);
  }
  BOOST_TEST(w.utterances() == static_cast<std::int64_t>(c.labels.size()));
  return w.finish();
}

void set_string_attribute(const std::string& path, const std::string& name, const std::string& value) {
  H5::H5File f(path, H5F_ACC_RDWR);
  f.removeAttr(name);
  H5::StrType text(H5::PredType::C_S1, H5T_VARIABLE);
  f.createAttribute(name, text, H5::DataSpace(H5S_SCALAR)).write(text, value);
}

// A result as the runner writes it: named by its settings' id, each F1 that
// of its confusion.
CellResult make_result(std::int64_t seed = 3) {
  CellResult r;
  r.label = fmt::format("auxformer/optimized/seed{}", seed);
  r.grid = "table2";
  r.config = Config::defaults();
  r.config.set("model.width", std::int64_t{64});
  r.config.set("train.lr", 1e-3);
  r.config.set("model.pos_encoding", false);
  r.config.set("train.procedure", std::string("optimized"));
  r.config.set("seed", seed);
  r.cell_id = r.config.id();
  r.corpus_name = "synth-small";
  r.class_names = {"anger", "happiness", "neutral"};
  r.n_params = 123456789012;  // wider than 32 bits
  r.best_epoch = 1;
  r.epochs = {{1.5, 1.25, 7e-4, 3.5}, {1.0, 1.125, 7e-4, 3.25}, {0.5, 1.5, 7e-5, 3.0}};
  r.train_ids = {"u0", "u1", "u2"};
  r.dev_ids = {"u3"};
  r.test_ids = {"u4", "u5"};
  // Not in name order: the order written must come back.
  EvalRecord ideal{"ideal", {0, 2}, {0, 1}, {"u4", "u5"}, {1, 0, 0, 0, 0, 0, 0, 1, 0}, 0.5, 1.0 / 3};
  EvalRecord audio{"audio_only", {0, 2}, {0, 2}, {"u4", "u5"}, {1, 0, 0, 0, 0, 0, 0, 0, 1}, 1.0, 1.0};
  r.evals = {ideal, audio};
  r.provenance = {{"host", "node17"}, {"torch", "2.1.0"}, {"wall_seconds", "9.75"}};
  return r;
}

void check_same(const CellResult& a, const CellResult& b) {
  BOOST_TEST(a.cell_id == b.cell_id);
  BOOST_TEST(a.label == b.label);
  BOOST_TEST(a.grid == b.grid);
  BOOST_TEST(a.config.values() == b.config.values());
  BOOST_TEST(a.corpus_name == b.corpus_name);
  BOOST_TEST(a.class_names == b.class_names);
  BOOST_TEST(a.n_params == b.n_params);
  BOOST_TEST(a.best_epoch == b.best_epoch);
  BOOST_TEST_REQUIRE(a.epochs.size() == b.epochs.size());
  for (std::size_t i = 0; i < a.epochs.size(); ++i) {
    BOOST_TEST(a.epochs[i].train_loss == b.epochs[i].train_loss);
    BOOST_TEST(a.epochs[i].dev_loss == b.epochs[i].dev_loss);
    BOOST_TEST(a.epochs[i].lr == b.epochs[i].lr);
    BOOST_TEST(a.epochs[i].seconds == b.epochs[i].seconds);
  }
  BOOST_TEST(a.train_ids == b.train_ids);
  BOOST_TEST(a.dev_ids == b.dev_ids);
  BOOST_TEST(a.test_ids == b.test_ids);
  BOOST_TEST_REQUIRE(a.evals.size() == b.evals.size());
  for (std::size_t i = 0; i < a.evals.size(); ++i) {
    BOOST_TEST(a.evals[i].condition == b.evals[i].condition);
    BOOST_TEST(a.evals[i].labels == b.evals[i].labels);
    BOOST_TEST(a.evals[i].predictions == b.evals[i].predictions);
    BOOST_TEST(a.evals[i].utterance_ids == b.evals[i].utterance_ids);
    BOOST_TEST(a.evals[i].confusion == b.evals[i].confusion);
    BOOST_TEST(a.evals[i].micro_f1 == b.evals[i].micro_f1);
    BOOST_TEST(a.evals[i].macro_f1 == b.evals[i].macro_f1);
  }
  BOOST_TEST(a.provenance == b.provenance);
}

void set_int_attribute(const std::string& path, const std::string& object, const std::string& name,
                       std::int64_t value) {
  H5::H5File f(path, H5F_ACC_RDWR);
  f.openGroup(object).openAttribute(name).write(H5::PredType::NATIVE_INT64, &value);
}

// Replaces a 1-D int64 dataset by `values` (any length).
void replace_dataset(const std::string& path, const std::string& dataset, const std::vector<std::int64_t>& values) {
  H5::H5File f(path, H5F_ACC_RDWR);
  f.unlink(dataset);
  const hsize_t n = values.size();
  f.createDataSet(dataset, H5::PredType::NATIVE_INT64, H5::DataSpace(1, &n))
      .write(values.data(), H5::PredType::NATIVE_INT64);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(corpus)

BOOST_AUTO_TEST_CASE(round_trip) {
  TempDir tmp;
  const auto path = tmp / "c.h5";
  const CorpusData c = make_corpus();
  write_corpus(path, c);
  const CorpusData r = read_corpus(path);
  BOOST_TEST(r.info.path == path);
  BOOST_TEST(r.info.name == c.info.name);
  BOOST_TEST(r.info.description == c.info.description);
  BOOST_TEST(r.info.audio_dim == c.info.audio_dim);
  BOOST_TEST(r.info.video_dim == c.info.video_dim);
  BOOST_TEST(r.info.audio_hop_ms == c.info.audio_hop_ms);
  BOOST_TEST(r.info.video_fps == c.info.video_fps);
  BOOST_TEST(r.info.class_names == c.info.class_names);
  BOOST_TEST(r.info.num_utterances == c.info.num_utterances);
  BOOST_TEST(r.info.audio_frames == c.info.audio_frames);
  BOOST_TEST(r.info.video_frames == c.info.video_frames);
  BOOST_TEST(r.audio == c.audio);
  BOOST_TEST(r.audio_offsets == c.audio_offsets);
  BOOST_TEST(r.video == c.video);
  BOOST_TEST(r.video_offsets == c.video_offsets);
  BOOST_TEST(r.utterance_ids == c.utterance_ids);
  BOOST_TEST(r.speakers == c.speakers);
  BOOST_TEST(r.labels == c.labels);
  BOOST_TEST(files_named(fs::path(path).parent_path().string(), ".tmp.").empty());
}

BOOST_AUTO_TEST_CASE(same_data_same_bytes) {
  TempDir tmp;
  write_corpus(tmp / "a.h5", make_corpus());
  const std::string first = bytes_of(tmp / "a.h5");
  // HDF5 timestamps have one-second resolution: let one pass, so a stored time would show.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_corpus(tmp / "a.h5", make_corpus());  // replaces the file
  write_corpus(tmp / "b.h5", make_corpus());
  BOOST_TEST(!first.empty());
  BOOST_TEST((bytes_of(tmp / "a.h5") == first));
  BOOST_TEST((bytes_of(tmp / "b.h5") == first));
}

BOOST_AUTO_TEST_CASE(info_reads_no_features) {
  TempDir tmp;
  const auto path = tmp / "c.h5";
  write_corpus(path, make_corpus());
  {
    // A feature matrix far too large to read; its chunks were never written.
    H5::H5File f(path, H5F_ACC_RDWR);
    f.unlink("/audio/features");
    const hsize_t dims[2] = {hsize_t{1} << 40, 3}, max_dims[2] = {H5S_UNLIMITED, 3}, chunk[2] = {1024, 3};
    H5::DSetCreatPropList dcpl;
    dcpl.setChunk(2, chunk);
    f.createDataSet("/audio/features", H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, dims, max_dims), dcpl);
  }
  const CorpusInfo info = read_corpus_info(path);
  BOOST_TEST(info.path == path);
  BOOST_TEST(info.name == "synth-small");
  BOOST_TEST(info.audio_frames == std::int64_t{1} << 40);
  BOOST_TEST(info.video_frames == 8);
  BOOST_TEST(info.num_utterances == 5);
  BOOST_TEST(info.audio_dim == 3);
  BOOST_TEST(info.video_dim == 2);
  BOOST_TEST(info.class_names.size() == 4u);
}

BOOST_AUTO_TEST_CASE(missing_file_names_the_path) {
  TempDir tmp;
  const auto path = tmp / "absent.h5";
  expect_error([&] { read_corpus_info(path); }, {path, "no such file"});
  expect_error([&] { read_corpus(path); }, {path, "no such file"});
}

BOOST_AUTO_TEST_CASE(not_hdf5) {
  TempDir tmp;
  const auto path = tmp / "text.h5";
  std::ofstream(path) << "utterance,label\nu0,anger\n";
  expect_error([&] { read_corpus(path); }, {path, "not an HDF5 file"});
}

BOOST_AUTO_TEST_CASE(malformed_files_name_file_and_dataset) {
  TempDir tmp;
  const auto path = tmp / "c.h5";

  write_corpus(path, make_corpus());
  replace_dataset(path, "/audio/offsets", {0, 4, 9, 11, 18});  // one short
  expect_error([&] { read_corpus_info(path); }, {path, "/audio/offsets", "has 5 entries, expected 6"});
  expect_error([&] { read_corpus(path); }, {path, "/audio/offsets"});

  write_corpus(path, make_corpus());
  replace_dataset(path, "/video/offsets", {0, 2, 1, 5, 6, 8});
  expect_error([&] { read_corpus(path); }, {path, "/video/offsets", "decreases at entry 2"});

  write_corpus(path, make_corpus());
  replace_dataset(path, "/audio/offsets", {0, 4, 9, 11, 18, 19});
  expect_error([&] { read_corpus(path); }, {path, "/audio/offsets", "ends at 19", "20 rows"});

  write_corpus(path, make_corpus());
  replace_dataset(path, "/utterances/label", {0, 3, 1, 4, 3});
  expect_error([&] { read_corpus(path); }, {path, "/utterances/label", "'u3' (4)", "outside [0, 4)"});

  write_corpus(path, make_corpus());
  set_int_attribute(path, "/", "format_version", kCorpusFormatVersion + 1);
  expect_error([&] { read_corpus_info(path); }, {path, "format_version", "is 3"});

  write_corpus(path, make_corpus());
  set_string_attribute(path, "video_dtype", "float16");  // the features are float32
  expect_error([&] { read_corpus_info(path); }, {path, "'video_dtype' is 'float16'", "/video/features", "4-byte"});
  set_string_attribute(path, "video_dtype", "bfloat16");
  expect_error([&] { read_corpus(path); }, {path, "'video_dtype' is 'bfloat16'"});

  write_corpus(path, make_corpus());
  {
    H5::H5File f(path, H5F_ACC_RDWR);
    f.unlink("/utterances/speaker");
  }
  expect_error([&] { read_corpus_info(path); }, {path, "/utterances/speaker", "missing"});
}

BOOST_AUTO_TEST_CASE(streaming_writer_equals_write_corpus) {
  TempDir tmp;
  for (const char* dtype : {"float32", "float16"}) {
    const CorpusData c = make_large_corpus(dtype);
    write_corpus(tmp / "whole.h5", c);
    const CorpusInfo info = stream(tmp / "streamed.h5", c);
    BOOST_TEST(info.path == tmp / "streamed.h5");
    BOOST_TEST(info.num_utterances == 150);
    BOOST_TEST(info.audio_frames == c.info.audio_frames);
    BOOST_TEST(info.video_frames == c.info.video_frames);
    BOOST_TEST(info.video_dtype == dtype);
    BOOST_TEST((bytes_of(tmp / "streamed.h5") == bytes_of(tmp / "whole.h5")), dtype);
    CorpusData expected = c;
    if (expected.info.video_dtype == "float16") round_to_half(expected.video.data(), expected.video.size());
    check_same(read_corpus(tmp / "streamed.h5"), expected);
  }
  // Both files, nothing temporary left over.
  BOOST_TEST(std::distance(fs::directory_iterator(tmp.dir), fs::directory_iterator()) == 2);
}

BOOST_AUTO_TEST_CASE(index_is_the_corpus_without_features) {
  TempDir tmp;
  const CorpusData c = make_large_corpus("float16");
  write_corpus(tmp / "c.h5", c);
  const CorpusIndex x = read_corpus_index(tmp / "c.h5");
  BOOST_TEST(x.info.path == tmp / "c.h5");
  BOOST_TEST(x.info.video_dtype == "float16");
  BOOST_TEST(x.info.video_frames == c.info.video_frames);
  BOOST_TEST(x.audio_offsets == c.audio_offsets);
  BOOST_TEST(x.video_offsets == c.video_offsets);
  BOOST_TEST(x.utterance_ids == c.utterance_ids);
  BOOST_TEST(x.speakers == c.speakers);
  BOOST_TEST(x.labels == c.labels);
  replace_dataset(tmp / "c.h5", "/video/offsets", {0, 1});
  expect_error([&] { read_corpus_index(tmp / "c.h5"); }, {"/video/offsets", "has 2 entries, expected 151"});
}

BOOST_AUTO_TEST_CASE(half_precision_conversion) {
  const auto bits = [](float x) { return float_to_half(x); };
  BOOST_TEST(bits(1.0f) == 0x3c00);
  BOOST_TEST(bits(-2.0f) == 0xc000);
  BOOST_TEST(bits(-0.0f) == 0x8000);
  BOOST_TEST(bits(65504.0f) == 0x7bff);  // the largest half
  BOOST_TEST(bits(65519.0f) == 0x7bff);  // rounds down to it
  BOOST_TEST(bits(65520.0f) == 0x7c00);  // rounds up to infinity
  BOOST_TEST(bits(1e9f) == 0x7c00);
  BOOST_TEST(bits(-std::numeric_limits<float>::infinity()) == 0xfc00);
  BOOST_TEST(bits(std::numeric_limits<float>::quiet_NaN()) == 0x7e00);
  BOOST_TEST(bits(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);  // tie: to even
  BOOST_TEST(bits(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
  BOOST_TEST(bits(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  BOOST_TEST(bits(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  BOOST_TEST(bits(std::ldexp(1.0f, -25)) == 0x0000);  // tie: to even (zero)
  BOOST_TEST(bits(std::ldexp(3.0f, -25)) == 0x0002);  // 1.5 ulps: tie to even
  BOOST_TEST(std::isinf(half_to_float(0x7c00)));
  BOOST_TEST(std::isnan(half_to_float(0x7e01)));
  BOOST_TEST(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  BOOST_TEST(half_to_float(0x3555) == 0.333251953125f);
  // Every half (but NaN) survives the round trip bit for bit.
  int mismatches = 0;
  for (std::uint32_t h = 0; h < 65536; ++h)
    if ((h & 0x7c00u) != 0x7c00u || (h & 0x3ffu) == 0) mismatches += float_to_half(half_to_float(h)) != h;
  BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(float16_round_trip) {
  TempDir tmp;
  const CorpusData c = make_large_corpus("float16");
  write_corpus(tmp / "half.h5", c);
  CorpusData single = c;
  single.info.video_dtype = "float32";
  write_corpus(tmp / "single.h5", single);
  const CorpusData r = read_corpus(tmp / "half.h5");
  BOOST_TEST(r.info.video_dtype == "float16");
  BOOST_TEST((r.audio == c.audio));  // audio stays float32
  BOOST_TEST_REQUIRE(r.video.size() == c.video.size());
  std::size_t outside = 0;
  for (std::size_t k = 0; k < c.video.size(); ++k) {
    // Half an ulp: 2^-11 relative for normal halves, 2^-25 absolute below.
    const float x = c.video[k], tolerance = std::max(std::abs(x) * std::ldexp(1.0f, -11), std::ldexp(1.0f, -25));
    outside += std::abs(r.video[k] - x) > tolerance;
  }
  BOOST_TEST(outside == 0u);
  BOOST_TEST(read_corpus(tmp / "single.h5").video == c.video);
  // Half the video bytes; stored as the standard half type (h5py: numpy float16).
  BOOST_TEST(fs::file_size(tmp / "half.h5") < fs::file_size(tmp / "single.h5") * 0.6);
  H5::H5File f(tmp / "half.h5", H5F_ACC_RDONLY);
  const H5::DataSet video = f.openDataSet("/video/features");
  BOOST_TEST(video.getTypeClass() == H5T_FLOAT);
  const H5::FloatType type = video.getFloatType();
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  type.getFields(spos, epos, esize, mpos, msize);
  BOOST_TEST(type.getSize() == 2u);
  BOOST_TEST((spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10));
  BOOST_TEST(type.getEbias() == 15u);
  BOOST_TEST(type.getOrder() == H5T_ORDER_LE);
  // HDF5's own conversion agrees with ours.
  std::vector<float> converted(c.video.size());
  video.read(converted.data(), H5::PredType::NATIVE_FLOAT);
  BOOST_TEST((converted == r.video));
}

BOOST_AUTO_TEST_CASE(abandoned_writer_leaves_no_file) {
  TempDir tmp;
  const auto path = tmp / "sub/c.h5";
  const CorpusData c = make_corpus();
  {
    CorpusWriter w(path, c.info);
    w.append("u0", "s0", 1, c.audio.data(), 4, c.video.data(), 2);
    BOOST_TEST(!files_named(fs::path(path).parent_path().string(), ".tmp.").empty());
  }
  BOOST_TEST(fs::is_empty(tmp / "sub"));
  {
    CorpusWriter w(path, c.info);
    w.append("u0", "s0", 1, c.audio.data(), 4, c.video.data(), 2);
    expect_error([&] { w.append("u0", "s1", 0, c.audio.data(), 1, c.video.data(), 1); }, {path, "'u0' more than once"});
    expect_error([&] { w.append("u1", "s1", 4, c.audio.data(), 1, c.video.data(), 1); },
                 {path, "label 4 is outside [0, 4)"});
  }
  BOOST_TEST(fs::is_empty(tmp / "sub"));
  CorpusWriter w(path, c.info);
  w.finish();  // no utterances: a valid, empty corpus
  expect_error([&] { w.append("u0", "s0", 1, c.audio.data(), 1, c.video.data(), 1); }, {path, "finished"});
  const CorpusData empty = read_corpus(path);
  BOOST_TEST(empty.info.num_utterances == 0);
  BOOST_TEST(empty.audio_offsets == std::vector<std::int64_t>{0});
  CorpusInfo bad = c.info;
  bad.video_dtype = "float64";
  expect_error([&] { CorpusWriter(tmp / "bad.h5", bad); }, {tmp / "bad.h5", "'video_dtype' is 'float64'"});
  BOOST_TEST(!fs::exists(tmp / "bad.h5"));
}

BOOST_AUTO_TEST_CASE(version_1_files_still_read) {
  TempDir tmp;
  const auto path = tmp / "v1.h5";
  const CorpusData c = make_corpus();
  write_version1(path, c);
  const CorpusData r = read_corpus(path);
  check_same(r, c);
  BOOST_TEST(r.info.video_dtype == "float32");
  BOOST_TEST(read_corpus_info(path).video_frames == 8);
  BOOST_TEST(read_corpus_index(path).labels == c.labels);
  // Rewritten, it becomes the current version with the same data.
  write_corpus(tmp / "v2.h5", r);
  check_same(read_corpus(tmp / "v2.h5"), c);
}

BOOST_AUTO_TEST_CASE(invalid_data_is_not_written) {
  TempDir tmp;
  const auto path = tmp / "c.h5";
  CorpusData c = make_corpus();
  c.audio_offsets[2] = 3;
  expect_error([&] { write_corpus(path, c); }, {path, "/audio/offsets", "decreases"});
  c = make_corpus();
  c.speakers.pop_back();
  expect_error([&] { write_corpus(path, c); }, {path, "/utterances/speaker", "has 4 entries, expected 5"});
  c = make_corpus();
  c.utterance_ids[3] = "u0";
  expect_error([&] { write_corpus(path, c); }, {path, "'u0' more than once"});
  c = make_corpus();
  c.info.audio_frames = 19;
  expect_error([&] { write_corpus(path, c); }, {path, "audio_frames is 19"});
  BOOST_TEST(fs::is_empty(tmp.dir));
}

// Issue 16, item 6: bad contents are found in one pass, before anything
// trains, and named by utterance id; no writer of ours stores them.
BOOST_AUTO_TEST_CASE(bad_contents_are_found_up_front_and_named) {
  TempDir tmp;
  const auto path = tmp / "c.h5";
  write_version1(path, make_corpus());
  BOOST_TEST(validate_corpus_file(path).utterance_ids == make_corpus().utterance_ids);

  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const float bad : {nan, inf, -inf, 3e38f}) {
    CorpusData c = make_corpus();
    c.audio[9 * 3 + 1] = bad;  // u2's first frame (offset 9), feature 1
    write_version1(path, c);
    expect_error([&] { validate_corpus_file(path); },
                 {path, "1 utterance(s) with a non-finite or huge feature value", "'u2' (audio frame 0, feature 1"});
    expect_error([&] { write_corpus(tmp / "w.h5", c); }, {"'u2' (audio frame 0, feature 1"});
  }
  CorpusData c = make_corpus();
  c.video[6 * 2] = nan;  // u4's first video frame
  c.audio[0] = inf;      // u0
  c.labels[1] = 7;
  c.labels[3] = -1;
  c.utterance_ids[4] = "u0";
  write_version1(path, c);
  expect_error([&] { validate_corpus_file(path); },
               {path, "2 utterance(s) with a label outside [0, 4)", "'u1' (7)", "'u3' (-1)",
                "/utterances/id holds 'u0' more than once", "2 utterance(s) with a non-finite", "'u0' (audio frame 0",
                "(video frame 0, feature 0: nan)"});
  expect_error([&] { read_corpus(path); }, {path, "label outside"});  // a run that skipped the plan

  c = make_corpus();
  c.labels = {0, 3, 1, 0, 3};  // no 'neutral'
  write_version1(path, c);
  expect_error([&] { validate_corpus_file(path); }, {path, "'neutral'", "no utterances"});
  BOOST_TEST(fs::exists(path));
  BOOST_TEST(!fs::exists(tmp / "w.h5"));
}

BOOST_AUTO_TEST_CASE(float16_video_refuses_what_it_cannot_hold) {
  TempDir tmp;
  CorpusData c = make_corpus();
  c.info.video_dtype = "float16";
  c.video[3] = 1e5f;  // beyond 65504: it would be stored as infinity
  expect_error([&] { write_corpus(tmp / "h.h5", c); }, {"utterance 'u0'", "video frame 1, feature 1", "float16"});
  c.video[3] = 6e4f;
  write_corpus(tmp / "h.h5", c);
  BOOST_TEST(validate_corpus_file(tmp / "h.h5").labels == c.labels);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(result)

BOOST_AUTO_TEST_CASE(round_trip) {
  TempDir tmp;
  const CellResult r = make_result();
  const auto path = result_path(tmp.dir.string(), r.cell_id);
  BOOST_TEST(path == (tmp.dir / "cells" / (r.cell_id + ".h5")).string());
  write_result(path, r);  // creates cells/
  check_same(read_result(path), r);

  // The layout other tools read: typed config attributes, a C x C confusion.
  H5::H5File f(path, H5F_ACC_RDONLY);
  const H5::Group config = f.openGroup("config");
  const auto type_of = [&](const char* name) {
    const H5::Attribute a = config.openAttribute(name);
    return std::pair{a.getTypeClass(), a.getDataType().getSize()};
  };
  BOOST_TEST((type_of("model.pos_encoding") == std::pair{H5T_INTEGER, std::size_t{1}}));
  BOOST_TEST((type_of("model.width") == std::pair{H5T_INTEGER, std::size_t{8}}));
  BOOST_TEST((type_of("seed") == std::pair{H5T_INTEGER, std::size_t{8}}));
  BOOST_TEST((type_of("train.lr") == std::pair{H5T_FLOAT, std::size_t{8}}));
  BOOST_TEST(config.openAttribute("train.procedure").getStrType().isVariableStr());
  std::string model;
  config.openAttribute("model").read(config.openAttribute("model").getStrType(), model);
  BOOST_TEST(model == "auxformer");
  hsize_t dims[2] = {0, 0};
  const H5::DataSet confusion = f.openDataSet("/eval/ideal/confusion");
  BOOST_TEST(confusion.getSpace().getSimpleExtentNdims() == 2);
  confusion.getSpace().getSimpleExtentDims(dims);
  BOOST_TEST(dims[0] == 3u);
  BOOST_TEST(dims[1] == 3u);
  int complete = 0;
  f.openAttribute("complete").read(H5::PredType::NATIVE_INT, &complete);
  BOOST_TEST(complete == 1);
}

BOOST_AUTO_TEST_CASE(summary_matches_full_read) {
  TempDir tmp;
  const auto path = result_path(tmp.dir.string(), make_result().cell_id);
  write_result(path, make_result());
  const ResultSummary s = read_result_summary(path);
  const CellResult r = read_result(path);
  BOOST_TEST(s.path == path);
  BOOST_TEST(s.cell_id == r.cell_id);
  BOOST_TEST(s.label == r.label);
  BOOST_TEST(s.grid == "table2");
  BOOST_TEST(s.model == "auxformer");
  BOOST_TEST(s.corpus == "synth-small");
  BOOST_TEST(s.procedure == "optimized");
  BOOST_TEST(s.seed == 3);
  BOOST_TEST(s.n_params == 123456789012);
  BOOST_TEST(s.epoch_seconds == (std::vector<double>{3.5, 3.25, 3.0}));
  BOOST_TEST((s.provenance == r.provenance));
  BOOST_TEST(s.f1.size() == r.evals.size());
  for (const auto& e : r.evals) {
    BOOST_TEST(s.f1.at(e.condition).first == e.micro_f1);
    BOOST_TEST(s.f1.at(e.condition).second == e.macro_f1);
  }
  BOOST_TEST(s.config.at("model.pos_encoding") == "false");
  BOOST_TEST(s.config.at("model.padding_mask") == "true");
  BOOST_TEST(s.config.at("model.width") == "64");
  BOOST_TEST(s.config.at("train.lr") == "0.001");
  BOOST_TEST(s.config.at("train.procedure") == "optimized");
  BOOST_TEST(s.config.at("corpus") == "synth-small");
  BOOST_TEST(s.config.size() == r.config.values().size() + 3);  // + model, corpus, procedure
}

BOOST_AUTO_TEST_CASE(states) {
  TempDir tmp;
  const std::string dir = tmp.dir.string();
  const CellResult r = make_result();
  const auto path = result_path(dir, r.cell_id);
  write_result(path, r);
  const auto good = path + ".good";
  fs::copy_file(path, good);
  const auto restore = [&] {
    fs::remove(path);
    fs::copy_file(good, path);
  };
  std::string why = "stale";
  BOOST_TEST((result_state(dir, r.cell_id, &why) == ResultState::complete));
  BOOST_TEST(why.empty());

  BOOST_TEST((result_state(dir, "absent", &why) == ResultState::missing));
  BOOST_TEST((result_state(dir, "absent") == ResultState::missing));

  fs::resize_file(path, fs::file_size(good) / 2);
  BOOST_TEST((result_state(dir, r.cell_id, &why) == ResultState::incomplete));
  BOOST_TEST(!why.empty());
  expect_error([&] { read_result(path); }, {path});

  restore();
  set_int_attribute(path, "/", "complete", 0);
  BOOST_TEST((result_state(dir, r.cell_id, &why) == ResultState::incomplete));
  BOOST_TEST(why.find("'complete' is 0") != std::string::npos, why);
  expect_error([&] { read_result(path); }, {path, "'complete' is 0"});
  expect_error([&] { read_result_summary(path); }, {path, "'complete' is 0"});

  restore();
  set_int_attribute(path, "/", "schema_version", kResultSchemaVersion + 1);
  BOOST_TEST((result_state(dir, r.cell_id, &why) == ResultState::incomplete));
  BOOST_TEST(why.find("schema_version") != std::string::npos, why);
  expect_error([&] { read_result(path); }, {path, "schema_version"});

  fs::remove(path);
  std::ofstream(path) << "not a result";
  BOOST_TEST((result_state(dir, r.cell_id, &why) == ResultState::incomplete));
  BOOST_TEST(why == "not an HDF5 file");
}

// A verified file is read in full once per version: a change to it, even
// one that keeps its size, makes it verified again.
BOOST_AUTO_TEST_CASE(each_version_of_a_result_is_verified_in_full) {
  TempDir tmp;
  const std::string dir = tmp.dir.string();
  const CellResult r = make_result();
  write_result(result_path(dir, r.cell_id), r);
  BOOST_TEST((result_state(dir, r.cell_id) == ResultState::complete));
  BOOST_TEST(!fs::exists(verified_path(dir)));  // too fresh to be listed
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  BOOST_TEST((result_state(dir, r.cell_id) == ResultState::complete));
  BOOST_TEST_REQUIRE(fs::exists(verified_path(dir)));
  {
    H5::H5File f(result_path(dir, r.cell_id), H5F_ACC_RDWR);
    const std::int32_t wrong[2] = {1, 1};  // as many as the dataset holds
    f.openDataSet("/eval/ideal/predictions").write(wrong, H5::PredType::NATIVE_INT32);
  }
  std::string why;
  BOOST_TEST((result_state(dir, r.cell_id, &why) == ResultState::incomplete));
  BOOST_TEST(why.find("does not match its checksum") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(invalid_result_is_not_written) {
  TempDir tmp;
  const auto path = tmp / "cells/bad.h5";
  CellResult r = make_result();
  r.evals[1].confusion.pop_back();
  expect_error([&] { write_result(path, r); }, {path, "/eval/audio_only/confusion", "expected 3x3"});
  r = make_result();
  r.evals[1].condition = "ideal";
  expect_error([&] { write_result(path, r); }, {path, "'ideal' appears twice"});
  r = make_result();
  r.evals[0].micro_f1 = 0.125;
  expect_error([&] { write_result(path, r); }, {path, "/eval/ideal: micro_f1 0.125", "not those of its confusion"});
  r = make_result();
  r.evals[0].confusion[0] = 2;
  expect_error([&] { write_result(path, r); }, {path, "/eval/ideal/confusion does not tally"});
  r = make_result();
  r.evals[0].predictions[1] = 3;
  expect_error([&] { write_result(path, r); }, {path, "'u5' has label 2 and prediction 3, outside [0, 3)"});
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(scan_skips_bad_files) {
  TempDir tmp;
  const std::string dir = tmp.dir.string();
  BOOST_TEST(scan_results(dir, nullptr).empty());  // no cells/ yet

  const CellResult a = make_result(1), b = make_result(2);
  write_result(result_path(dir, a.cell_id), a);
  write_result(result_path(dir, b.cell_id), b);
  const auto unfinished = result_path(dir, make_result(3).cell_id);
  write_result(unfinished, make_result(3));
  set_int_attribute(unfinished, "/", "complete", 0);
  const auto truncated = result_path(dir, make_result(4).cell_id);
  fs::copy_file(result_path(dir, a.cell_id), truncated);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  std::ofstream(result_path(dir, "e") + ".tmp.4242") << "a writer at work";
  std::ofstream(tmp / "cells/notes.txt") << "not a result";

  std::vector<std::string> problems;
  auto found = scan_results(dir, &problems);
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.seed < y.seed; });
  BOOST_TEST_REQUIRE(found.size() == 2u);
  BOOST_TEST(found[0].cell_id == a.cell_id);
  BOOST_TEST(found[1].cell_id == b.cell_id);
  BOOST_TEST(found[1].f1.at("ideal").first == 0.5);
  BOOST_TEST(found[1].f1.at("audio_only").second == 1.0);
  BOOST_TEST_REQUIRE(problems.size() == 2u);
  std::sort(problems.begin(), problems.end(), [&](const auto& x, const auto&) { return x.rfind(unfinished, 0) == 0; });
  BOOST_TEST(problems[0].rfind(unfinished + ": ", 0) == 0, problems[0]);
  BOOST_TEST(problems[0].find("'complete' is 0") != std::string::npos, problems[0]);
  BOOST_TEST(problems[1].rfind(truncated + ": ", 0) == 0, problems[1]);
  BOOST_TEST(scan_results(dir, nullptr).size() == 2u);
}

// A result records the model revision it was trained with; one of another
// revision is never taken for a cell of this build (plan, run, status, the
// analysis), but the analysis reads it when asked for that revision.
BOOST_AUTO_TEST_CASE(a_result_of_another_model_revision_is_not_this_builds) {
  TempDir tmp;
  const std::string dir = tmp.dir.string();
  CellResult old = make_result(1);
  old.model_revision = 1;
  const auto path = result_path(dir, old.cell_id);
  write_result(path, old);
  BOOST_TEST(read_result(path).model_revision == 1);
  std::string why;
  BOOST_TEST((result_state(dir, old.cell_id, &why, &old.config) == ResultState::incomplete));
  BOOST_TEST(why.find("trained with model revision 1, but this build trains revision " +
                      std::to_string(kModelRevision)) != std::string::npos,
             why);
  BOOST_TEST(why.find("--model-revision 1") != std::string::npos, why);
  std::vector<std::string> problems;
  BOOST_TEST(scan_results(dir, &problems).empty());
  BOOST_TEST_REQUIRE(problems.size() == 1u);
  BOOST_TEST(problems[0].find("model revision 1") != std::string::npos, problems[0]);
  BOOST_TEST(scan_results(dir, nullptr, 1).size() == 1u);

  // This build's result, asked for as revision 1; and as its own.
  const CellResult mine = make_result(2);
  write_result(result_path(dir, mine.cell_id), mine);
  problems.clear();
  BOOST_TEST(scan_results(dir, &problems, 1).size() == 1u);
  BOOST_TEST_REQUIRE(problems.size() == 1u);
  BOOST_TEST(problems[0].find("not 1 as asked") != std::string::npos, problems[0]);
  BOOST_TEST(scan_results(dir, nullptr).size() == 1u);
}

// Issue 16, item 3: a result is trusted by what it proves, not by its name and
// its complete flag; result_state (plan, run, status) and scan_results (the
// analysis) decide alike.
BOOST_AUTO_TEST_CASE(a_result_proves_its_cell_and_its_integrity) {
  TempDir tmp;
  const std::string dir = tmp.dir.string();
  const CellResult mine = make_result(1), other = make_result(2);
  const auto path = result_path(dir, mine.cell_id);
  const auto rejected = [&](const std::string& what, const std::vector<std::string>& because,
                            const Config* expected = nullptr) {
    std::string why;
    BOOST_TEST((result_state(dir, mine.cell_id, &why, expected) == ResultState::incomplete), what);
    for (const auto& b : because) BOOST_TEST(why.find(b) != std::string::npos, what << ": " << why);
    if (expected) return;
    std::vector<std::string> problems;
    BOOST_TEST(scan_results(dir, &problems).empty(), what);
    BOOST_TEST_REQUIRE(problems.size() == 1u, what);
    BOOST_TEST(problems[0].rfind(path + ": ", 0) == 0, problems[0]);
  };
  const auto accepted = [&](const Config* expected = nullptr) {
    std::string why;
    BOOST_TEST((result_state(dir, mine.cell_id, &why, expected) == ResultState::complete), why);
    BOOST_TEST(scan_results(dir, nullptr).size() == 1u);
  };
  write_result(path, mine);
  accepted(&mine.config);

  // Another cell's result under this cell's name.
  fs::remove(path);
  write_result(result_path(dir, other.cell_id), other);
  fs::rename(result_path(dir, other.cell_id), path);
  rejected("foreign", {"it holds cell '" + other.cell_id + "'", "not cell '" + mine.cell_id + "'"});

  // Settings that are not the grid's, or that are not those of its id.
  CellResult relabelled = other;
  relabelled.cell_id = mine.cell_id;
  fs::remove(path);
  write_result(path, relabelled);
  rejected("settings vs grid", {"setting 'seed' is 2 in the file but 1 in the grid"}, &mine.config);
  rejected("settings vs id", {"its settings are those of cell '" + other.cell_id + "'"});

  // complete = 1 with a dataset gone.
  fs::remove(path);
  write_result(path, mine);
  H5::H5File(path, H5F_ACC_RDWR).unlink("/eval/audio_only/predictions");
  rejected("dataset deleted", {"checksum"});

  // A stored F1 changed in place: the checksum, and for schema 1 files
  // (written without one) the confusion, give it away.
  fs::remove(path);
  write_result(path, mine);
  {
    H5::H5File f(path, H5F_ACC_RDWR);
    const double f1 = 0.875;
    f.openGroup("eval/ideal").openAttribute("micro_f1").write(H5::PredType::NATIVE_DOUBLE, &f1);
  }
  rejected("micro_f1 changed", {"does not match its checksum"});
  set_int_attribute(path, "/", "schema_version", 1);
  rejected("micro_f1 changed, schema 1", {"micro_f1 0.875", "not those of its confusion"});
  fs::remove(path);
  write_result(path, mine);
  set_int_attribute(path, "/", "schema_version", 1);
  accepted(&mine.config);  // schema 1 files are still read

  // 2 KiB of random bytes anywhere: rejected, or (where they hit no content,
  // e.g. free space) the result reads back exactly as written.
  fs::remove(path);
  write_result(path, mine);
  const auto original = path + ".original";
  fs::copy_file(path, original);
  std::mt19937 rng(16);
  const auto size = fs::file_size(original);
  int rejections = 0;
  for (std::uintmax_t offset = 0; offset < size; offset += 512) {
    fs::remove(path);
    fs::copy_file(original, path);
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(offset));
      for (int i = 0; i < 2048; ++i) f.put(static_cast<char>(rng()));
    }
    std::string why;
    if (result_state(dir, mine.cell_id, &why, &mine.config) == ResultState::incomplete) {
      ++rejections;
      continue;
    }
    BOOST_TEST_CONTEXT("random bytes at " << offset) check_same(read_result(path), mine);
  }
  BOOST_TEST(rejections > 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(manifest_round_trip_and_union) {
  TempDir tmp;
  const std::string dir = tmp / "res";
  BOOST_TEST(store::read_manifest(dir).empty());  // no manifest yet: nothing planned is known
  const store::ManifestCell a{"00000000000000aa",
                              "crema-d",
                              "auxformer seed=0",
                              {{"model.name", "auxformer"}, {"seed", "0"}, {"data.corpus", "corpora/a b.h5"}}};
  const store::ManifestCell b{"00000000000000bb", "msp-improv", "mult seed=1", {{"model.name", "mult"}, {"seed", "1"}}};
  store::add_to_manifest(dir, {a});
  store::add_to_manifest(dir, {b, a});  // a second grid into the same directory: a union by id
  const auto cells = store::read_manifest(dir);
  BOOST_REQUIRE(cells.size() == 2u);
  BOOST_TEST(cells[0].cell_id == a.cell_id);
  BOOST_TEST(cells[0].label == a.label);
  BOOST_TEST((cells[0].config == a.config));
  BOOST_TEST(cells[1].corpus == "msp-improv");
  BOOST_TEST(files_named(dir, ".tmp.").empty());

  store::ManifestCell tab = b;
  tab.cell_id = "00000000000000cc";
  tab.label = "has\ta tab";
  expect_error([&] { store::add_to_manifest(dir, {tab}); }, {"manifest.tsv", "00000000000000cc", "tab"});
  BOOST_TEST(store::read_manifest(dir).size() == 2u);  // the failed write left the manifest alone

  std::ofstream(store::manifest_path(dir), std::ios::app) << "not a manifest line\n";
  expect_error([&] { store::read_manifest(dir); }, {"manifest.tsv:3", "not a manifest line"});
}

BOOST_AUTO_TEST_CASE(the_results_directory_layout_has_one_owner) {
  BOOST_TEST(store::result_path("out", "c1") == "out/cells/c1.h5");
  BOOST_TEST(store::lock_path("out", "c1") == "out/locks/c1.lock");
  BOOST_TEST(store::checkpoint_path("out", "c1") == "out/checkpoints/c1.pt");
  BOOST_TEST(store::error_log_path("out", "c1") == "out/errors/c1.log");
  BOOST_TEST(store::manifest_path("out") == "out/manifest.tsv");
}

BOOST_AUTO_TEST_CASE(failure_records_are_read_back_as_written) {
  TempDir tmp;
  const auto dir = tmp.dir.string();
  BOOST_TEST(store::read_failures(dir, "c1").empty());
  store::record_failure(dir, "c1", 3, "auxformer seed=0", "cell 'x': loss is not finite\nin epoch 2");
  const auto second = store::record_failure(dir, "c1", 0, "auxformer seed=0", "out of memory");
  BOOST_TEST(second.attempt == 2);
  const auto records = store::read_failures(dir, "c1");
  BOOST_REQUIRE(records.size() == 2u);
  BOOST_TEST(records[0].rank == 3);
  BOOST_TEST(records[0].attempt == 1);
  BOOST_TEST(records[0].label == "auxformer seed=0");
  BOOST_TEST(records[0].message == "cell 'x': loss is not finite in epoch 2");  // one line
  BOOST_TEST(records[1].host == records[0].host);
  BOOST_TEST(records[1].message == "out of memory");
  BOOST_TEST(store::failed_attempts(dir, "c1") == 2);
  BOOST_TEST(store::cells_with_failures(dir) == std::vector<std::string>{"c1"});
}

BOOST_AUTO_TEST_CASE(a_lock_holds_its_cell_only_while_fresh_and_its_owner_lives) {
  TempDir tmp;
  const auto lock = tmp / "c1.lock";
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::none));
  std::ofstream(lock) << store::lock_owner_line();  // this process: alive
  auto s = store::lock_status(lock, 600);
  BOOST_TEST((s.state == store::LockState::running));
  BOOST_TEST(s.pid == static_cast<long>(::getpid()));
  BOOST_TEST(s.owner().find("pid " + std::to_string(::getpid())) != std::string::npos);
  BOOST_TEST((store::lock_status(lock, 0).state == store::LockState::stale));  // heartbeat older than the timeout
  // A process of this host that is gone holds nothing, however fresh the heartbeat:
  // claims take such a lock over, and `auxgrid status` does not count it as running.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  std::ofstream(lock) << fmt::format("{} {} -\n", s.host, child);
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::dead_owner));
}

// An array task's lock names it as people know it, <array job>_<task>: its
// own SLURM_JOB_ID is another number.
BOOST_AUTO_TEST_CASE(the_lock_owner_names_the_slurm_array_job_and_task) {
  struct Env {
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    void set(const char* name, const char* value) {
      const char* old = std::getenv(name);
      saved.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      value ? setenv(name, value, 1) : unsetenv(name);
    }
    ~Env() {
      for (auto it = saved.rbegin(); it != saved.rend(); ++it)
        it->second ? setenv(it->first.c_str(), it->second->c_str(), 1) : unsetenv(it->first.c_str());
    }
  } env;
  const auto job_of = [] {
    const auto line = store::lock_owner_line();
    return line.substr(line.rfind(' ') + 1);
  };
  env.set("SLURM_JOB_ID", "124");
  env.set("SLURM_ARRAY_JOB_ID", "123");
  env.set("SLURM_ARRAY_TASK_ID", "1");
  BOOST_TEST(job_of() == "123_1\n");
  env.set("SLURM_ARRAY_JOB_ID", nullptr);
  env.set("SLURM_ARRAY_TASK_ID", nullptr);
  BOOST_TEST(job_of() == "124\n");
  env.set("SLURM_JOB_ID", nullptr);
  BOOST_TEST(job_of() == "-\n");
}

// A lock that names no owner holds nothing (it is taken over), except an
// empty one young enough to be getting its owner line.
BOOST_AUTO_TEST_CASE(a_lock_without_an_owner_holds_nothing) {
  TempDir tmp;
  const auto lock = tmp / "c1.lock";
  const auto age = [&](const std::string& path, long seconds) {
    const timespec times[2] = {{time(nullptr) - seconds, 0}, {time(nullptr) - seconds, 0}};
    BOOST_REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  };
  std::ofstream(lock).close();  // empty, just created
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::running));
  age(lock, 60);
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::unreadable));
  std::ofstream(lock, std::ios::binary) << std::string("\x01\xff garbage\0 12", 14);
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::unreadable));
  std::ofstream(lock) << "host-only\n";
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::unreadable));
  std::ofstream(lock) << store::lock_owner_line() << "and more\n";
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::unreadable));
  std::filesystem::remove(lock);
  std::filesystem::create_directory(lock);
  BOOST_TEST((store::lock_status(lock, 600).state == store::LockState::unreadable));
  BOOST_TEST(store::lock_status(lock, 600).owner().find("unreadable") != std::string::npos);
}

// A lock appears whole or not at all, once.
BOOST_AUTO_TEST_CASE(a_lock_is_created_whole_and_once) {
  TempDir tmp;
  const auto lock = tmp / "c1.lock";
  BOOST_TEST(store::create_lock(lock));
  BOOST_TEST(bytes_of(lock) == store::lock_owner_line());
  BOOST_TEST(!store::create_lock(lock));
  BOOST_TEST(files_named(tmp.dir, ".tmp.").empty());
  {
    const FileSizeLimit limit(4);  // the owner line cannot be written
    expect_error([&] { store::create_lock(tmp / "c2.lock"); },
                 {"cannot write lock '" + tmp / "c2.lock" + "'", "File too large"});
  }
  BOOST_TEST(!std::filesystem::exists(tmp / "c2.lock"));
  BOOST_TEST(files_named(tmp.dir, ".tmp.").empty());
}

// Writes that fail (a full disk; here a file size limit) throw one error that
// names the path and the reason, and leave no file behind: not the result,
// not its temporary, not a partial error record.
BOOST_AUTO_TEST_CASE(a_failed_write_names_the_path_and_the_reason_and_leaves_nothing) {
  TempDir tmp;
  const auto dir = tmp.dir.string();
  const CellResult r = make_result();
  const auto path = result_path(dir, r.cell_id);
  {
    const FileSizeLimit limit(1024);
    expect_error([&] { write_result(path, r); }, {"cannot write result '" + path + "'", "File too large"});
    expect_error([&] { store::record_failure(dir, "c1", 0, "a cell", std::string(8192, 'x')); },
                 {"cannot append to the error record '" + store::error_log_path(dir, "c1") + "'", "File too large"});
    expect_error([&] { files::write_atomically(tmp / "big", std::string(8192, 'x'), "thing"); },
                 {"cannot write thing '" + tmp / "big" + "'", "File too large"});
  }
  BOOST_TEST(!std::filesystem::exists(path));
  BOOST_TEST(!std::filesystem::exists(tmp / "big"));
  BOOST_TEST(files_named(tmp.dir, ".tmp.").empty());
  BOOST_TEST(store::read_failures(dir, "c1").empty());
  write_result(path, r);  // space again
  BOOST_TEST((store::result_state(dir, r.cell_id) == store::ResultState::complete));
}
