#include "auxgrid/train/claim.hpp"

#include <unistd.h>
#include <utime.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "auxgrid/core/check.hpp"
#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::train {

std::unique_ptr<CellClaim> CellClaim::try_claim(const std::string& out_dir, const std::string& cell_id,
                                                double stale_after_seconds) {
  const auto path = store::lock_path(out_dir, cell_id);
  std::filesystem::create_directories(store::locks_dir(out_dir));
  const auto held = [&](const std::string& lock) {
    return store::lock_status(lock, stale_after_seconds).state == store::LockState::running;
  };
  if (!store::create_lock(path)) {
    const auto before = store::lock_status(path, stale_after_seconds);
    if (before.state == store::LockState::running) return nullptr;  // a live owner
    const auto stale = fmt::format("{}.stale.{}", path, getpid());
    if (std::rename(path.c_str(), stale.c_str()) != 0) return nullptr;  // another taker won
    // Another taker may have replaced the stale lock between our check and
    // our rename: then we moved a live lock, and put it back.
    if (held(stale)) {
      std::rename(stale.c_str(), path.c_str());
      return nullptr;
    }
    std::error_code ignored;
    std::filesystem::remove_all(stale, ignored);  // a directory, too
    if (!store::create_lock(path)) return nullptr;
    spdlog::warn("cell {}: took over its lock {} from {}: {}", cell_id, path, before.owner(),
                 before.state == store::LockState::dead_owner ? "its process has ended"
                 : before.state == store::LockState::stale
                     ? fmt::format("its heartbeat stopped {:.0f} s ago (--stale-lock {:.0f} s)", before.age_seconds,
                                   stale_after_seconds)
                     : "it names no owner (garbage, a directory or an empty file)");
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
  if (line + "\n" == store::lock_owner_line()) std::remove(path_.c_str());
}

}  // namespace auxgrid::train
