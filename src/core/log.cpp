#include "auxgrid/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace auxgrid {

void setup_logging(Verbosity verbosity, int rank, int world_size) {
  auto logger = spdlog::stderr_color_mt("auxgrid");
  spdlog::set_default_logger(logger);
  if (world_size > 1)
    spdlog::set_pattern(fmt::format("[%H:%M:%S] [rank {}] %^%l%$ %v", rank));
  else
    spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  switch (verbosity) {
    case Verbosity::quiet: spdlog::set_level(spdlog::level::warn); break;
    case Verbosity::normal: spdlog::set_level(spdlog::level::info); break;
    case Verbosity::verbose: spdlog::set_level(spdlog::level::debug); break;
  }
}

}  // namespace auxgrid
