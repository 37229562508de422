#pragma once
// The `auxgrid` commands, one function each; main.cpp dispatches to them.
// Each returns the process exit code and throws auxgrid::Error on bad input.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <type_traits>
#include <utility>
#include <string>
#include <vector>

#include "auxgrid/dist/world.hpp"

namespace auxgrid::launcher {

using Args = std::vector<std::string>;
namespace po = boost::program_options;

// Parses `args` against `options`, with at most one positional option. For
// `auxgrid COMMAND --help` it prints the command's help and every option
// instead, and throws HelpShown (main exits 0).
struct HelpShown {};
po::variables_map parse(const Args& args, po::options_description& options, const char* positional = nullptr);

// A number option whose value must lie in [min, max]: a negative, zero,
// absurdly large or non-finite value is a usage error naming the option
// (text that is not a number of the type, or overflows it, already is one).
// Signed types only: program_options reads "-1" into an unsigned as 2^64 - 1.
template <typename T>
po::typed_value<T>* bounded(T* target, const char* option, T min, T max) {
  static_assert(std::is_signed_v<T>, "a bounded option must be signed, so that -1 is not read as a huge number");
  return po::value(target)->notifier([option, min, max](const T& v) {
    if (!(v >= min && v <= max))  // also false for NaN
      throw po::error(fmt::format("--{} must be between {} and {}, got {}", option, min, max, v));
  });
}

// "I/N" of --shard: 0 <= I < N <= kMaxShards; anything else is a usage error.
inline constexpr int kMaxShards = 1000000;
std::pair<int, int> parse_shard(const std::string& text);

// A grid's results directory: `out` when given, else results/<grid name>, or
// results/<grid name>+<key=value>+... when --set overrides change what the
// cells compute, so that they never mix with the grid's own results (an
// analysis could not tell them apart). grid_commands.cpp.
std::string results_dir(const std::string& out, const std::string& grid_name, const std::vector<std::string>& sets);

int run(const Args& args, dist::World& world);  // grid_commands.cpp
bool is_run_option(const std::string& option);   // "--threads": an option `auxgrid run` takes
int plan(const Args& args);
int status(const Args& args);
int forget(const Args& args);
int models(const Args& args);
int version(const Args& args);
int settings(const Args& args);
int synth(const Args& args);  // corpus_commands.cpp
int corpus_info(const Args& args);
int splits(const Args& args);         // split_command.cpp
int import_corpus(const Args& args);  // import_command.cpp
int sbatch(const Args& args);         // sbatch_command.cpp

}  // namespace auxgrid::launcher
