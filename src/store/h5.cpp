#include "h5.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "auxgrid/core/files.hpp"
#include "auxgrid/core/check.hpp"
#include "auxgrid/core/hash.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::store::h5 {

namespace fs = std::filesystem;

namespace {

// The most specific message of the last failed HDF5 call. The C++ API's own
// messages ("H5Fopen failed") do not say why; the C error stack does
// ("truncated file: eof = ..."), but it is cleared by the next call, which may
// be a destructor running before our catch, so it is captured when it happens.
std::string last_error;

herr_t keep_innermost(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err->desc) *static_cast<std::string*>(out) = err->desc;
  return 0;
}

herr_t capture_error(hid_t stack, void*) {
  last_error.clear();
  H5Ewalk2(stack, H5E_WALK_UPWARD, keep_innermost, &last_error);
  return 0;
}

// Object headers then carry no modification time, so equal data gives equal bytes.
void no_times(hid_t plist) {
  if (H5Pset_obj_track_times(plist, false) < 0)
    throw H5::PropListIException("no_times", "H5Pset_obj_track_times failed");
}

H5::StrType utf8_type() {
  H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
  t.setCset(H5T_CSET_UTF8);
  return t;
}

std::string attr_label(const H5::H5Object& obj, const std::string& name) {
  const std::string owner = obj.getObjName();
  return owner == "/" ? fmt::format("attribute '{}'", name) : fmt::format("attribute '{}' of {}", name, owner);
}

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    default: return "other";
  }
}

// Reads `n` strings of file type `type` (variable or fixed length) through
// `read(memory_type, buffer)`, which wraps H5Aread or H5Dread.
template <class Read>
std::vector<std::string> read_string_array(const H5::DataType& type, std::size_t n, Read read) {
  std::vector<std::string> out;
  if (n == 0) return out;
  out.reserve(n);
  const H5::StrType file_type(type.getId());
  if (file_type.isVariableStr()) {
    H5::StrType mem(H5::PredType::C_S1, H5T_VARIABLE);
    mem.setCset(file_type.getCset());
    std::vector<char*> ptrs(n, nullptr);
    read(mem, ptrs.data());
    for (char* p : ptrs) {
      out.emplace_back(p ? p : "");
      H5free_memory(p);
    }
  } else {
    const std::size_t size = file_type.getSize();
    std::vector<char> buf(n * size);
    read(file_type, buf.data());
    for (std::size_t i = 0; i < n; ++i) {
      const char* s = buf.data() + i * size;
      out.emplace_back(s, strnlen(s, size));
    }
  }
  return out;
}

H5::Attribute open_attr(const H5::H5Object& obj, const std::string& name, const std::string& where) {
  AUXGRID_CHECK(obj.attrExists(name), "{}: {} is missing", where, attr_label(obj, name));
  return obj.openAttribute(name);
}

// Opens a scalar attribute of one of `classes` and passes it to `read`; HDF5
// errors are reported with the attribute's name.
template <class Read>
auto read_scalar(const H5::H5Object& obj, const std::string& name, std::initializer_list<H5T_class_t> classes,
                 const std::string& where, Read read) {
  const H5::Attribute attr = open_attr(obj, name, where);
  try {
    const H5T_class_t c = attr.getTypeClass();
    AUXGRID_CHECK(std::find(classes.begin(), classes.end(), c) != classes.end(), "{}: {} is {}, expected {}", where,
                  attr_label(obj, name), class_name(c), class_name(*classes.begin()));
    AUXGRID_CHECK(attr.getSpace().getSimpleExtentNpoints() == 1, "{}: {} is not a single value", where,
                  attr_label(obj, name));
    return read(attr);
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: {}: {}", where, attr_label(obj, name), describe(e));
  }
}

// Rows per chunk: as asked, but at most 4 MiB per chunk.
hsize_t chunk_rows_for(hsize_t asked, hsize_t cols, const H5::DataType& type) {
  const hsize_t cap = std::max<hsize_t>(1, (hsize_t{4} << 20) / (cols * type.getSize()));
  return std::max<hsize_t>(1, std::min(asked, cap));
}

void write_1d(const H5::Group& g, const std::string& name, const H5::DataType& type, const void* data, hsize_t n) {
  H5::DSetCreatPropList dcpl;
  no_times(dcpl.getId());
  const H5::DataSet ds = g.createDataSet(name, type, H5::DataSpace(1, &n), dcpl);
  if (n > 0) ds.write(data, type);
}

template <class T>
std::vector<hsize_t> read_numbers(const H5::Group& g, const std::string& name, H5T_class_t cls, int rank,
                                  const H5::PredType& mem, std::vector<T>& out, const std::string& where) {
  std::vector<hsize_t> dims;
  const H5::DataSet ds = open_dataset(g, name, cls, rank, dims, where);
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  out.resize(n);
  try {
    if (n > 0) ds.read(out.data(), mem);  // HDF5 converts from the stored width
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: dataset {}: {}", where, path_of(g, name), describe(e));
  }
  return dims;
}

}  // namespace

H5::DataSet open_dataset(const H5::Group& g, const std::string& name, H5T_class_t cls, int rank,
                         std::vector<hsize_t>& dims, const std::string& where) {
  const std::string path = path_of(g, name);
  AUXGRID_CHECK(g.nameExists(name) && g.childObjType(name) == H5O_TYPE_DATASET, "{}: dataset {} is missing", where,
                path);
  try {
    H5::DataSet ds = g.openDataSet(name);
    const H5T_class_t c = ds.getTypeClass();
    AUXGRID_CHECK(c == cls, "{}: dataset {} holds {} values, expected {}", where, path, class_name(c), class_name(cls));
    const H5::DataSpace space = ds.getSpace();
    const int r = space.getSimpleExtentNdims();
    AUXGRID_CHECK(r == rank, "{}: dataset {} has {} dimensions, expected {}", where, path, r, rank);
    dims.assign(rank, 0);
    space.getSimpleExtentDims(dims.data());
    return ds;
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: dataset {}: {}", where, path, describe(e));
  }
}

void init() {
  // Replaces HDF5's printing handler (what H5::Exception::dontPrint() would
  // switch off) with one that prints nothing and keeps the reason.
  static const bool done = H5Eset_auto2(H5E_DEFAULT, capture_error, nullptr) >= 0;
  (void)done;
}

// What HDF5's innermost reason means for a user, in words; empty when it is
// none of the damaged-file kinds (then its own words are the best there are).
std::string plain_words(const std::string& reason) {
  static const char* const damaged[] = {"truncated file",      "bad symbol table", "bad object header",
                                        "file signature not found", "bad heap",         "wrong B-tree signature",
                                        "incorrect metadata checksum", "bad local heap", "not a valid"};
  for (const char* fragment : damaged)
    if (reason.find(fragment) != std::string::npos)
      return "the file is truncated or damaged (an interrupted copy or write, a full disk, or not an HDF5 file); "
             "write it again or restore it";
  if (reason.find("No space left") != std::string::npos) return "no space left on device";
  return "";
}

std::string describe(const H5::Exception& e) {
  const std::string reason = last_error.empty() ? e.getDetailMsg() : last_error;
  last_error.clear();
  const auto words = plain_words(reason);
  // The library's own words stay in parentheses, for whoever debugs it.
  return words.empty() ? fmt::format("{} ({})", reason, e.getDetailMsg()) : fmt::format("{} (HDF5: {})", words, reason);
}

void fail(const H5::Exception& e, const std::string& where) { AUXGRID_FAIL("{}: {}", where, describe(e)); }

namespace {

// A new temporary file for `path` (files::create_temporary: an unguessable
// name, never a link), which HDF5 then truncates and fills.
std::string temporary_for(const std::string& path, const std::string& where) {
  init();
  return files::create_temporary(path, where);
}

H5::H5File create_file(const std::string& tmp, const std::string& where) {
  try {
    return H5::H5File(tmp, H5F_ACC_TRUNC);  // the root group stores no times
  } catch (const H5::Exception& e) {
    std::remove(tmp.c_str());
    fail(e, where);
  }
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path, const std::string& where)
    : path_(path), where_(where), tmp_(temporary_for(path, where)), file_(create_file(tmp_, where)) {}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  try {
    file_.close();
  } catch (...) {  // the file is being discarded; its removal is what matters
  }
  std::remove(tmp_.c_str());
}

void AtomicFile::commit() {
  try {
    file_.close();
  } catch (const H5::Exception& e) {
    const auto why = describe(e);
    std::remove(tmp_.c_str());
    AUXGRID_FAIL("{}: cannot write '{}': {} ({})", where_, tmp_, why, std::strerror(errno));
  }
  // Without the fsync a crash could persist the rename before the data.
  const int fd = ::open(tmp_.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!synced) std::remove(tmp_.c_str());
  AUXGRID_CHECK(synced, "{}: cannot sync '{}': {}", where_, tmp_, std::strerror(err));
  committed_ = true;  // commit removes the temporary file if it fails
  files::commit(tmp_, path_, where_);
}

void write_atomically(const std::string& path, const std::string& where, const std::function<void(H5::H5File&)>& fill) {
  init();
  std::string image;
  try {
    H5::FileAccPropList in_memory;
    in_memory.setCore(1 << 20, /*backing=*/false);
    // The name only identifies the file among this process's open ones.
    H5::H5File file(fmt::format("{}.in-memory.{}", path, ::getpid()), H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT,
                    in_memory);
    fill(file);
    file.flush(H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
    if (size < 0) throw H5::FileIException("write_atomically", "H5Fget_file_image failed");
    image.resize(static_cast<std::size_t>(size));
    if (H5Fget_file_image(file.getId(), image.data(), image.size()) != size)
      throw H5::FileIException("write_atomically", "H5Fget_file_image failed");
    file.close();
  } catch (const H5::Exception& e) {
    fail(e, where);
  }
  files::write_atomically(path, image, "result");
}

H5::H5File open_read(const std::string& path, const std::string& where) {
  init();
  std::error_code ec;
  AUXGRID_CHECK(fs::exists(path, ec), "{}: no such file", where);
  AUXGRID_CHECK(fs::is_regular_file(path, ec), "{}: not a regular file", where);
  try {
    AUXGRID_CHECK(H5::H5File::isHdf5(path), "{}: not an HDF5 file", where);
    return H5::H5File(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    fail(e, where);
  }
}

std::string path_of(const H5::H5Object& parent, const std::string& name) {
  const std::string p = parent.getObjName();
  return p == "/" ? "/" + name : p + "/" + name;
}

H5::Group create_group(const H5::Group& parent, const std::string& name, bool track_order) {
  // The C++ API has no group creation property list; use the C one.
  struct Plist {
    hid_t id;
    ~Plist() {
      if (id >= 0) H5Pclose(id);
    }
  } plist{H5Pcreate(H5P_GROUP_CREATE)};
  const hid_t gcpl = plist.id;
  if (gcpl < 0) throw H5::GroupIException("create_group", "H5Pcreate failed");
  no_times(gcpl);
  if (track_order && H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0)
    throw H5::GroupIException("create_group", "H5Pset_link_creation_order failed");
  const hid_t id = H5Gcreate2(parent.getId(), name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT);
  if (id < 0) throw H5::GroupIException("create_group", "H5Gcreate2 failed for " + path_of(parent, name));
  H5::Group group(id);
  H5Idec_ref(id);  // Group(hid_t) took its own reference
  return group;
}

H5::Group open_group(const H5::Group& parent, const std::string& name, const std::string& where) {
  const std::string path = path_of(parent, name);
  AUXGRID_CHECK(parent.nameExists(name) && parent.childObjType(name) == H5O_TYPE_GROUP, "{}: group {} is missing",
                where, path);
  try {
    return parent.openGroup(name);
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: group {}: {}", where, path, describe(e));
  }
}

std::vector<std::string> children(const H5::Group& group) {
  const hid_t gcpl = H5Gget_create_plist(group.getId());
  if (gcpl < 0) throw H5::GroupIException("children", "H5Gget_create_plist failed");
  unsigned order = 0;
  const herr_t status = H5Pget_link_creation_order(gcpl, &order);
  H5Pclose(gcpl);
  if (status < 0) throw H5::GroupIException("children", "H5Pget_link_creation_order failed");
  // Files from other tools may not track creation order: then name order.
  const H5_index_t index = (order & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
  std::vector<std::string> names;
  auto add = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  if (H5Literate(group.getId(), index, H5_ITER_INC, nullptr, add, &names) < 0)
    throw H5::GroupIException("children", "H5Literate failed for " + group.getObjName());
  return names;
}

void attr_int(const H5::H5Object& obj, const std::string& name, std::int64_t v, const H5::PredType& type) {
  obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(H5::PredType::NATIVE_INT64, &v);
}

void attr_double(const H5::H5Object& obj, const std::string& name, double v) {
  obj.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR))
      .write(H5::PredType::NATIVE_DOUBLE, &v);
}

void attr_string(const H5::H5Object& obj, const std::string& name, const std::string& v) {
  const H5::StrType type = utf8_type();
  obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, v);
}

void attr_strings(const H5::H5Object& obj, const std::string& name, const std::vector<std::string>& v) {
  const H5::StrType type = utf8_type();
  const hsize_t n = v.size();
  const H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(1, &n));
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  if (n > 0) attr.write(type, ptrs.data());
}

void attr_value(const H5::H5Object& obj, const std::string& name, const Value& v) {
  switch (v.index()) {
    case 0: return attr_int(obj, name, std::get<bool>(v) ? 1 : 0, H5::PredType::NATIVE_INT8);
    case 1: return attr_int(obj, name, std::get<std::int64_t>(v), H5::PredType::NATIVE_INT64);
    case 2: return attr_double(obj, name, std::get<double>(v));
    default: return attr_string(obj, name, std::get<std::string>(v));
  }
}

std::int64_t read_attr_int(const H5::H5Object& obj, const std::string& name, const std::string& where) {
  return read_scalar(obj, name, {H5T_INTEGER}, where, [](const H5::Attribute& a) {
    std::int64_t v = 0;
    a.read(H5::PredType::NATIVE_INT64, &v);
    return v;
  });
}

double read_attr_double(const H5::H5Object& obj, const std::string& name, const std::string& where) {
  return read_scalar(obj, name, {H5T_FLOAT, H5T_INTEGER}, where, [](const H5::Attribute& a) {
    double v = 0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
  });
}

std::string read_attr_string(const H5::H5Object& obj, const std::string& name, const std::string& where) {
  return read_scalar(obj, name, {H5T_STRING}, where, [](const H5::Attribute& a) {
    return read_string_array(a.getDataType(), 1, [&](const H5::DataType& t, void* buf) { a.read(t, buf); })[0];
  });
}

std::vector<std::string> read_attr_strings(const H5::H5Object& obj, const std::string& name, const std::string& where) {
  const H5::Attribute attr = open_attr(obj, name, where);
  try {
    AUXGRID_CHECK(attr.getTypeClass() == H5T_STRING, "{}: {} is {}, expected string", where, attr_label(obj, name),
                  class_name(attr.getTypeClass()));
    const auto n = static_cast<std::size_t>(attr.getSpace().getSimpleExtentNpoints());
    return read_string_array(attr.getDataType(), n, [&](const H5::DataType& t, void* buf) { attr.read(t, buf); });
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: {}: {}", where, attr_label(obj, name), describe(e));
  }
}

Value read_attr_value(const H5::Attribute& attr, const std::string& where) {
  const std::string name = attr.getName();
  try {
    AUXGRID_CHECK(attr.getSpace().getSimpleExtentNpoints() == 1, "{}: attribute '{}' is not a single value", where,
                  name);
    switch (attr.getTypeClass()) {
      case H5T_INTEGER: {
        std::int64_t v = 0;
        attr.read(H5::PredType::NATIVE_INT64, &v);
        return v;
      }
      case H5T_FLOAT: {
        double v = 0;
        attr.read(H5::PredType::NATIVE_DOUBLE, &v);
        return v;
      }
      case H5T_STRING:
        return read_string_array(attr.getDataType(), 1,
                                 [&](const H5::DataType& t, void* buf) { attr.read(t, buf); })[0];
      default: AUXGRID_FAIL("{}: attribute '{}' is neither a number nor a string", where, name);
    }
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: attribute '{}': {}", where, name, describe(e));
  }
}

std::vector<std::string> attr_names(const H5::H5Object& obj) {
  std::vector<std::string> names;
  auto add = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  if (H5Aiterate2(obj.getId(), H5_INDEX_NAME, H5_ITER_INC, nullptr, add, &names) < 0)
    throw H5::AttributeIException("attr_names", "H5Aiterate2 failed for " + obj.getObjName());
  return names;
}

void write_int32s(const H5::Group& g, const std::string& name, const std::vector<std::int32_t>& v) {
  write_1d(g, name, H5::PredType::NATIVE_INT32, v.data(), v.size());
}

void write_int64s(const H5::Group& g, const std::string& name, const std::vector<std::int64_t>& v) {
  write_1d(g, name, H5::PredType::NATIVE_INT64, v.data(), v.size());
}

void write_doubles(const H5::Group& g, const std::string& name, const std::vector<double>& v) {
  write_1d(g, name, H5::PredType::NATIVE_DOUBLE, v.data(), v.size());
}

void write_strings(const H5::Group& g, const std::string& name, const std::vector<std::string>& v) {
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  write_1d(g, name, utf8_type(), ptrs.data(), ptrs.size());
}

void write_matrix(const H5::Group& g, const std::string& name, const H5::PredType& type, const void* data, hsize_t rows,
                  hsize_t cols, hsize_t chunk_rows) {
  H5::DSetCreatPropList dcpl;
  no_times(dcpl.getId());
  const hsize_t dims[2] = {rows, cols};
  hsize_t max_dims[2] = {rows, cols};
  if (chunk_rows > 0) {
    // No bigger than the data itself.
    const hsize_t chunk[2] = {std::max<hsize_t>(1, std::min(chunk_rows_for(chunk_rows, cols, type), rows)), cols};
    dcpl.setChunk(2, chunk);
    max_dims[0] = H5S_UNLIMITED;
  }
  const H5::DataSet ds = g.createDataSet(name, type, H5::DataSpace(2, dims, max_dims), dcpl);
  if (rows * cols > 0) ds.write(data, type);
}

RowAppender::RowAppender(const H5::Group& g, const std::string& name, const H5::DataType& type, hsize_t cols,
                         hsize_t chunk_rows)
    : type_(type), cols_(cols), chunk_rows_(chunk_rows_for(chunk_rows, cols, type)), row_bytes_(cols * type.getSize()) {
  H5::DSetCreatPropList dcpl;
  no_times(dcpl.getId());
  const hsize_t dims[2] = {0, cols}, max_dims[2] = {H5S_UNLIMITED, cols}, chunk[2] = {chunk_rows_, cols};
  dcpl.setChunk(2, chunk);
  ds_ = g.createDataSet(name, type, H5::DataSpace(2, dims, max_dims), dcpl);
  buffer_.resize(chunk_rows_ * row_bytes_);
}

void RowAppender::append(const void* rows, hsize_t n) {
  const char* in = static_cast<const char*>(rows);
  while (n > 0) {
    const hsize_t take = std::min(n, chunk_rows_ - buffered_);
    std::memcpy(buffer_.data() + buffered_ * row_bytes_, in, take * row_bytes_);
    buffered_ += take, in += take * row_bytes_, n -= take;
    if (buffered_ == chunk_rows_) write_buffer();
  }
}

void RowAppender::close() {
  if (buffered_ > 0) write_buffer();
  ds_.close();
}

// Whole chunks, aligned to chunk boundaries: HDF5 writes them straight
// through, and the bytes do not depend on how the rows were appended.
void RowAppender::write_buffer() {
  const hsize_t extent[2] = {written_ + buffered_, cols_};
  ds_.extend(extent);
  H5::DataSpace file_space = ds_.getSpace();
  const hsize_t start[2] = {written_, 0}, count[2] = {buffered_, cols_};
  file_space.selectHyperslab(H5S_SELECT_SET, count, start);
  const H5::DataSpace mem_space(2, count);
  ds_.write(buffer_.data(), type_, mem_space, file_space);
  written_ += buffered_;
  buffered_ = 0;
}

H5::FloatType half_type() {
  // Fields first: the size can only shrink once they fit in 16 bits.
  H5::FloatType t(H5::PredType::IEEE_F32LE);
  t.setFields(15, 10, 5, 0, 10);
  t.setSize(2);
  t.setEbias(15);
  return t;
}

std::vector<hsize_t> shape(const H5::Group& g, const std::string& name, H5T_class_t cls, int rank,
                           const std::string& where) {
  std::vector<hsize_t> dims;
  open_dataset(g, name, cls, rank, dims, where);
  return dims;
}

std::vector<std::int32_t> read_int32s(const H5::Group& g, const std::string& name, const std::string& where) {
  std::vector<std::int32_t> out;
  read_numbers(g, name, H5T_INTEGER, 1, H5::PredType::NATIVE_INT32, out, where);
  return out;
}

std::vector<std::int64_t> read_int64s(const H5::Group& g, const std::string& name, const std::string& where) {
  std::vector<std::int64_t> out;
  read_numbers(g, name, H5T_INTEGER, 1, H5::PredType::NATIVE_INT64, out, where);
  return out;
}

std::vector<double> read_doubles(const H5::Group& g, const std::string& name, const std::string& where) {
  std::vector<double> out;
  read_numbers(g, name, H5T_FLOAT, 1, H5::PredType::NATIVE_DOUBLE, out, where);
  return out;
}

std::vector<std::string> read_strings(const H5::Group& g, const std::string& name, const std::string& where) {
  std::vector<hsize_t> dims;
  const H5::DataSet ds = open_dataset(g, name, H5T_STRING, 1, dims, where);
  try {
    return read_string_array(ds.getDataType(), dims[0], [&](const H5::DataType& t, void* buf) { ds.read(buf, t); });
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: dataset {}: {}", where, path_of(g, name), describe(e));
  }
}

std::vector<hsize_t> read_floats_2d(const H5::Group& g, const std::string& name, std::vector<float>& out,
                                    const std::string& where) {
  return read_numbers(g, name, H5T_FLOAT, 2, H5::PredType::NATIVE_FLOAT, out, where);
}

void read_rows(const H5::DataSet& ds, hsize_t first, hsize_t n, hsize_t cols, const H5::DataType& mem, void* out) {
  if (n == 0) return;
  H5::DataSpace file_space = ds.getSpace();
  const hsize_t start[2] = {first, 0}, count[2] = {n, cols};
  file_space.selectHyperslab(H5S_SELECT_SET, count, start);
  ds.read(out, mem, H5::DataSpace(2, count), file_space);
}

std::vector<hsize_t> read_int64s_2d(const H5::Group& g, const std::string& name, std::vector<std::int64_t>& out,
                                    const std::string& where) {
  return read_numbers(g, name, H5T_INTEGER, 2, H5::PredType::NATIVE_INT64, out, where);
}

namespace {

struct ContentHasher {
  std::uint64_t h = kFnv1aOffsetBasis;
  void bytes(const void* data, std::size_t size) { h = fnv1a(data, size, h); }
  void count(std::uint64_t n) { bytes(&n, sizeof n); }
  void text(const std::string& s) {
    count(s.size());  // so that "ab","c" and "a","bc" differ
    bytes(s.data(), s.size());
  }

  // `n` values of file type `type`, read through `read(memory_type, buffer)`.
  template <class Read>
  void values(const H5::DataType& type, std::size_t n, Read read, const std::string& what) {
    count(n);
    const H5T_class_t cls = type.getClass();
    count(static_cast<std::uint64_t>(cls));
    if (n == 0) return;
    switch (cls) {
      case H5T_INTEGER: {
        std::vector<std::int64_t> v(n);
        read(H5::PredType::NATIVE_INT64, v.data());
        bytes(v.data(), n * sizeof(std::int64_t));
        break;
      }
      case H5T_FLOAT: {
        std::vector<double> v(n);
        read(H5::PredType::NATIVE_DOUBLE, v.data());
        bytes(v.data(), n * sizeof(double));
        break;
      }
      case H5T_STRING:
        for (const auto& s : read_string_array(type, n, read)) text(s);
        break;
      default: AUXGRID_FAIL("{} is of {} type, which the checksum does not cover", what, class_name(cls));
    }
  }

  void attributes(const H5::H5Object& obj, const std::vector<std::string>& skip, const std::string& where) {
    auto names = attr_names(obj);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
      text(name);
      const H5::Attribute a = obj.openAttribute(name);
      values(
          a.getDataType(), static_cast<std::size_t>(a.getSpace().getSimpleExtentNpoints()),
          [&](const H5::DataType& t, void* buf) { a.read(t, buf); }, where + ": " + attr_label(obj, name));
    }
  }

  void group(const H5::Group& g, const std::vector<std::string>& skip, const std::string& where) {
    attributes(g, skip, where);
    auto names = children(g);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      text(name);
      if (g.childObjType(name) == H5O_TYPE_GROUP) {
        group(g.openGroup(name), {}, where);
        continue;
      }
      const H5::DataSet ds = g.openDataSet(name);
      const H5::DataSpace space = ds.getSpace();
      std::vector<hsize_t> dims(static_cast<std::size_t>(space.getSimpleExtentNdims()));
      space.getSimpleExtentDims(dims.data());
      for (const hsize_t d : dims) count(d);
      values(
          ds.getDataType(), static_cast<std::size_t>(space.getSimpleExtentNpoints()),
          [&](const H5::DataType& t, void* buf) { ds.read(buf, t); },
          fmt::format("{}: dataset {}", where, path_of(g, name)));
      attributes(ds, {}, where);
    }
  }
};

}  // namespace

std::uint64_t content_hash(const H5::Group& group, const std::vector<std::string>& skip, const std::string& where) {
  ContentHasher hasher;
  try {
    hasher.group(group, skip, where);
  } catch (const H5::Exception& e) {
    fail(e, where);
  }
  return hasher.h;
}

}  // namespace auxgrid::store::h5
