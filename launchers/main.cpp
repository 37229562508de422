// auxgrid: plan and run experiment grids, make and inspect corpora, list
// models. Thin: dispatches to the commands (launchers/*_commands.cpp) and is
// the only place that catches errors.
#include <iostream>

#include "auxgrid/core/check.hpp"
#include "auxgrid/dist/world.hpp"
#include "commands.hpp"

using namespace auxgrid;

namespace {

const char* kUsage = R"(usage: auxgrid COMMAND [options]

commands:
  run GRID [--out DIR] [--set key=value ...] [--plugin LIB ...] [--threads N] [-q|-v]
        train every cell of the grid that has no complete result yet; under
        mpirun, ranks claim cells dynamically (longest first)
  plan GRID [--out DIR] [--set key=value ...] [--plugin LIB ...]
        list the cells, which are done, and validate the pending ones
  synth --preset NAME [--seed S] --out FILE
        write a synthetic corpus (presets: tiny)
  corpus-info FILE
        print a corpus file's shape, classes and speakers
  models [--classes C] [--audio-dim D] [--video-dim D] [--set key=value ...] [--plugin LIB ...]
        list the registered models with their parameter counts (default: the
        paper's sizes, 4 classes, audio 130, video 4096)

--out defaults to results/<grid name>.
)";

}  // namespace

namespace auxgrid::launcher {
po::variables_map parse(const Args& args, po::options_description& options, const char* positional) {
  po::positional_options_description pos;
  if (positional) pos.add(positional, 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(pos).run(), vm);
  po::notify(vm);
  return vm;
}

}  // namespace auxgrid::launcher

int main(int argc, char** argv) {
  auto& world = dist::World::init(&argc, &argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "run") return launcher::run(args, world);
    if (command == "plan") return launcher::plan(args);
    if (command == "synth") return launcher::synth(args);
    if (command == "corpus-info") return launcher::corpus_info(args);
    if (command == "models") return launcher::models(args);
    std::cerr << "auxgrid: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const launcher::po::error& e) {
    std::cerr << "auxgrid " << command << ": " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "auxgrid " << command << ": error: " << e.what() << "\n";
    return 1;
  }
}
