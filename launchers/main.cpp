// auxgrid: plan and run experiment grids, make and inspect corpora, list
// models. Thin: dispatches to the commands (launchers/*_commands.cpp) and is
// the only place that catches errors.
#include <algorithm>
#include <charconv>
#include <iostream>

#include "auxgrid/core/allocator.hpp"
#include "auxgrid/core/main.hpp"
#include "auxgrid/dist/world.hpp"
#include "commands.hpp"

using namespace auxgrid;

namespace {

// Each command: its synopsis, what it does and an example. `auxgrid --help`
// lists them; `auxgrid COMMAND --help` prints one with every option (from the
// description its parser uses, so none is left out).
struct Command {
  const char* name;
  const char* synopsis;
  const char* what;
  const char* example;
};

const Command kCommands[] = {
    {"run", "run GRID [--out DIR] [--set key=value ...] [options]",
     "train every cell of the grid that has no complete result yet; under mpirun, ranks claim cells\n"
     "dynamically (longest first)",
     "auxgrid run experiments/table1.toml --set train.epochs=2 -q\n"
     "  mpirun -np 4 auxgrid run experiments/paper.toml --threads 4"},
    {"plan", "plan GRID [--out DIR] [--set key=value ...] [--plugin LIB ...]",
     "list the cells, which are done, and validate the pending ones", "auxgrid plan experiments/table1.toml"},
    {"sbatch", "sbatch GRID [--out DIR] [--array-size N] [--cpus-per-task C] [--gpus-per-task G] [options]",
     "write a SLURM job-array script (default DIR/slurm/<grid>.sbatch) whose tasks run cost-balanced\n"
     "shards of the pending cells, requeue after a preemption checkpoint, and never train a cell twice;\n"
     "it does not submit",
     "auxgrid sbatch experiments/paper.toml --array-size 50 --cpus-per-task 8 --time 4:00:00"},
    {"status", "status GRID [--out DIR] [--set key=value ...]",
     "done / running (with heartbeat age) / failed / pending per part and axis value, and an ETA",
     "auxgrid status experiments/paper.toml"},
    {"forget", "forget GRID [--out DIR] [--set key=value ...]",
     "take the grid's cells that have no result (and are not in training) off DIR/manifest.tsv, so that\n"
     "tables stop counting them as missing seeds; a later run of the grid plans them again",
     "auxgrid forget experiments/table1.toml --set train.epochs=2"},
    {"synth", "synth --preset NAME [--scale F] [--seed S] --out FILE",
     "write a synthetic corpus with a preset's shape (speakers, classes, lengths, feature widths)",
     "auxgrid synth --preset crema-d --scale 0.1 --out corpora/crema-d-0.1.h5"},
    {"import",
     "import --audio-dir DIR (--video-dir DIR | --video-h5 FILE) (--labels CSV | --crema-d-names) --out FILE "
     "[options]",
     "import extracted features: <clip>.csv OpenSMILE LLD CSVs, <clip>.npy files (frames x D, <f4 or <f2)\n"
     "or one HDF5 dataset per clip, labels from a clip,label,speaker CSV or CREMA-D file names. Features\n"
     "are stored raw: audio is z-normalised at training time with the training speakers' statistics of\n"
     "each split. A bad clip is an error naming it; --skip-bad lists and skips bad clips instead",
     "auxgrid import --audio-dir lld/ --video-dir faces/ --crema-d-names --out corpora/crema-d.h5"},
    {"corpus-info", "corpus-info FILE", "print a corpus file's shape, classes and speakers",
     "auxgrid corpus-info corpora/crema-d.h5"},
    {"splits", "splits CORPUS [--seeds 0-19] [--train-fraction F] [--dev-fraction F]",
     "the speaker-independent split of each trial: utterances and speakers per set",
     "auxgrid splits corpora/crema-d.h5 --seeds 0-4"},
    {"models", "models [--classes C] [--audio-dim D] [--video-dim D] [--set key=value ...] [--plugin LIB|FILE.pt ...]",
     "list the registered models with their parameter counts (default: the paper's sizes, 4 classes,\n"
     "audio 130, video 4096), and scripted PyTorch models given with --plugin",
     "auxgrid models --classes 6 --plugin experiments/plugins/late_fusion.pt"},
    {"settings", "settings [PREFIX]",
     "every setting a grid or --set may give: its default, type, allowed values and meaning",
     "auxgrid settings train."},
    {"version", "version",
     "this build: auxgrid's commit, LibTorch, CUDA devices, the attention and precisions it offers, the\n"
     "communicators",
     "auxgrid version"},
};

const Command* find_command(const std::string& name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

std::string indented(const std::string& text, const std::string& indent) {
  std::string out = indent;
  for (char ch : text) out += ch == '\n' ? "\n" + indent : std::string(1, ch);
  return out;
}

std::string usage() {
  std::string out =
      "usage: auxgrid COMMAND [options]   (auxgrid COMMAND --help: its options and an example)\n\ncommands:\n";
  for (const auto& c : kCommands) out += "  " + std::string(c.synopsis) + "\n" + indented(c.what, "        ") + "\n";
  return out +
         "\n--out defaults to results/<grid name>, or results/<grid name>+<key=value>... with --set overrides (their\n"
         "results never mix with the grid's own).\n";
}

std::string command_help(const Command& c) {
  return fmt::format("usage: auxgrid {}\n\n{}\n\nexample:\n  {}\n", c.synopsis, c.what, c.example);
}

}  // namespace

namespace auxgrid::launcher {
namespace {
std::string help_text;  // set by main for `auxgrid COMMAND --help`
}  // namespace

po::variables_map parse(const Args& args, po::options_description& options, const char* positional) {
  if (!help_text.empty()) {
    std::cout << help_text << "\n" << options;
    throw HelpShown{};
  }
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
  const auto is_help = [](const std::string& a) { return a == "--help" || a == "-h"; };
  if (argc < 2 || is_help(argv[1])) {
    std::cout << usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  const auto help = std::find_if(args.begin(), args.end(), is_help);
  if (help != args.end()) {
    const Command* c = find_command(command);
    if (!c) {
      std::cout << usage();
      return 0;
    }
    args.erase(help);
    launcher::help_text = command_help(*c);
  }
  return run_command("auxgrid " + command, [&] {
    try {
      if (command == "run") return launcher::run(args, world);
      if (command == "plan") return launcher::plan(args);
      if (command == "status") return launcher::status(args);
      if (command == "forget") return launcher::forget(args);
      if (command == "sbatch") return launcher::sbatch(args);
      if (command == "synth") return launcher::synth(args);
      if (command == "corpus-info") return launcher::corpus_info(args);
      if (command == "import") return launcher::import_corpus(args);
      if (command == "models") return launcher::models(args);
      if (command == "settings") return launcher::settings(args);
      if (command == "version") return launcher::version(args);
      if (command == "splits") return launcher::splits(args);
      std::cerr << "auxgrid: unknown command '" << command << "'\n" << usage();
    } catch (const launcher::HelpShown&) {
      return 0;
    } catch (const launcher::po::error& e) {
      // plan, status and forget share run's grid options but not its launch options: say whose it is.
      const auto* unknown = dynamic_cast<const launcher::po::unknown_option*>(&e);
      const bool run_only = unknown && command != "run" && launcher::is_run_option(unknown->get_option_name());
      std::cerr << "auxgrid " << command << ": " << e.what()
                << (run_only ? fmt::format(" ({} is an option of `auxgrid run`)", unknown->get_option_name()) : "")
                << "\n"
                << (find_command(command) ? command_help(*find_command(command)) : usage());
    }
    return 2;  // a usage error
  });
}
