#include "auxgrid/store/matrix_file.hpp"

#include <filesystem>

#include "auxgrid/core/check.hpp"
#include "h5.hpp"

namespace auxgrid::store {

struct MatrixFile::File {
  H5::H5File h5;
};

MatrixFile::MatrixFile(const std::string& path, const std::string& where) {
  AUXGRID_CHECK(std::filesystem::is_regular_file(path), "{} does not exist", where);
  file_ = std::make_unique<File>(File{h5::open_read(path, where)});
  try {
    auto& f = file_->h5;
    for (hsize_t i = 0; i < f.getNumObjs(); ++i) {
      const std::string name = f.getObjnameByIdx(i);
      AUXGRID_CHECK(f.getObjTypeByIdx(i) == H5G_DATASET,
                    "{}: '/{}' is not a dataset; --video-h5 expects one 2-D dataset per clip at the root", where, name);
      names_.insert(name);
    }
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: {}", where, h5::describe(e));
  }
  AUXGRID_CHECK(!names_.empty(), "{} holds no datasets", where);
}

MatrixFile::~MatrixFile() = default;
MatrixFile::MatrixFile(MatrixFile&&) noexcept = default;

std::pair<std::uint64_t, std::uint64_t> MatrixFile::shape(const std::string& name, const std::string& where) const {
  try {
    const H5::DataSpace space = file_->h5.openDataSet(name).getSpace();
    AUXGRID_CHECK(space.getSimpleExtentNdims() == 2, "{}: dataset has rank {}, expected 2 (frames, D)", where,
                  space.getSimpleExtentNdims());
    AUXGRID_CHECK(file_->h5.openDataSet(name).getTypeClass() == H5T_FLOAT, "{}: dataset is not floating point", where);
    hsize_t dims[2];
    space.getSimpleExtentDims(dims);
    return {dims[0], dims[1]};
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: {}", where, h5::describe(e));
  }
}

void MatrixFile::read(const std::string& name, float* out, const std::string& where) const {
  try {
    file_->h5.openDataSet(name).read(out, H5::PredType::NATIVE_FLOAT);  // HDF5 converts float16/64
  } catch (const H5::Exception& e) {
    AUXGRID_FAIL("{}: {}", where, h5::describe(e));
  }
}

}  // namespace auxgrid::store
