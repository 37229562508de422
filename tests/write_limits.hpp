#pragma once
// Shared by the Boost.Test suites that check failing writes.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

// While alive, files of this process cannot grow past `bytes` (RLIMIT_FSIZE):
// a write beyond fails with EFBIG ("File too large"), as a full disk fails one
// with ENOSPC, without root or a mount. SIGXFSZ is ignored meanwhile.
struct FileSizeLimit {
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit limit = saved;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous_handler);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved{};
  void (*previous_handler)(int) = SIG_DFL;
};

// The names in `dir` (recursively) that contain `fragment`.
inline std::vector<std::string> files_named(const std::filesystem::path& dir, const std::string& fragment) {
  std::vector<std::string> found;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find(fragment) != std::string::npos) found.push_back(it->path().string());
  return found;
}
