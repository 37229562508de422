#include "plugin_probe.hpp"

#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>  // strerror, strsignal
#include <cstdlib>
#include <exception>

#include "auxgrid/core/check.hpp"

namespace auxgrid::models {

namespace {

// The child's report on the pipe: 'K' loaded, 'E' + dlerror(), 'T' + what a
// static initialiser threw. Nothing: it exited or died before reporting.
int report_fd = -1;

[[noreturn]] void report_and_exit(const std::string& report) {
  for (std::size_t done = 0; done < report.size();) {
    const auto n = write(report_fd, report.data() + done, report.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  _exit(0);  // no atexit handlers or static destructors of the parent's copy
}

std::string thrown(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return std::string("T") + x.what();
  } catch (...) {
    return "Tan exception that is not a std::exception";
  }
}

// An exception cannot unwind through the dynamic loader's frames: it ends in
// std::terminate, which reports it instead of aborting.
[[noreturn]] void on_terminate() {
  if (const auto e = std::current_exception()) report_and_exit(thrown(e));
  std::abort();
}

[[noreturn]] void probe_in_child(const std::string& path, int fd) {
  report_fd = fd;
  std::set_terminate(on_terminate);
  try {
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) report_and_exit("K");
    report_and_exit(std::string("E") + dlerror());
  } catch (...) {
    report_and_exit(thrown(std::current_exception()));
  }
}

// Reads the child's report until it closes the pipe or the deadline passes.
bool read_report(int fd, double timeout_seconds, std::string& report) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  char buffer[4096];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return true;
    if (ready <= 0) continue;
    const auto n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // closed: the child is done
    report.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace

void probe_plugin(const std::string& path, const std::string& shown, double timeout_seconds) {
  int fds[2];
  AUXGRID_CHECK(pipe(fds) == 0, "cannot load plugin '{}': pipe: {}", shown, std::strerror(errno));
  std::fflush(nullptr);  // buffered output would otherwise be written twice
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]), close(fds[1]);
    AUXGRID_FAIL("cannot load plugin '{}': fork: {}", shown, std::strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    probe_in_child(path, fds[1]);
  }
  close(fds[1]);
  std::string report;
  const bool finished = read_report(fds[0], timeout_seconds, report);
  close(fds[0]);
  if (!finished) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  AUXGRID_CHECK(finished, "plugin '{}' did not finish loading in {:g} s (its static initialisers hang?)", shown,
                timeout_seconds);
  if (!report.empty() && report[0] == 'K' && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (!report.empty() && report[0] == 'E') AUXGRID_FAIL("cannot load plugin '{}': {}", shown, report.substr(1));
  if (!report.empty() && report[0] == 'T')
    AUXGRID_FAIL("plugin '{}' threw while loading (in a static initialiser): {}", shown, report.substr(1));
  if (WIFSIGNALED(status))
    AUXGRID_FAIL("plugin '{}' crashed while loading: signal {} ({})", shown, WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
  AUXGRID_FAIL("plugin '{}' ended the process while loading: exit({}) in a static initialiser", shown,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

}  // namespace auxgrid::models
