#pragma once
// A claim on one cell: its lock file (store/results_dir.hpp), created
// atomically and whole (store::create_lock) with its owner inside and kept fresh by a heartbeat (the
// file's mtime). A lock that no longer holds its cell (store::lock_status: a
// stale heartbeat, or an owner process of this host that is gone) is taken
// over; two takers cannot both win, because the stale file is first renamed
// away, and only one rename of it succeeds.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace auxgrid::train {

class CellClaim {
 public:
  // Tries to claim; nullptr when another live owner holds the cell. Throws
  // naming the lock and the reason when the lock cannot be written.
  static std::unique_ptr<CellClaim> try_claim(const std::string& out_dir, const std::string& cell_id,
                                              double stale_after_seconds);
  ~CellClaim();  // stops the heartbeat and removes the lock file
  CellClaim(const CellClaim&) = delete;
  CellClaim& operator=(const CellClaim&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit CellClaim(std::string path, double heartbeat_seconds);
  std::string path_;
  std::mutex mutex_;
  std::condition_variable stop_signal_;
  bool stopping_ = false;
  std::thread heartbeat_;
};

}  // namespace auxgrid::train
