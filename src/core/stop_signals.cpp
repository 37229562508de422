#include "auxgrid/core/stop_signals.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace auxgrid {

namespace {

std::atomic<int> received{0};  // lock-free, so the handler may store to it

void on_stop_signal(int signal) { received.store(signal); }

sigset_t stop_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void watch_stop_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGUSR1, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    const sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
      for (int signal = 0;;)
        if (sigwait(&set, &signal) == 0) {
          // A second Ctrl-C does not wait for the checkpoint: what a user pressing it again expects.
          if (signal == SIGINT && received.load() == SIGINT) {
            static const char message[] = "\nauxgrid: interrupted again; exiting now, without a checkpoint\n";
            [[maybe_unused]] const auto written = write(STDERR_FILENO, message, sizeof message - 1);
            _exit(130);
          }
          received.store(signal);
        }
    }).detach();
  });
}

int stop_signal_received() { return received.load(); }

}  // namespace auxgrid
