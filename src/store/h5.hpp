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

// Writes `path` atomically: `fill` writes "<path>.tmp.<pid>", which is then
// flushed to disk and renamed; on any error the temporary file is removed.
void write_atomically(const std::string& path, const std::string& where,
                      const std::function<void(H5::H5File&)>& fill);
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
std::vector<std::string> read_attr_strings(const H5::H5Object& obj, const std::string& name,
                                           const std::string& where);
// int8 comes back as int64; the caller knows whether the setting is a bool.
Value read_attr_value(const H5::Attribute& attr, const std::string& where);
std::vector<std::string> attr_names(const H5::H5Object& obj);

// Datasets. 1-D ones are contiguous; matrices are chunked by `chunk_rows`
// rows with an unlimited first dimension so they can grow later.
void write_int32s(const H5::Group& g, const std::string& name, const std::vector<std::int32_t>& v);
void write_int64s(const H5::Group& g, const std::string& name, const std::vector<std::int64_t>& v);
void write_doubles(const H5::Group& g, const std::string& name, const std::vector<double>& v);
void write_strings(const H5::Group& g, const std::string& name, const std::vector<std::string>& v);
void write_matrix(const H5::Group& g, const std::string& name, const H5::PredType& type, const void* data,
                  hsize_t rows, hsize_t cols, hsize_t chunk_rows);

// Shape of a dataset; throws if it is missing or its class or rank differs.
std::vector<hsize_t> shape(const H5::Group& g, const std::string& name, H5T_class_t cls, int rank,
                           const std::string& where);

std::vector<std::int32_t> read_int32s(const H5::Group& g, const std::string& name, const std::string& where);
std::vector<std::int64_t> read_int64s(const H5::Group& g, const std::string& name, const std::string& where);
std::vector<double> read_doubles(const H5::Group& g, const std::string& name, const std::string& where);
std::vector<std::string> read_strings(const H5::Group& g, const std::string& name, const std::string& where);
// Reads a rank-2 dataset into `out` (row-major) and returns its shape.
std::vector<hsize_t> read_floats_2d(const H5::Group& g, const std::string& name, std::vector<float>& out,
                                    const std::string& where);
std::vector<hsize_t> read_int64s_2d(const H5::Group& g, const std::string& name,
                                    std::vector<std::int64_t>& out, const std::string& where);

}  // namespace auxgrid::store::h5
