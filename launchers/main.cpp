// auxgrid: plan and run experiment grids, make synthetic corpora, list models.
// Thin: parses the command line and calls the libraries; the only place that
// catches auxgrid::Error.
#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>
#include <map>
#include <set>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/core/log.hpp"
#include "auxgrid/data/synth.hpp"
#include "auxgrid/dist/world.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/store/corpus_file.hpp"
#include "auxgrid/train/runner.hpp"

namespace po = boost::program_options;
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

struct GridArgs {
  std::string grid, out;
  std::vector<std::string> sets, plugins;
  int threads = 0;
  bool quiet = false, verbose = false;
};

po::variables_map parse(const std::vector<std::string>& args, po::options_description& options,
                        const char* positional = nullptr) {
  po::positional_options_description pos;
  if (positional) pos.add(positional, 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(pos).run(), vm);
  po::notify(vm);
  return vm;
}

Overrides overrides_of(const std::vector<std::string>& sets) {
  Overrides overrides;
  for (const auto& s : sets) overrides.push_back(parse_override(s));
  return overrides;
}

void load_plugins(const std::vector<std::string>& plugins) {
  for (const auto& p : plugins) models::load_plugin(p);
}

Grid load(const GridArgs& a) {
  AUXGRID_CHECK(!a.grid.empty(), "missing GRID file argument");
  load_plugins(a.plugins);
  return load_grid(a.grid, overrides_of(a.sets), [](const std::string& p) { models::load_plugin(p); });
}

po::options_description grid_options(GridArgs& a) {
  po::options_description o("options");
  o.add_options()("grid", po::value(&a.grid), "grid file")(
      "out", po::value(&a.out), "results directory (default results/<grid name>)")(
      "set", po::value(&a.sets)->composing(), "override a setting for every cell: key=value")(
      "plugin", po::value(&a.plugins)->composing(), "load a model plugin (shared library)")(
      "threads", po::value(&a.threads), "torch threads per rank (default: cores / ranks per node)")(
      "quiet,q", po::bool_switch(&a.quiet), "warnings and errors only")(
      "verbose,v", po::bool_switch(&a.verbose), "debug output");
  return o;
}

int cmd_run(const std::vector<std::string>& args, dist::World& world) {
  GridArgs a;
  auto o = grid_options(a);
  parse(args, o, "grid");
  setup_logging(a.quiet ? Verbosity::quiet : a.verbose ? Verbosity::verbose : Verbosity::normal, world.rank(),
                world.size());
  const auto grid = load(a);
  train::RunOptions options;
  options.out_dir = a.out.empty() ? "results/" + grid.name : a.out;
  options.threads = a.threads;
  return train::run_grid(grid, options, world);
}

int cmd_plan(const std::vector<std::string>& args) {
  GridArgs a;
  auto o = grid_options(a);
  parse(args, o, "grid");
  const auto grid = load(a);
  const auto out = a.out.empty() ? "results/" + grid.name : a.out;
  const auto plan = train::make_plan(grid, out);
  fmt::print("grid '{}' ({}): {} cells over axes [{}]; results in {}\n", grid.name, grid.path, grid.cells.size(),
             fmt::join(grid.axes, ", "), out);
  for (const auto& p : plan.cells) {
    const char* state = p.state == store::ResultState::complete     ? "done"
                        : p.state == store::ResultState::incomplete ? "rerun"
                                                                    : "pending";
    const bool explain = p.state == store::ResultState::incomplete;
    fmt::print("  {}  {:<8} {}{}\n", p.cell->id, state, p.cell->label, explain ? "  (" + p.why + ")" : "");
  }
  fmt::print("{} done, {} to train; every pending cell is valid\n", plan.complete, plan.pending.size());
  return 0;
}

int cmd_synth(const std::vector<std::string>& args) {
  std::string preset = "tiny", out;
  std::uint64_t seed = 0;
  po::options_description o("options");
  o.add_options()("preset", po::value(&preset), "tiny")("seed", po::value(&seed), "generator seed")(
      "out", po::value(&out)->required(), "corpus file to write");
  parse(args, o);
  const auto corpus = data::synthesize(data::synth_preset(preset), seed);
  store::write_corpus(out, corpus);
  fmt::print("wrote {}: {} utterances, {} speakers, {} classes, audio {} x {}, video {} x {}\n", out,
             corpus.info.num_utterances, std::set<std::string>(corpus.speakers.begin(), corpus.speakers.end()).size(),
             corpus.info.class_names.size(), corpus.info.audio_frames, corpus.info.audio_dim,
             corpus.info.video_frames, corpus.info.video_dim);
  return 0;
}

int cmd_corpus_info(const std::vector<std::string>& args) {
  AUXGRID_CHECK(args.size() == 1, "usage: auxgrid corpus-info FILE");
  const auto corpus = store::read_corpus(args[0]);
  const auto& i = corpus.info;
  std::map<std::string, int> speakers;
  for (const auto& s : corpus.speakers) ++speakers[s];
  std::vector<int> per_class(i.class_names.size(), 0);
  for (auto l : corpus.labels) ++per_class[l];
  std::vector<std::int64_t> lengths;
  for (std::size_t u = 0; u + 1 < corpus.audio_offsets.size(); ++u)
    lengths.push_back(corpus.audio_offsets[u + 1] - corpus.audio_offsets[u]);
  const auto [shortest, longest] = std::minmax_element(lengths.begin(), lengths.end());
  fmt::print("corpus '{}' ({})\n  {}\n  utterances {}, speakers {}\n", i.name, i.path, i.description,
             i.num_utterances, speakers.size());
  fmt::print("  audio: {} features, hop {} ms, {} frames ({:.2f}-{:.2f} s per utterance)\n", i.audio_dim,
             i.audio_hop_ms, i.audio_frames, *shortest * i.audio_hop_ms / 1000, *longest * i.audio_hop_ms / 1000);
  fmt::print("  video: {} features, {} fps, {} frames\n  classes:", i.video_dim, i.video_fps, i.video_frames);
  for (std::size_t c = 0; c < per_class.size(); ++c)
    fmt::print(" {} {}{}", i.class_names[c], per_class[c], c + 1 < per_class.size() ? "," : "\n");
  return 0;
}

int cmd_models(const std::vector<std::string>& args) {
  models::ModelDims dims{130, 4096, 4};
  std::vector<std::string> sets, plugins;
  po::options_description o("options");
  o.add_options()("classes", po::value(&dims.num_classes), "classes C")("audio-dim", po::value(&dims.audio_dim),
                                                                       "audio feature width")(
      "video-dim", po::value(&dims.video_dim), "video feature width")(
      "set", po::value(&sets)->composing(), "setting for every model: key=value")(
      "plugin", po::value(&plugins)->composing(), "load a model plugin (shared library)");
  parse(args, o);
  load_plugins(plugins);
  const auto overrides = overrides_of(sets);
  fmt::print("{:<12} {:>12}  {}\n", "model", "parameters", "description");
  for (const auto& name : models::model_registry().names()) {
    auto config = Config::defaults();
    std::vector<std::string> explicit_keys;
    for (const auto& [key, text] : overrides) config.set_from_text(key, text, "--set"), explicit_keys.push_back(key);
    config.set("model.name", name);
    apply_model_defaults(config, explicit_keys);
    const auto n = models::count_parameters(*models::make_model(config, dims));
    auto digits = std::to_string(n);
    for (auto i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
    fmt::print("{:<12} {:>12}  {}\n", name, digits, models::model_registry().get(name).description);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto& world = dist::World::init(&argc, &argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "run") return cmd_run(args, world);
    if (command == "plan") return cmd_plan(args);
    if (command == "synth") return cmd_synth(args);
    if (command == "corpus-info") return cmd_corpus_info(args);
    if (command == "models") return cmd_models(args);
    std::cerr << "auxgrid: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const po::error& e) {
    std::cerr << "auxgrid " << command << ": " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "auxgrid " << command << ": error: " << e.what() << "\n";
    return 1;
  }
}
