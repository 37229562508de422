#pragma once
// Shared by the suites that need corpus files no auxgrid writer would make
// (test_store, test_train): the raw HDF5 API writes whatever it is given,
// as a foreign tool (h5py, MATLAB) could.
#include <H5Cpp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "auxgrid/store/corpus_file.hpp"

// The format's first version, checking nothing: no video_dtype, float32
// features chunked by min(1024, rows) rows.
inline void write_version1(const std::string& path, const auxgrid::store::CorpusData& c) {
  H5::H5File f(path, H5F_ACC_TRUNC);
  H5::StrType text(H5::PredType::C_S1, H5T_VARIABLE);
  text.setCset(H5T_CSET_UTF8);
  const H5::DataSpace scalar(H5S_SCALAR);
  const auto int_attr = [&](const char* name, std::int64_t v, const H5::PredType& type) {
    f.createAttribute(name, type, scalar).write(H5::PredType::NATIVE_INT64, &v);
  };
  const auto strings = [&](const std::vector<std::string>& v) {
    std::vector<const char*> p;
    for (const auto& x : v) p.push_back(x.c_str());
    return p;
  };
  int_attr("format_version", 1, H5::PredType::NATIVE_INT32);
  f.createAttribute("name", text, scalar).write(text, c.info.name);
  int_attr("audio_dim", c.info.audio_dim, H5::PredType::NATIVE_INT64);
  int_attr("video_dim", c.info.video_dim, H5::PredType::NATIVE_INT64);
  f.createAttribute("audio_hop_ms", H5::PredType::NATIVE_DOUBLE, scalar)
      .write(H5::PredType::NATIVE_DOUBLE, &c.info.audio_hop_ms);
  f.createAttribute("video_fps", H5::PredType::NATIVE_DOUBLE, scalar)
      .write(H5::PredType::NATIVE_DOUBLE, &c.info.video_fps);
  int_attr("num_classes", static_cast<std::int64_t>(c.info.class_names.size()), H5::PredType::NATIVE_INT64);
  const hsize_t classes = c.info.class_names.size();
  f.createAttribute("class_names", text, H5::DataSpace(1, &classes)).write(text, strings(c.info.class_names).data());
  f.createAttribute("description", text, scalar).write(text, c.info.description);
  const auto matrix = [&](const H5::Group& g, const std::vector<float>& values, hsize_t rows, hsize_t cols) {
    const hsize_t dims[2] = {rows, cols}, max_dims[2] = {H5S_UNLIMITED, cols},
                  chunk[2] = {std::min<hsize_t>(rows, 1024), cols};
    H5::DSetCreatPropList dcpl;
    dcpl.setChunk(2, chunk);
    g.createDataSet("features", H5::PredType::NATIVE_FLOAT, H5::DataSpace(2, dims, max_dims), dcpl)
        .write(values.data(), H5::PredType::NATIVE_FLOAT);
  };
  const auto vector = [&](const H5::Group& g, const char* name, const H5::DataType& type, const void* data, hsize_t n) {
    g.createDataSet(name, type, H5::DataSpace(1, &n)).write(data, type);
  };
  const H5::Group audio = f.createGroup("audio"), video = f.createGroup("video"), utt = f.createGroup("utterances");
  matrix(audio, c.audio, c.info.audio_frames, c.info.audio_dim);
  vector(audio, "offsets", H5::PredType::NATIVE_INT64, c.audio_offsets.data(), c.audio_offsets.size());
  matrix(video, c.video, c.info.video_frames, c.info.video_dim);
  vector(video, "offsets", H5::PredType::NATIVE_INT64, c.video_offsets.data(), c.video_offsets.size());
  vector(utt, "id", text, strings(c.utterance_ids).data(), c.utterance_ids.size());
  vector(utt, "speaker", text, strings(c.speakers).data(), c.speakers.size());
  vector(utt, "label", H5::PredType::NATIVE_INT32, c.labels.data(), c.labels.size());
}
