#pragma once
// Aborts a launch that stopped making progress (a hung collective, a stalled
// peer, a dead file system) instead of holding its allocation until the time
// limit: training calls beat() at every step; when no beat came for the
// timeout, on_stall runs once (it records the cell's failure and aborts).
// It watches only while a cell trains (watch(true)): a rank that waits for
// the others, between cells or at the end of a launch, is not stalled.
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
  // Starts (with a beat) or stops watching.
  void watch(bool on);

 private:
  using Clock = std::chrono::steady_clock;
  std::atomic<Clock::rep> last_beat_;
  std::atomic<bool> watching_{false};
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace auxgrid::train
