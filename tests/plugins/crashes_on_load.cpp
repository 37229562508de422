// A plugin whose static initialiser crashes while it is loaded.
#include <csignal>

namespace {
struct Crashes {
  Crashes() { std::raise(SIGSEGV); }
} crashes_on_load;
}  // namespace
