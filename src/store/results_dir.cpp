#include "auxgrid/store/results_dir.hpp"

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
  fs::create_directories(fs::path(path).parent_path());
  FailureRecord r{utc_now(), host_name(), rank, failed_attempts(dir, cell_id) + 1, label, message};
  std::replace(r.message.begin(), r.message.end(), '\n', ' ');
  std::ofstream out(path, std::ios::app);
  out << fmt::format("{} host={} rank={} attempt={} cell='{}': {}\n", r.time_utc, r.host, r.rank, r.attempt, r.label,
                     r.message);
  AUXGRID_CHECK(out.good(), "cannot append to the error record '{}': {}", path, std::strerror(errno));
  return r;
}

std::vector<FailureRecord> read_failures(const std::string& dir, const std::string& cell_id) {
  std::ifstream in(error_log_path(dir, cell_id));
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
  return host.empty() ? "unknown" : fmt::format("host {} pid {} job {}", host, pid, job);
}

std::string lock_owner_line() {
  const char* job = std::getenv("SLURM_JOB_ID");
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  return fmt::format("{} {} {}{}\n", host_name(), getpid(), job ? job : "-", task ? fmt::format("_{}", task) : "");
}

LockStatus lock_status(const std::string& lock_path, double stale_after_seconds) {
  LockStatus s;
  struct stat st {};
  if (stat(lock_path.c_str(), &st) != 0) return s;
  s.age_seconds = std::difftime(std::time(nullptr), st.st_mtime);
  std::ifstream(lock_path) >> s.host >> s.pid >> s.job;
  // A process of this host that no longer exists holds nothing, however fresh its heartbeat.
  const bool dead = s.pid > 0 && s.host == host_name() && kill(static_cast<pid_t>(s.pid), 0) != 0 && errno == ESRCH;
  s.state = dead ? LockState::dead_owner : s.age_seconds >= stale_after_seconds ? LockState::stale : LockState::running;
  return s;
}

}  // namespace auxgrid::store
