#pragma once
// The `auxgrid` commands, one function each; main.cpp dispatches to them.
// Each returns the process exit code and throws auxgrid::Error on bad input.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "auxgrid/dist/world.hpp"

namespace auxgrid::launcher {

using Args = std::vector<std::string>;
namespace po = boost::program_options;

// Parses `args` against `options`, with at most one positional option.
po::variables_map parse(const Args& args, po::options_description& options, const char* positional = nullptr);

int run(const Args& args, dist::World& world);  // grid_commands.cpp
int plan(const Args& args);
int status(const Args& args);
int models(const Args& args);
int version(const Args& args);
int synth(const Args& args);  // corpus_commands.cpp
int corpus_info(const Args& args);
int splits(const Args& args);         // split_command.cpp
int import_corpus(const Args& args);  // import_command.cpp
int sbatch(const Args& args);         // sbatch_command.cpp

}  // namespace auxgrid::launcher
