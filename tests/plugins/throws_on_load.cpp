// A plugin whose static initialiser throws while it is loaded.
#include <stdexcept>

namespace {
struct Throws {
  Throws() { throw std::runtime_error("the plugin's configuration file is missing"); }
} throws_on_load;
}  // namespace
