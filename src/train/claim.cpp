#include "auxgrid/train/claim.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <boost/filesystem.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <fmt/format.h>

#include "auxgrid/core/check.hpp"

namespace auxgrid::train {

namespace {

std::string owner_line() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  const char* job = std::getenv("SLURM_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  return fmt::format("{} {} {}{}\n", host, getpid(), job ? job : "-", task ? fmt::format("_{}", task) : "");
}

// Seconds since the lock's last heartbeat; negative when it does not exist.
double age_seconds(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return std::difftime(std::time(nullptr), st.st_mtime);
}

// A lock of a process on this host that no longer exists is stale at once.
bool owner_is_dead(const std::string& path) {
  std::ifstream in(path);
  std::string host;
  long pid = 0;
  if (!(in >> host >> pid) || pid <= 0) return false;
  char here[256] = {};
  gethostname(here, sizeof(here) - 1);
  return host == here && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

bool create_exclusively(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    AUXGRID_CHECK(errno == EEXIST, "cannot create lock '{}': {}", path, std::strerror(errno));
    return false;
  }
  const auto owner = owner_line();
  const bool written = write(fd, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size());
  close(fd);
  AUXGRID_CHECK(written, "cannot write lock '{}'", path);
  return true;
}

}  // namespace

std::string lock_path(const std::string& out_dir, const std::string& cell_id) {
  return (boost::filesystem::path(out_dir) / "locks" / (cell_id + ".lock")).string();
}

std::unique_ptr<CellClaim> CellClaim::try_claim(const std::string& out_dir, const std::string& cell_id,
                                                double stale_after_seconds) {
  const auto path = lock_path(out_dir, cell_id);
  boost::filesystem::create_directories(boost::filesystem::path(path).parent_path());
  if (!create_exclusively(path)) {
    if (age_seconds(path) < stale_after_seconds && !owner_is_dead(path)) return nullptr;  // a live owner
    const auto stale = fmt::format("{}.stale.{}", path, getpid());
    if (std::rename(path.c_str(), stale.c_str()) != 0) return nullptr;  // another taker won
    // Another taker may have replaced the stale lock between our check and
    // our rename: then we moved a live lock, and put it back.
    if (age_seconds(stale) < stale_after_seconds && !owner_is_dead(stale)) {
      std::rename(stale.c_str(), path.c_str());
      return nullptr;
    }
    std::remove(stale.c_str());
    if (!create_exclusively(path)) return nullptr;
  }
  // A heartbeat every tenth of the timeout keeps the claim far from stale.
  return std::unique_ptr<CellClaim>(new CellClaim(path, std::max(1.0, stale_after_seconds / 10)));
}

CellClaim::CellClaim(std::string path, double heartbeat_seconds) : path_(std::move(path)) {
  heartbeat_ = std::thread([this, heartbeat_seconds] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_signal_.wait_for(lock, std::chrono::duration<double>(heartbeat_seconds), [this] { return stopping_; }))
      utime(path_.c_str(), nullptr);  // touch: mtime = now
  });
}

CellClaim::~CellClaim() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  heartbeat_.join();
  // Only our own lock: if we stalled past the timeout, the cell has a new owner.
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  if (line + "\n" == owner_line()) std::remove(path_.c_str());
}

std::string CellClaim::owner_of(const std::string& lock_path) {
  std::ifstream in(lock_path);
  std::string host, pid, job;
  in >> host >> pid >> job;
  return host.empty() ? "unknown" : fmt::format("host {} pid {} job {}", host, pid, job);
}

}  // namespace auxgrid::train
