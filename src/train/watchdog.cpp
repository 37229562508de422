#include "auxgrid/train/watchdog.hpp"

namespace auxgrid::train {

Watchdog::Watchdog(double timeout_seconds, std::function<void(double)> on_stall)
    : last_beat_(Clock::now().time_since_epoch().count()) {
  thread_ = std::thread([this, timeout_seconds, on_stall = std::move(on_stall)] {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; })) {
      if (!watching_.load()) continue;
      const auto silent = Clock::now() - Clock::time_point(Clock::duration(last_beat_.load()));
      const double seconds = std::chrono::duration<double>(silent).count();
      if (seconds > timeout_seconds) {
        on_stall(seconds);
        return;
      }
    }
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  thread_.join();
}

void Watchdog::beat() { last_beat_.store(Clock::now().time_since_epoch().count()); }

void Watchdog::watch(bool on) {
  if (on) beat();
  watching_.store(on);
}

}  // namespace auxgrid::train
