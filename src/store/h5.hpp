#pragma once
// Private HDF5 helpers of the store library. Every helper takes `where` (e.g.
// "corpus 'x.h5'") and throws auxgrid::Error naming it and the object path, so
// the public functions only add a catch for what HDF5 itself throws.
#include <H5Cpp.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "auxgrid/core/config.hpp"

namespace auxgrid::store::h5 {

// Silences HDF5's error printing (the message goes into our exceptions
// instead). Idempotent; called by every entry point.
void init();

// "H5Fopen failed: truncated file: eof = ..." for an exception just caught.
std::string describe(const H5::Exception& e);
[[noreturn]] void fail(const H5::Exception& e, const std::string& where);

// A new HDF5 file written as "<path>.tmp.<pid>" (its directory created) and
// moved into place by commit(): closed, flushed to disk, renamed. Until then
// nothing appears at `path`; a failed commit() and a destruction without
// commit() (an error, an abandoned writer) remove the temporary file, and
// the destructor never throws.
class AtomicFile {
 public:
  AtomicFile(const std::string& path, const std::string& where);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  H5::H5File& file() { return file_; }
  void commit();

 private:
  std::string path_, where_, tmp_;
  H5::H5File file_;
  bool committed_ = false;
};

// Writes `path` atomically: `fill` writes the file in memory (HDF5's core
// driver), whose image then goes to disk through files::write_atomically
// (temporary file, fsync, rename). So HDF5 never meets a failing disk: a full
// disk is one error naming the path and the reason, and leaves nothing behind.
// For files that fit in memory (results); corpora stream through AtomicFile.
void write_atomically(const std::string& path, const std::string& where, const std::function<void(H5::H5File&)>& fill);
// Opens an existing file read-only; a clear error if it is absent or not HDF5.
H5::H5File open_read(const std::string& path, const std::string& where);

// "/audio/offsets" for child `name` of `parent`.
std::string path_of(const H5::H5Object& parent, const std::string& name);

H5::Group create_group(const H5::Group& parent, const std::string& name, bool track_order = false);
H5::Group open_group(const H5::Group& parent, const std::string& name, const std::string& where);
// Names of the child links, in creation order where the group tracks it.
std::vector<std::string> children(const H5::Group& group);

// Attributes. Integers are stored as the given width; readers accept any
// integer width, so files written by h5py (int64 everywhere) read back too.
void attr_int(const H5::H5Object& obj, const std::string& name, std::int64_t v, const H5::PredType& type);
void attr_double(const H5::H5Object& obj, const std::string& name, double v);
void attr_string(const H5::H5Object& obj, const std::string& name, const std::string& v);
void attr_strings(const H5::H5Object& obj, const std::string& name, const std::vector<std::string>& v);
// Typed config value: bool as int8 0/1, int64, float64, UTF-8 string.
void attr_value(const H5::H5Object& obj, const std::string& name, const Value& v);

std::int64_t read_attr_int(const H5::H5Object& obj, const std::string& name, const std::string& where);
double read_attr_double(const H5::H5Object& obj, const std::string& name, const std::string& where);
std::string read_attr_string(const H5::H5Object& obj, const std::string& name, const std::string& where);
std::vector<std::string> read_attr_strings(const H5::H5Object& obj, const std::string& name, const std::string& where);
// int8 comes back as int64; the caller knows whether the setting is a bool.
Value read_attr_value(const H5::Attribute& attr, const std::string& where);
std::vector<std::string> attr_names(const H5::H5Object& obj);

// Datasets. 1-D ones are contiguous; matrices are chunked by `chunk_rows`
// rows with an unlimited first dimension so they can grow later.
void write_int32s(const H5::Group& g, const std::string& name, const std::vector<std::int32_t>& v);
void write_int64s(const H5::Group& g, const std::string& name, const std::vector<std::int64_t>& v);
void write_doubles(const H5::Group& g, const std::string& name, const std::vector<double>& v);
void write_strings(const H5::Group& g, const std::string& name, const std::vector<std::string>& v);
void write_matrix(const H5::Group& g, const std::string& name, const H5::PredType& type, const void* data, hsize_t rows,
                  hsize_t cols, hsize_t chunk_rows);

// A matrix [rows, cols] of `type` (file and memory type alike: no conversion)
// grown by appending rows. Rows are buffered and written one whole chunk at a
// time, so memory stays at one chunk (at most 4 MiB) whatever the total.
class RowAppender {
 public:
  RowAppender(const H5::Group& g, const std::string& name, const H5::DataType& type, hsize_t cols, hsize_t chunk_rows);
  void append(const void* rows, hsize_t n);
  void close();  // writes the buffered rows (a last, partial chunk) and closes the dataset

 private:
  void write_buffer();
  H5::DataSet ds_;
  H5::DataType type_;
  hsize_t cols_, chunk_rows_, written_ = 0, buffered_ = 0;
  std::size_t row_bytes_;
  std::vector<char> buffer_;
};

// IEEE 754 half precision (sign bit 15, exponent bits 10-14 with bias 15,
// mantissa bits 0-9, little-endian): what numpy and h5py call float16.
H5::FloatType half_type();

// Opens a dataset and returns its shape in `dims`; throws if it is missing or
// its class or rank differs.
H5::DataSet open_dataset(const H5::Group& g, const std::string& name, H5T_class_t cls, int rank,
                         std::vector<hsize_t>& dims, const std::string& where);
// Shape of a dataset; throws as open_dataset does.
std::vector<hsize_t> shape(const H5::Group& g, const std::string& name, H5T_class_t cls, int rank,
                           const std::string& where);

std::vector<std::int32_t> read_int32s(const H5::Group& g, const std::string& name, const std::string& where);
std::vector<std::int64_t> read_int64s(const H5::Group& g, const std::string& name, const std::string& where);
std::vector<double> read_doubles(const H5::Group& g, const std::string& name, const std::string& where);
std::vector<std::string> read_strings(const H5::Group& g, const std::string& name, const std::string& where);
// Reads a rank-2 dataset into `out` (row-major) and returns its shape.
std::vector<hsize_t> read_floats_2d(const H5::Group& g, const std::string& name, std::vector<float>& out,
                                    const std::string& where);
// Rows [first, first + n) of a rank-2 dataset with `cols` columns, in memory type `mem`.
void read_rows(const H5::DataSet& ds, hsize_t first, hsize_t n, hsize_t cols, const H5::DataType& mem, void* out);
std::vector<hsize_t> read_int64s_2d(const H5::Group& g, const std::string& name, std::vector<std::int64_t>& out,
                                    const std::string& where);

// A 64-bit FNV-1a hash of the content under `group`: every attribute and
// dataset with its name, shape and values (integers as int64, floats as
// float64, strings as text), in name order at each level, so that it depends
// on what the file says, not on how HDF5 laid out its bytes. Attributes of
// `group` itself named in `skip` are left out.
std::uint64_t content_hash(const H5::Group& group, const std::vector<std::string>& skip, const std::string& where);

}  // namespace auxgrid::store::h5
