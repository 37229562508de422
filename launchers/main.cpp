// auxgrid: plan and run experiment grids, make and inspect corpora, list
// models. Thin: dispatches to the commands (launchers/*_commands.cpp) and is
// the only place that catches errors.
#include <charconv>
#include <iostream>

#include "auxgrid/core/allocator.hpp"
#include "auxgrid/core/main.hpp"
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
  sbatch GRID [--out DIR] [--array-size N] [--cpus-per-task C] [--gpus-per-task G]
         [--time T] [--partition P] [--set key=value ...] [--plugin LIB ...] [--script FILE]
        write a SLURM job-array script (default DIR/slurm/<grid>.sbatch) whose
        tasks run cost-balanced shards of the pending cells, requeue after a
        preemption checkpoint, and never train a cell twice; it does not submit
  status GRID [--out DIR]
        done / running (with heartbeat age) / failed / pending per part and
        axis value, and an ETA
  synth --preset NAME [--seed S] --out FILE
        write a synthetic corpus (presets: tiny)
  import --audio-dir DIR (--video-dir DIR | --video-h5 FILE)
         (--labels CSV [--classes a,b,...] | --crema-d-names) --out FILE
         [--name NAME] [--audio-hop-ms 16] [--video-fps 29.97] [--skip-bad]
        import extracted features: <clip>.csv OpenSMILE LLD CSVs, <clip>.npy
        files (frames x D, <f4 or <f2) or one HDF5 dataset per clip, labels
        from a clip,label,speaker CSV or CREMA-D file names. Features are
        stored raw: audio is z-normalised at training time with the training
        speakers' statistics of each split. A bad clip is an error naming it;
        --skip-bad lists and skips bad clips instead
  corpus-info FILE
        print a corpus file's shape, classes and speakers
  splits CORPUS [--seeds 0-19] [--train-fraction F] [--dev-fraction F]
        the speaker-independent split of each trial: utterances and speakers per set
  models [--classes C] [--audio-dim D] [--video-dim D] [--set key=value ...] [--plugin LIB ...]
        list the registered models with their parameter counts (default: the
        paper's sizes, 4 classes, audio 130, video 4096)
  version
        this build: auxgrid's commit, LibTorch, CUDA devices, the attention
        and precisions it offers, the communicators

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

std::pair<int, int> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  int shard = -1, shards = 0;
  const auto number = [](const char* first, const char* last, int& out) {
    const auto [end, ec] = std::from_chars(first, last, out);
    return first != last && ec == std::errc() && end == last;
  };
  const bool parsed = slash != std::string::npos && number(text.data(), text.data() + slash, shard) &&
                      number(text.data() + slash + 1, text.data() + text.size(), shards);
  if (!parsed || shards < 1 || shards > kMaxShards || shard < 0 || shard >= shards)
    throw po::error(fmt::format("--shard expects I/N with 0 <= I < N <= {} (e.g. 3/8), got '{}'", kMaxShards, text));
  return {shard, shards};
}

}  // namespace auxgrid::launcher

int main(int argc, char** argv) {
  tune_allocator();
  auto& world = dist::World::init(&argc, &argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
  return run_command("auxgrid " + command, [&] {
    try {
      if (command == "run") return launcher::run(args, world);
      if (command == "plan") return launcher::plan(args);
      if (command == "status") return launcher::status(args);
      if (command == "sbatch") return launcher::sbatch(args);
      if (command == "synth") return launcher::synth(args);
      if (command == "corpus-info") return launcher::corpus_info(args);
      if (command == "import") return launcher::import_corpus(args);
      if (command == "models") return launcher::models(args);
      if (command == "version") return launcher::version(args);
      if (command == "splits") return launcher::splits(args);
      std::cerr << "auxgrid: unknown command '" << command << "'\n" << kUsage;
    } catch (const launcher::po::error& e) {
      std::cerr << "auxgrid " << command << ": " << e.what() << "\n" << kUsage;
    }
    return 2;  // a usage error
  });
}
