#include "auxgrid/core/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "auxgrid/core/check.hpp"

namespace auxgrid::files {

namespace fs = std::filesystem;

namespace {

std::string random_hex() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    AUXGRID_CHECK(n > 0, "cannot draw random bytes for a temporary file name: {}", std::strerror(errno));
    got += static_cast<std::size_t>(n);
  }
  std::string out;
  for (const unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

void create_parent(const std::string& path, const std::string& what) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  AUXGRID_CHECK(!ec, "cannot write {} '{}': cannot create its directory: {}", what, path, ec.message());
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// A new file, exclusively and never through a link: -1 with errno when it cannot be.
int open_exclusive(const std::string& name) {
  return ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

}  // namespace

bool write_fully(int fd, const std::string& bytes) {
  const char* data = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data += n, left -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string create_temporary(const std::string& path, const std::string& what, int* fd_out) {
  create_parent(path, what);
  for (int attempt = 0;; ++attempt) {
    const auto tmp = fmt::format("{}.tmp.{}", path, random_hex());
    const int fd = open_exclusive(tmp);
    if (fd >= 0) {
      if (fd_out)
        *fd_out = fd;
      else
        ::close(fd);
      return tmp;
    }
    // EEXIST: a name taken (64 random bits: someone planted it); try another.
    AUXGRID_CHECK(errno == EEXIST && attempt < 8, "cannot write {} '{}': cannot create a temporary file beside it: {}",
                  what, path, std::strerror(errno));
  }
}

bool set_aside_link(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return false;
  std::error_code ec;
  const auto target = fs::read_symlink(path, ec);
  const auto aside = fmt::format("{}.link.{}", path, std::time(nullptr));
  AUXGRID_CHECK(std::rename(path.c_str(), aside.c_str()) == 0, "{} '{}' is a link, and it cannot be moved aside: {}",
                what, path, std::strerror(errno));
  spdlog::warn("{} '{}' was a link (to '{}'): auxgrid never writes through one; moved aside as '{}'", what, path,
               ec ? "?" : target.string(), aside);
  return true;
}

void commit(const std::string& tmp, const std::string& path, const std::string& what) {
  try {
    set_aside_link(path, what);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    AUXGRID_FAIL("cannot write {} '{}': cannot rename '{}' to it: {}", what, path, tmp, std::strerror(err));
  }
}

void write_atomically(const std::string& path, const std::string& bytes, const std::string& what) {
  int fd = -1;
  const auto tmp = create_temporary(path, what, &fd);
  // Synced: a crash must not persist the rename before the data.
  bool ok = write_fully(fd, bytes) && ::fsync(fd) == 0;
  int err = errno;
  if (::close(fd) != 0 && ok) ok = false, err = errno;  // NFS may report a failed write only here
  if (!ok) {
    ::unlink(tmp.c_str());
    AUXGRID_FAIL("cannot write {} '{}': {}; its previous contents, if any, are kept", what, path, std::strerror(err));
  }
  commit(tmp, path, what);
}

int open_for_append(const std::string& path, const std::string& what) {
  create_parent(path, what);
  for (int attempt = 0;; ++attempt) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    const int err = errno;
    if (err == ELOOP && attempt == 0 && set_aside_link(path, what)) continue;
    AUXGRID_FAIL("cannot append to {} '{}': {}", what, path, std::strerror(err));
  }
}

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  AUXGRID_CHECK(::stat(path.c_str(), &st) == 0, "cannot read {} '{}': {}", what, path, std::strerror(errno));
  AUXGRID_CHECK(S_ISREG(st.st_mode), "{} '{}' is {} (a regular file is needed)", what, path, kind_of(st.st_mode));
}

void probe_directory(const std::string& dir, const std::string& what) {
  // A directory not made yet is probed where it will be made: its nearest existing ancestor.
  fs::path at = dir.empty() ? fs::path(".") : fs::path(dir);
  std::error_code ec;
  while (!fs::exists(fs::symlink_status(at, ec)) && at.has_parent_path() && at.parent_path() != at)
    at = at.parent_path();
  if (!fs::exists(at, ec)) at = ".";
  AUXGRID_CHECK(fs::is_directory(at, ec), "{} '{}' cannot be written: '{}' is not a directory", what, dir,
                at.string());
  const auto probe = (at / fmt::format(".probe.{}", random_hex())).string();
  // Created and removed, nothing written: a full disk is found where a write
  // fails (and recorded there), a directory that takes no file here.
  const int fd = open_exclusive(probe);
  AUXGRID_CHECK(fd >= 0, "{} '{}' cannot be written: {}", what, dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string shortened(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  return fmt::format("{}... ({} bytes in all)", text.substr(0, limit), text.size());
}

}  // namespace auxgrid::files
