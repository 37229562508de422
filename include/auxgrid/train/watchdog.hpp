#pragma once
// Aborts a launch that stopped making progress (a hung collective, a stalled
// peer, a dead file system) instead of holding its allocation until the time
// limit: training calls beat() at every step; when no beat came for the
// timeout, on_stall runs once (it records the cell's failure and aborts).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace auxgrid::train {

class Watchdog {
 public:
  Watchdog(double timeout_seconds, std::function<void(double silent_seconds)> on_stall);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void beat();

 private:
  using Clock = std::chrono::steady_clock;
  std::atomic<Clock::rep> last_beat_;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace auxgrid::train
