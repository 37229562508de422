// auxgrid run / plan / status / forget / models / settings / version: grids, their cells and the model registry.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <type_traits>
#include <variant>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/core/log.hpp"
#include "auxgrid/core/stop_signals.hpp"
#include "auxgrid/core/version.hpp"
#include "auxgrid/dist/communicator.hpp"
#include "auxgrid/kernels/kernels.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/store/manifest.hpp"
#include "auxgrid/store/result_file.hpp"
#include "auxgrid/store/results_dir.hpp"
#include "auxgrid/train/runner.hpp"
#include "auxgrid/train/trainer.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

namespace {

struct GridArgs {
  std::string grid, out;
  std::vector<std::string> sets, plugins;
  int threads = 0, ranks_per_cell = 1, max_attempts = 3, fail_fast = 0;
  bool retry_failed = false;
  std::string shard, device = "auto";
  double stale_lock_seconds = 600, watchdog_seconds = 0;
  bool quiet = false, verbose = false, list = false;
};

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

// What every grid command takes: the grid, where its results are, how its cells are set.
po::options_description grid_options(GridArgs& a) {
  po::options_description o("options");
  o.add_options()("grid", po::value(&a.grid), "grid file")(
      "out", po::value(&a.out), "results directory (default results/<grid name>, +<key=value> per --set)")(
      "set", po::value(&a.sets)->composing(), "override a setting for every cell: key=value")(
      "plugin", po::value(&a.plugins)->composing(), "load a model plugin (shared library)");
  return o;
}

// Which failed cells are given up (run and plan).
void add_attempt_options(po::options_description& o, GridArgs& a) {
  o.add_options()("max-attempts", bounded(&a.max_attempts, "max-attempts", 1, 1000000),
                  "give a cell up after this many failures (default 3)")(
      "retry-failed", po::bool_switch(&a.retry_failed), "run cells again that were given up");
}

// When a cell's lock counts as abandoned (run and status).
void add_stale_lock_option(po::options_description& o, GridArgs& a) {
  o.add_options()("stale-lock", bounded(&a.stale_lock_seconds, "stale-lock", 5.0, 1e9),
                  "seconds without heartbeat after which a cell's lock is taken over");
}

// status and forget: the grid, parsed with --stale-lock (they tell a live claim from an abandoned one).
Grid load_with_stale_lock(const Args& args, GridArgs& a) {
  auto o = grid_options(a);
  add_stale_lock_option(o, a);
  parse(args, o, "grid");
  return load(a);
}

po::options_description run_options(GridArgs& a) {
  auto o = grid_options(a);
  add_attempt_options(o, a);
  add_stale_lock_option(o, a);
  o.add_options()("threads", bounded(&a.threads, "threads", 1, 4096),
                  "torch threads per rank (default: cores / ranks per node)")(
      "watchdog", bounded(&a.watchdog_seconds, "watchdog", 0.0, 1e7),
      "abort the launch when a rank makes no progress for this many seconds")(
      "fail-fast", bounded(&a.fail_fast, "fail-fast", 0, 1000000000),
      "stop claiming cells after this many failures in this launch")("device", po::value(&a.device),
                                                                     "auto (a GPU when there is one), cpu or cuda")(
      "ranks-per-cell", bounded(&a.ranks_per_cell, "ranks-per-cell", 1, 1 << 20),
      "ranks that train one cell together (data parallel)")(
      "shard", po::value(&a.shard),
      "run shard I/N of the pending cells first (SLURM array task I of N), then go on to other shards' cells "
      "that no one has claimed")("quiet,q", po::bool_switch(&a.quiet), "warnings and errors only")(
      "verbose,v", po::bool_switch(&a.verbose), "debug output");
  return o;
}

}  // namespace

bool is_run_option(const std::string& option) {
  GridArgs a;
  const auto options = run_options(a);
  const bool is_long = option.rfind("--", 0) == 0;  // "--threads"; a short one ("-v") is matched as it is
  return options.find_nothrow(is_long ? option.substr(2) : option, /*approx=*/false) != nullptr;
}

std::string results_dir(const std::string& out, const std::string& grid_name, const std::vector<std::string>& sets) {
  if (!out.empty()) return out;
  std::string dir = "results/" + grid_name;
  std::string suffix;
  for (const auto& set : sets) {
    const auto* spec = find_setting(parse_override(set).first);
    if (spec && !spec->identifies) continue;  // where a file lives, not what the cells compute
    suffix += '+';
    for (const char c : set) suffix += std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._=,-", c) ? c : '_';
  }
  // A name within file-system limits; the hash keeps long override lists apart.
  if (suffix.size() > 120) suffix = "+set-" + fnv1a_hex(suffix);
  return dir + suffix;
}

int run(const Args& args, dist::World& world) {
  watch_stop_signals();  // before any compute thread starts (core/stop_signals.hpp says why)
  GridArgs a;
  auto o = run_options(a);
  parse(args, o, "grid");
  std::pair<int, int> shard{0, 1};
  if (!a.shard.empty()) shard = parse_shard(a.shard);  // a usage error before the grid is read
  if (a.device != "auto" && a.device != "cpu" && a.device != "cuda")  // a usage error too (exit 2), before the manifest
    throw po::validation_error(po::validation_error::invalid_option_value, "device", a.device);
  setup_logging(a.quiet     ? Verbosity::quiet
                : a.verbose ? Verbosity::verbose
                            : Verbosity::normal,
                world.rank(), world.size());
  const auto grid = load(a);
  train::RunOptions options;
  options.out_dir = results_dir(a.out, grid.name, a.sets);
  options.threads = a.threads;
  options.command_line = fmt::format("auxgrid run {}", fmt::join(args, " "));
  options.ranks_per_cell = a.ranks_per_cell;
  options.device = a.device;
  options.max_attempts = a.max_attempts;
  options.retry_failed = a.retry_failed;
  options.fail_fast = a.fail_fast;
  options.watchdog_seconds = a.watchdog_seconds;
  options.stale_lock_seconds = a.stale_lock_seconds;
  std::tie(options.shard, options.shards) = shard;
  return train::run_grid(grid, options, world);
}

int plan(const Args& args) {
  GridArgs a;
  auto o = grid_options(a);
  add_attempt_options(o, a);
  o.add_options()("list", po::bool_switch(&a.list), "list every cell (default: only for grids of <= 40 cells)");
  parse(args, o, "grid");
  const auto grid = load(a);
  const auto out = results_dir(a.out, grid.name, a.sets);
  const auto plan = train::make_plan(grid, out, a.max_attempts, a.retry_failed);
  fmt::print("grid '{}' ({}): {} cells; results in {}\n", grid.name, grid.path, grid.cells.size(), out);
  if (!grid.axes.empty()) fmt::print("  axes: {}\n", fmt::join(grid.axes, ", "));
  if (!grid.parts.empty()) {
    fmt::print("  {:<12} {:>6}\n", "part", "cells");
    std::size_t sum = 0;
    for (const auto& [name, count] : grid.parts) fmt::print("  {:<12} {:>6}\n", name, count), sum += count;
    fmt::print("  {:<12} {:>6}  ({} definitions repeat a cell of another part: trained once)\n", "unique",
               grid.cells.size(), sum - std::min(sum, grid.cells.size()));
  }
  // Rejected results are named even when the list is too long to print.
  const bool list = a.list || grid.cells.size() <= 40;
  for (const auto& p : plan.cells)
    if (list || p.state == store::ResultState::incomplete) {
      const char* state = p.given_up                                  ? "failed"
                          : !p.problem.empty()                        ? "invalid"
                          : p.state == store::ResultState::complete   ? "done"
                          : p.state == store::ResultState::incomplete ? "rerun"
                                                                      : "pending";
      const bool explain = p.state == store::ResultState::incomplete;
      fmt::print("  {}  {:<8} {}{}\n", p.cell->id, state, p.cell->label, explain ? "  (" + p.why + ")" : "");
    }
  fmt::print("{} done, {} to train{}{}\n", plan.complete, plan.pending.size(),
             plan.given_up ? fmt::format(", {} failed {} times (--retry-failed)", plan.given_up, a.max_attempts) : "",
             plan.invalid ? fmt::format(", {} invalid", plan.invalid) : "; every pending cell is valid");
  if (!plan.pending.empty()) {
    // 140 GFLOP/s: full-size AuxFormer training with auxgrid's kernels on 2 cores (docs/performance.md: fast
    // buckets 139); small models reach less, so small grids take longer than this says.
    constexpr double kRate = 140e9;
    const double flops = plan.pending_flops, seconds = flops / kRate;
    const auto [scale, unit] = flops >= 1e15   ? std::pair{1e15, "PFLOP"}
                               : flops >= 1e12 ? std::pair{1e12, "TFLOP"}
                                               : std::pair{1e9, "GFLOP"};
    const auto duration = seconds >= 3600 ? fmt::format("{:.1f} hours", seconds / 3600)
                          : seconds >= 60 ? fmt::format("{:.0f} minutes", seconds / 60)
                                          : fmt::format("{:.0f} seconds", seconds);
    fmt::print(
        "estimated work: {:.3g} {} (6 x parameters x training frames x epochs), about {} on 2 cores at 140 "
        "GFLOP/s (auxgrid's kernels; ranks divide it)\n",
        flops / scale, unit, duration);
  }
  for (const auto& [problem, count] : plan.problem_counts)
    fmt::print(stderr, "{}: {} invalid cell(s): {}\n", grid.path, count, problem);
  for (const auto& w : plan.warnings) fmt::print(stderr, "{}: warning: {}\n", grid.path, w);
  return plan.invalid ? 1 : 0;
}

namespace {

// ETA: the median cell's training time, times the cells left, over the cells running now.
void print_eta(const std::string& out, int running, int left) {
  std::vector<std::string> problems;
  std::vector<double> seconds;
  for (const auto& r : store::scan_results(out, &problems)) {
    double sum = 0;
    for (double s : r.epoch_seconds) sum += s;
    seconds.push_back(sum);
  }
  if (seconds.empty() || left == 0) return;
  std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2, seconds.end());
  const double eta = seconds[seconds.size() / 2] * left / std::max(1, running);
  fmt::print("ETA: about {:.0f} min ({} cells left, median cell {:.0f} s, {} running)\n", eta / 60, left,
             seconds[seconds.size() / 2], running);
}

}  // namespace

int status(const Args& args) {
  GridArgs a;
  const auto grid = load_with_stale_lock(args, a);
  const auto out = results_dir(a.out, grid.name, a.sets);

  // done / running (a live claim) / failed (an error record, no result) / pending.
  struct Count {
    int done = 0, running = 0, failed = 0, pending = 0;
  };
  std::vector<std::string> rejected;
  const auto state_of = [&](const Cell& cell) -> std::string {
    std::string why;
    const auto result = store::result_state(out, cell.id, &why, &cell.config);
    if (result == store::ResultState::complete) return "done";
    if (result == store::ResultState::incomplete)
      rejected.push_back(fmt::format("  {} {}: {}", cell.id, cell.label, why));
    const auto lock = store::lock_status(store::lock_path(out, cell.id), a.stale_lock_seconds);
    if (lock.state == store::LockState::running) return "running";
    return store::failed_attempts(out, cell.id) > 0 ? "failed" : "pending";
  };
  const auto add = [](Count& c, const std::string& state) {
    (state == "done" ? c.done : state == "running" ? c.running : state == "failed" ? c.failed : c.pending)++;
  };
  // Values in their natural order: seed=2 before seed=10.
  struct NaturalOrder {
    bool operator()(const std::string& a, const std::string& b) const {
      char* end_a = nullptr;
      char* end_b = nullptr;
      const double x = std::strtod(a.c_str(), &end_a), y = std::strtod(b.c_str(), &end_b);
      const bool numbers = !a.empty() && !b.empty() && *end_a == 0 && *end_b == 0;
      return numbers && x != y ? x < y : a < b;
    }
  };
  Count total;
  std::map<std::string, Count> by_part;
  std::map<std::string, std::map<std::string, Count, NaturalOrder>> by_axis;
  std::vector<std::string> running, failed;
  // Every model gets its row, an axis of the grid or not.
  std::vector<std::string> axes = grid.axes;
  if (std::find(axes.begin(), axes.end(), "model.name") == axes.end()) axes.insert(axes.begin(), "model.name");
  for (const auto& cell : grid.cells) {
    const auto state = state_of(cell);
    add(total, state);
    for (const auto& part : cell.parts) add(by_part[part], state);
    for (const auto& axis : axes) add(by_axis[axis][to_string(cell.config.get(axis))], state);
    if (state == "failed") {
      const auto records = store::read_failures(out, cell.id);
      failed.push_back(fmt::format("  {} {}: {} attempt(s), last: {}", cell.id, cell.label, records.size(),
                                   records.empty() ? "?" : files::shortened(records.back().message, 200)));
    }
    if (state == "running") {
      const auto lock = store::lock_status(store::lock_path(out, cell.id), a.stale_lock_seconds);
      const auto skew = lock.skew_note(store::lock_path(out, cell.id));
      running.push_back(skew.empty() ? fmt::format("  {} {} ({}), heartbeat {:.0f} s ago", cell.id, cell.label,
                                                   lock.owner(), lock.age_seconds)
                                     : fmt::format("  {} {} ({}): {}", cell.id, cell.label, lock.owner(), skew));
    }
  }
  const auto row = [](const std::string& name, const Count& c) {
    fmt::print("  {:<28} {:>6} {:>8} {:>7} {:>8}\n", name, c.done, c.running, c.failed, c.pending);
  };
  fmt::print("grid '{}': {} cells in {}\n  {:<28} {:>6} {:>8} {:>7} {:>8}\n", grid.name, grid.cells.size(), out, "",
             "done", "running", "failed", "pending");
  row("all", total);
  for (const auto& [part, c] : by_part)
    if (by_part.size() > 1) row(part, c);
  for (const auto& [axis, values] : by_axis)
    for (const auto& [value, c] : values) row(axis + "=" + value, c);
  if (!running.empty()) fmt::print("running:\n{}\n", fmt::join(running, "\n"));
  if (!failed.empty()) fmt::print("failed (DIR/errors/<id>.log):\n{}\n", fmt::join(failed, "\n"));
  if (!rejected.empty())
    fmt::print("rejected results (counted pending; the next run sets them aside and retrains):\n{}\n",
               fmt::join(rejected, "\n"));

  print_eta(out, total.running, total.running + total.pending);
  return 0;
}

int forget(const Args& args) {
  GridArgs a;
  const auto grid = load_with_stale_lock(args, a);
  const auto out = results_dir(a.out, grid.name, a.sets);
  // A cell with a complete result, or one being trained now, stays planned.
  std::set<std::string> unwanted;
  std::size_t kept = 0;
  for (const auto& cell : grid.cells) {
    const bool done = store::result_state(out, cell.id, nullptr, &cell.config) == store::ResultState::complete;
    const bool running =
        store::lock_status(store::lock_path(out, cell.id), a.stale_lock_seconds).state == store::LockState::running;
    if (done || running)
      ++kept;
    else
      unwanted.insert(cell.id);
  }
  const auto removed = unwanted.empty() ? 0 : store::remove_from_manifest(out, unwanted);
  fmt::print("grid '{}': {} planned cell(s) without a result taken off {}; {} cell(s) with a result or in training "
             "kept\n",
             grid.name, removed, store::manifest_path(out), kept);
  return 0;
}

int models(const Args& args) {
  models::ModelDims dims{130, 4096, 4};
  std::vector<std::string> sets, plugins, libraries;
  po::options_description o("options");
  o.add_options()("classes", bounded<std::int64_t>(&dims.num_classes, "classes", 2, 100000), "classes C")(
      "audio-dim", bounded<std::int64_t>(&dims.audio_dim, "audio-dim", 1, 1000000), "audio feature width")(
      "video-dim", bounded<std::int64_t>(&dims.video_dim, "video-dim", 1, 1000000), "video feature width")(
      "set", po::value(&sets)->composing(), "setting for every model: key=value")(
      "plugin", po::value(&plugins)->composing(),
      "load a model plugin (shared library), or list a TorchScript model (FILE.pt)");
  parse(args, o);
  std::vector<std::pair<std::string, models::ScriptedModelInfo>> scripted;  // first: a bad file fails before output
  for (const auto& p : plugins)
    if (models::is_scripted_model_file(p))
      scripted.emplace_back(p, models::inspect_scripted_model(p));
    else
      libraries.push_back(p);
  load_plugins(libraries);
  const auto overrides = overrides_of(sets);
  const auto with_commas = [](std::int64_t n) {
    auto digits = std::to_string(n);
    for (auto i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
    return digits;
  };
  fmt::print("{:<12} {:>12}  {}\n", "model", "parameters", "description");
  for (const auto& name : models::model_registry().names()) {
    if (name == "torchscript") {  // a file's model: listed below when given
      fmt::print("{:<12} {:>12}  {}\n", name, "-", models::model_registry().get(name).description);
      continue;
    }
    auto config = Config::defaults();
    std::vector<std::string> explicit_keys;
    for (const auto& [key, text] : overrides) config.set_from_text(key, text, "--set"), explicit_keys.push_back(key);
    config.set("model.name", name);
    apply_model_defaults(config, explicit_keys);
    const auto n = models::count_parameters(*models::make_model(config, dims));
    fmt::print("{:<12} {:>12}  {}\n", name, with_commas(n), models::model_registry().get(name).description);
  }
  // A scripted model is built for its own widths and classes.
  for (const auto& [path, m] : scripted)
    // The hash is what a study's `match` names to pick this file's results (model.file_hash).
    fmt::print("{:<12} {:>12}  TorchScript {}: audio {}, video {}, {} classes, heads {} ({}, model.file_hash = "
               "\"{}\"){}\n",
               std::filesystem::path(path).filename().string(), with_commas(m.parameters), m.type_name,
               m.dims.audio_dim, m.dims.video_dim, m.dims.num_classes, fmt::join(m.heads, ", "), path,
               file_fnv1a_hex(path),
               m.resets_parameters ? "" : "\n             warning: no reset_parameters(), every seed starts from "
                                          "the file's weights (docs/torchscript.md)");
  return 0;
}

int settings(const Args& args) {
  std::string prefix;
  po::options_description o("options");
  o.add_options()("prefix", po::value(&prefix), "only the keys that start with this, e.g. model. or train.lr");
  parse(args, o, "prefix");
  models::model_registry().names();  // the models' own defaults are registered on first use
  const auto type_of = [](const Value& v) {
    return std::visit(
        [](const auto& x) -> std::string {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>) return "true|false";
          if constexpr (std::is_same_v<T, std::int64_t>) return "integer";
          if constexpr (std::is_same_v<T, double>) return "number";
          return "string";
        },
        v);
  };
  int shown = 0;
  for (const auto& spec : setting_specs()) {
    if (spec.key.rfind(prefix, 0) != 0) continue;
    std::string allowed =
        spec.choices.empty() ? type_of(spec.default_value) : fmt::format("{}", fmt::join(spec.choices, "|"));
    if (spec.min > -1e300 || spec.max < 1e300) allowed += fmt::format(" in [{}, {}]", spec.min, spec.max);
    const auto& d = spec.default_value;
    const auto shown_default =
        std::holds_alternative<std::string>(d) ? fmt::format("\"{}\"", std::get<std::string>(d)) : to_string(d);
    fmt::print("{} = {}   ({})\n    {}\n", spec.key, shown_default, allowed, spec.help);
    std::vector<std::string> by_model;
    for (const auto& [model, defaults] : model_setting_defaults())
      for (const auto& [key, value] : defaults)
        if (key == spec.key) by_model.push_back(fmt::format("{} {}", model, to_string(value)));
    if (!by_model.empty()) fmt::print("    models' own defaults: {}\n", fmt::join(by_model, ", "));
    ++shown;
  }
  AUXGRID_CHECK(shown > 0, "no setting starts with '{}' (auxgrid settings lists them all)", prefix);
  return 0;
}

int version(const Args& args) {
  po::options_description o("options");
  parse(args, o);
  fmt::print("auxgrid {} (commit {}{})\n", auxgrid::version(), git_commit(), git_dirty() == "true" ? ", dirty" : "");
  fmt::print("LibTorch {} ({}), CUDA devices: {}\n", train::libtorch_version(),
             train::libtorch_has_cuda() ? "with CUDA" : "CPU only", train::cuda_device_count());
  fmt::print("attention off auxgrid's fused CPU kernel: {}\n",
             kernels::sdpa_available() ? "scaled_dot_product_attention" : "materialised");
  fmt::print("train.precision = bf16 on: {}\n", train::bf16_supported(false) ? "CUDA, CPU" : "CUDA");
  fmt::print("communicators: {}\n", fmt::join(dist::communicator_backends().names(), ", "));
  return 0;
}

}  // namespace auxgrid::launcher
