#pragma once
// Shared by the Boost.Test suites that write files.
#include <boost/filesystem.hpp>
#include <fstream>
#include <iterator>
#include <string>

// A fresh directory per test case, removed afterwards.
struct TempDir {
  boost::filesystem::path dir =
      boost::filesystem::temp_directory_path() / boost::filesystem::unique_path("auxgrid-test-%%%%-%%%%-%%%%");
  TempDir() { boost::filesystem::create_directories(dir); }
  ~TempDir() {
    boost::system::error_code ec;
    boost::filesystem::remove_all(dir, ec);
  }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

inline std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
