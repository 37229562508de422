#pragma once
// An HDF5 file whose root holds one 2-D floating-point dataset per name (the
// importer's --video-h5: frames x features per clip): read through the store's
// HDF5 layer, so that no other library touches HDF5 itself.
#include <cstdint>
#include <memory>
#include <set>
#include <string>

namespace auxgrid::store {

class MatrixFile {
 public:
  // Throws, naming `where`, when the file cannot be opened or its root holds
  // anything but datasets, or none.
  MatrixFile(const std::string& path, const std::string& where);
  ~MatrixFile();
  MatrixFile(MatrixFile&&) noexcept;

  const std::set<std::string>& names() const { return names_; }
  // The shape (rows, columns) of dataset `name`; throws naming `where` unless
  // it is a 2-D floating-point dataset.
  std::pair<std::uint64_t, std::uint64_t> shape(const std::string& name, const std::string& where) const;
  // Reads it as float32 (float16 and float64 are converted) into `out`, which
  // holds rows x columns values.
  void read(const std::string& name, float* out, const std::string& where) const;

 private:
  struct File;
  std::unique_ptr<File> file_;
  std::set<std::string> names_;
};

}  // namespace auxgrid::store
