// A plugin whose static initialiser ends the process while it is loaded.
#include <cstdlib>

namespace {
struct Exits {
  Exits() { std::exit(7); }
} exits_on_load;
}  // namespace
