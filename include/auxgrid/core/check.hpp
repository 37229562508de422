#pragma once
// The project's one error type and its check macro. Library code throws;
// only mains catch (and print the message, which names the file/cell/key).
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace auxgrid {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace auxgrid

// AUXGRID_CHECK(cond, "format {}", args...) throws auxgrid::Error when cond is false.
#define AUXGRID_CHECK(cond, ...)                                     \
  do {                                                               \
    if (!(cond)) throw ::auxgrid::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)

#define AUXGRID_FAIL(...) throw ::auxgrid::Error(::fmt::format(__VA_ARGS__))
