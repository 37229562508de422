#pragma once
// Streaming corpus writer: a corpus file (layout in corpus_file.hpp) built one
// utterance at a time, so corpora far larger than memory can be written.
// Features go to the file a chunk (at most 4 MiB per modality) at a time; only
// the per-utterance ids, speakers, labels and offsets are kept until finish().
//
//   store::CorpusWriter w(path, info);   // info: name, dims, rates, classes, video_dtype
//   for (...) w.append(id, speaker, label, audio, audio_frames, video, video_frames);
//   w.finish();                          // now, and only now, `path` exists
//
// The guarantees of an atomic write: the data goes to "<path>.tmp.<pid>",
// which finish() syncs to disk and renames; a writer destroyed without
// finish() (an error, an exception, an abandoned run) removes it, leaving
// nothing at `path`. The bytes depend only on the utterances appended, not on
// timestamps or on how the rows were split between calls.
#include <cstdint>
#include <memory>
#include <string>

#include "auxgrid/store/corpus_file.hpp"

namespace auxgrid::store {

class CorpusWriter {
 public:
  // Uses info's name, description, dims, rates, class_names and video_dtype;
  // its path, counts and totals are ignored (they come from the appends).
  CorpusWriter(const std::string& path, const CorpusInfo& info);
  ~CorpusWriter();
  CorpusWriter(const CorpusWriter&) = delete;
  CorpusWriter& operator=(const CorpusWriter&) = delete;

  // `audio` holds audio_frames x audio_dim values, `video` video_frames x
  // video_dim, row-major. Throws (writing nothing) on a duplicate id, a label
  // outside the classes or a negative frame count.
  void append(const std::string& id, const std::string& speaker, std::int32_t label, const float* audio,
              std::int64_t audio_frames, const float* video, std::int64_t video_frames);
  std::int64_t utterances() const;

  // Writes the offsets and per-utterance datasets, then moves the file into
  // place. Returns the file's info (as read_corpus_info would). No append or
  // finish may follow; neither may after an append or finish that threw.
  CorpusInfo finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace auxgrid::store
