#include "auxgrid/store/results_dir.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/version.hpp"

namespace auxgrid::store {

namespace fs = std::filesystem;

namespace {
std::string in(const std::string& dir, const char* folder, const std::string& file) {
  return (fs::path(dir) / folder / file).string();
}
}  // namespace

std::string cells_dir(const std::string& dir) { return (fs::path(dir) / "cells").string(); }
std::string result_path(const std::string& dir, const std::string& id) { return in(dir, "cells", id + ".h5"); }
std::string manifest_path(const std::string& dir) { return (fs::path(dir) / "manifest.tsv").string(); }
std::string locks_dir(const std::string& dir) { return (fs::path(dir) / "locks").string(); }
std::string checkpoints_dir(const std::string& dir) { return (fs::path(dir) / "checkpoints").string(); }
std::string errors_dir(const std::string& dir) { return (fs::path(dir) / "errors").string(); }
std::string lock_path(const std::string& dir, const std::string& id) { return in(dir, "locks", id + ".lock"); }
std::string checkpoint_path(const std::string& dir, const std::string& id) {
  return in(dir, "checkpoints", id + ".pt");
}
std::string error_log_path(const std::string& dir, const std::string& id) { return in(dir, "errors", id + ".log"); }
std::string verified_path(const std::string& dir) { return (fs::path(dir) / "verified.tsv").string(); }

std::string set_aside(const std::string& path) {
  const auto aside = fmt::format("{}.rejected.{}", path, std::time(nullptr));
  AUXGRID_CHECK(std::rename(path.c_str(), aside.c_str()) == 0, "cannot move '{}' aside to '{}': {}", path, aside,
                std::strerror(errno));
  return aside;
}

// --- failure records ---------------------------------------------------------

namespace {

// The value of `key` in a record line, written as " key=value" or " key='value'".
std::string field(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return "";
  const auto start = at + key.size() + 2;
  if (start < line.size() && line[start] == '\'') {
    const auto end = line.find("': ", start + 1);
    return line.substr(start + 1, end == std::string::npos ? std::string::npos : end - start - 1);
  }
  return line.substr(start, line.find(' ', start) - start);
}

FailureRecord parse_failure(const std::string& line) {
  FailureRecord r;
  r.time_utc = line.substr(0, line.find(' '));
  r.host = field(line, "host");
  r.rank = std::atoi(field(line, "rank").c_str());
  r.attempt = std::atoi(field(line, "attempt").c_str());
  r.label = field(line, "cell");
  const auto message = line.find("': ");
  r.message = message == std::string::npos ? line : line.substr(message + 3);
  return r;
}

}  // namespace

FailureRecord record_failure(const std::string& dir, const std::string& cell_id, int rank, const std::string& label,
                             const std::string& message) {
  const auto path = error_log_path(dir, cell_id);
  FailureRecord r{utc_now(), host_name(), rank, failed_attempts(dir, cell_id) + 1, label, message};
  std::replace(r.message.begin(), r.message.end(), '\n', ' ');
  const auto line = fmt::format("{} host={} rank={} attempt={} cell='{}': {}\n", r.time_utc, r.host, r.rank, r.attempt,
                                r.label, r.message);
  const int fd = files::open_for_append(path, "the error record");
  struct stat before {};
  const bool sized = ::fstat(fd, &before) == 0;
  bool ok = files::write_fully(fd, line);
  int err = errno;
  if (!ok && sized) (void)!::ftruncate(fd, before.st_size);  // no partial record
  if (::close(fd) != 0 && ok) ok = false, err = errno;
  if (!ok && sized && before.st_size == 0) ::unlink(path.c_str());  // nor an empty log
  AUXGRID_CHECK(ok, "cannot append to the error record '{}': {}", path, std::strerror(err));
  return r;
}

std::vector<FailureRecord> read_failures(const std::string& dir, const std::string& cell_id) {
  const auto path = error_log_path(dir, cell_id);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};  // a link is no record (it is set aside)
  std::ifstream in(path);
  std::vector<FailureRecord> records;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) records.push_back(parse_failure(line));
  return records;
}

int failed_attempts(const std::string& dir, const std::string& cell_id) {
  return static_cast<int>(read_failures(dir, cell_id).size());
}

std::vector<std::string> cells_with_failures(const std::string& dir) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(dir) / "errors", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".log") ids.push_back(it->path().stem().string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

// --- locks ----------------------------------------------------------------------

std::string LockStatus::owner() const {
  if (state == LockState::unreadable) return "an unreadable lock (no owner in it)";
  return host.empty() ? "unknown" : fmt::format("host {} pid {} job {}", host, pid, job);
}

std::string LockStatus::skew_note(const std::string& lock_path) const {
  if (!clock_skew()) return "";
  const auto now = std::time(nullptr);
  const auto heartbeat = now - static_cast<std::time_t>(age_seconds);
  const auto utc = [](std::time_t t) {
    char text[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(text);
  };
  return fmt::format(
      "its heartbeat ({}) is {:.0f} s ahead of this host's clock ({}): a clock is skewed, the lock's age tells "
      "nothing. Fix the clock of host {} (or this one's); if no job of {} still trains the cell, remove {}",
      utc(heartbeat), -age_seconds, utc(now), host.empty() ? "?" : host, owner(), lock_path);
}

std::string lock_owner_line() {
  const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* job = std::getenv("SLURM_JOB_ID");
  // An array task's own SLURM_JOB_ID is a number of its own; people know it as <array job>_<task>.
  const auto name = array_job && task ? fmt::format("{}_{}", array_job, task) : job ? std::string(job) : "-";
  return fmt::format("{} {} {}\n", host_name(), getpid(), name);
}

bool create_lock(const std::string& lock_path) {
  int fd = -1;
  const auto tmp = files::create_temporary(lock_path, "lock", &fd);
  const auto owner = lock_owner_line();
  const bool written = files::write_fully(fd, owner);
  const int write_err = errno;
  if (::close(fd) != 0 || !written) {
    ::unlink(tmp.c_str());
    AUXGRID_FAIL("cannot write lock '{}': {}", lock_path, std::strerror(write_err));
  }
  // link() fails with EEXIST when a lock is there, as O_EXCL would, and the lock appears whole.
  const int linked = ::link(tmp.c_str(), lock_path.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return true;
  AUXGRID_CHECK(err == EEXIST, "cannot write lock '{}': {}", lock_path, std::strerror(err));
  return false;
}

namespace {

// "host pid job\n" with a printable host and job and a positive pid; false for anything else.
bool parse_owner(const std::string& lock_path, LockStatus& s) {
  std::ifstream in(lock_path, std::ios::binary);
  std::string text(256, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.empty() || text.back() != '\n' || text.find('\n') != text.size() - 1) return false;
  if (!std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= ' ' && c <= '~'; })) return false;
  std::istringstream line(text);
  std::string pid, extra;
  if (!(line >> s.host >> pid >> s.job) || (line >> extra)) return false;
  if (pid.empty() || pid.size() > 9 ||
      !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  s.pid = std::stol(pid);
  return s.pid > 0;
}

}  // namespace

LockStatus lock_status(const std::string& lock_path, double stale_after_seconds) {
  LockStatus s;
  struct stat st {};
  if (stat(lock_path.c_str(), &st) != 0) return s;
  s.age_seconds = std::difftime(std::time(nullptr), st.st_mtime);
  if (!S_ISREG(st.st_mode) || !parse_owner(lock_path, s)) {
    s.host.clear(), s.job.clear(), s.pid = 0;
    // Only an empty lock this young may still be getting its owner line (earlier versions wrote it second).
    const bool being_written = S_ISREG(st.st_mode) && st.st_size == 0 && s.age_seconds < kEmptyLockGraceSeconds;
    s.state = being_written ? LockState::running : LockState::unreadable;
    return s;
  }
  // A process of this host that no longer exists holds nothing, however fresh its heartbeat.
  const bool dead = s.pid > 0 && s.host == host_name() && kill(static_cast<pid_t>(s.pid), 0) != 0 && errno == ESRCH;
  s.state = dead ? LockState::dead_owner : s.age_seconds >= stale_after_seconds ? LockState::stale : LockState::running;
  return s;
}

}  // namespace auxgrid::store
