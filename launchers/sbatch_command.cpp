// auxgrid sbatch: writes a SLURM job-array script that runs a grid's pending
// cells, one cost-balanced shard per array task: slurm/array.sbatch (compiled
// in) with its placeholders filled in.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/train/runner.hpp"
#include "auxgrid/train/trainer.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

// slurm/array.sbatch, compiled in (cmake/array_sbatch.cpp.in).
extern const char* const kArraySbatchTemplate;

namespace {

namespace fs = std::filesystem;

// Single quotes for the shell: nothing inside is expanded.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

// #SBATCH lines are split on white space by sbatch, not by a shell.
std::string sbatch_value(const std::string& text, const char* what) {
  AUXGRID_CHECK(text.find_first_of(" \t\n'\"") == std::string::npos,
                "{} '{}' cannot be written on an #SBATCH line (it holds white space or quotes)", what, text);
  return text;
}

// What fills the template's placeholders: `text` everywhere (a quoted
// placeholder before the bare one), `optional` drops its #SBATCH line when
// empty, `repeated` writes its line (of the command, or a line of its own)
// once per value (none: dropped).
struct ArraySbatch {
  std::vector<std::pair<std::string, std::string>> text, optional;
  std::map<std::string, std::vector<std::string>> repeated;
};

void replace_all(std::string& line, const std::string& from, const std::string& to) {
  for (auto at = line.find(from); at != std::string::npos; at = line.find(from, at + to.size()))
    line.replace(at, from.size(), to);
}

// The template without its ## note, filled in. The command's continued lines
// (" \\" at their ends, " &" after the last) are joined again after repeated
// lines are expanded or dropped.
std::string fill_array_sbatch(const ArraySbatch& values) {
  std::istringstream in(kArraySbatchTemplate);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("##", 0) == 0) continue;
    bool keep = true;
    for (const auto& [placeholder, value] : values.optional)
      if (line.find(placeholder) != std::string::npos) {
        keep = !value.empty();
        replace_all(line, placeholder, value);
      }
    if (!keep) continue;
    for (const auto& [placeholder, value] : values.text) replace_all(line, placeholder, value);
    const bool in_command = line.size() > 2 && (line.compare(line.size() - 2, 2, " \\") == 0 ||
                                                line.compare(line.size() - 2, 2, " &") == 0);
    bool expanded = false;
    for (const auto& [placeholder, list] : values.repeated)
      if (!in_command && line.find(placeholder) != std::string::npos) {  // a line of its own: once per value
        expanded = true;
        for (const auto& value : list) {
          auto copy = line;
          replace_all(copy, placeholder, value);
          lines.push_back(copy);
        }
      }
    if (!expanded) lines.push_back(line);
  }
  std::string out;
  std::vector<std::string> command;  // the lines of the background command, without their endings
  for (auto& line : lines) {
    const bool continued = line.size() > 2 && line.compare(line.size() - 2, 2, " \\") == 0;
    const bool last = !command.empty() && line.size() > 2 && line.compare(line.size() - 2, 2, " &") == 0;
    if (!continued && !last) {
      out += line + "\n";
      continue;
    }
    line.resize(line.size() - 2);
    bool expanded = false;
    for (const auto& [placeholder, list] : values.repeated)
      if (line.find(placeholder) != std::string::npos) {
        expanded = true;
        for (const auto& value : list) {
          auto copy = line;
          replace_all(copy, placeholder, value);
          command.push_back(copy);
        }
      }
    if (!expanded && line.find("'@KEY=VALUE@'") == std::string::npos && line.find("'@PLUGIN@'") == std::string::npos)
      command.push_back(line);
    if (last) {
      for (std::size_t i = 0; i < command.size(); ++i) out += command[i] + (i + 1 < command.size() ? " \\\n" : " &\n");
      command.clear();
    }
  }
  return out;
}

struct SbatchArgs {
  std::string grid_path, out, time, partition, script, mem, mem_per_gpu, account, qos, constraint, device;
  std::vector<std::string> sets, plugins, setup, sbatch_lines;
  int array_size = 64, gpus_per_task = 0, cpus_per_task = 0, throttle = 0;
};

SbatchArgs parse_sbatch_args(const Args& args) {
  SbatchArgs a;
  po::options_description o("options");
  o.add_options()("grid", po::value(&a.grid_path), "grid file")(
      "out", po::value(&a.out), "results directory (default results/<grid name>, +<key=value> per --set)")(
      "array-size", bounded(&a.array_size, "array-size", 1, kMaxShards),
      "array tasks (default: pending cells, at most 64)")(
      "gpus-per-task", bounded(&a.gpus_per_task, "gpus-per-task", 1, 1024), "GPUs per array task")(
      "device", po::value(&a.device),
      "cpu|cuda: what the tasks train on (default cuda with --gpus-per-task, else cpu)")(
      "cpus-per-task", bounded(&a.cpus_per_task, "cpus-per-task", 1, 4096), "CPUs per array task (= torch threads)")(
      "time", po::value(&a.time), "time limit per task, in SLURM's format")("partition", po::value(&a.partition),
                                                                            "SLURM partition")(
      "mem", po::value(&a.mem), "memory per node of a task, in SLURM's format (e.g. 16G)")(
      "mem-per-gpu", po::value(&a.mem_per_gpu), "memory per GPU, in SLURM's format (with --gpus-per-task)")(
      "account", po::value(&a.account), "SLURM account to charge")(
      "qos", po::value(&a.qos), "SLURM quality of service")("constraint", po::value(&a.constraint),
                                                            "node features the tasks need (e.g. a100|h100)")(
      "throttle", bounded(&a.throttle, "throttle", 1, kMaxShards),
      "run at most N array tasks at once (--array=0-K%N), to share a cluster")(
      "setup", po::value(&a.setup)->composing(),
      "a shell line run before auxgrid in every task (repeatable), e.g. 'module load cuda' or "
      "'source ~/venv/bin/activate'")("set", po::value(&a.sets)->composing(),
                                      "override a setting for every cell: key=value")(
      "plugin", po::value(&a.plugins)->composing(), "load a model plugin (shared library)")(
      "sbatch", po::value(&a.sbatch_lines)->composing(),
      "a site's own #SBATCH option, written as '#SBATCH OPTION' (repeatable), e.g. --sbatch=--reservation=gpu")(
      "script", po::value(&a.script), "script to write (default DIR/slurm/<grid name>.sbatch)");
  parse(args, o, "grid");
  AUXGRID_CHECK(!a.grid_path.empty(), "missing GRID file argument");
  AUXGRID_CHECK(a.mem.empty() || a.mem_per_gpu.empty(), "--mem and --mem-per-gpu exclude each other (as in SLURM)");
  // SLURM's formats, checked here rather than refused by sbatch (or misread by it) later.
  AUXGRID_CHECK(a.time.empty() || std::regex_match(a.time, std::regex(R"(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+(:\d{1,2}(:\d{1,2})?)?)")),
                "--time '{}' is not a SLURM time: MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS", a.time);
  for (const auto& [value, name] : {std::pair{a.mem, "--mem"}, {a.mem_per_gpu, "--mem-per-gpu"}})
    AUXGRID_CHECK(value.empty() || std::regex_match(value, std::regex(R"(\d+[KMGT]?)")),
                  "{} '{}' is not a SLURM memory size: a whole number with an optional K, M, G or T (e.g. 16G)",
                  name, value);
  for (const auto& line : a.sbatch_lines)
    AUXGRID_CHECK(line.rfind("--", 0) == 0 && line.find('\n') == std::string::npos,
                  "--sbatch '{}': one sbatch option starting with --, e.g. --sbatch=--reservation=gpu", line);
  AUXGRID_CHECK(a.mem_per_gpu.empty() || a.gpus_per_task > 0, "--mem-per-gpu needs --gpus-per-task");
  if (a.device.empty()) a.device = a.gpus_per_task ? "cuda" : "cpu";
  AUXGRID_CHECK(a.device == "cpu" || a.device == "cuda", "--device '{}': cpu or cuda", a.device);
  AUXGRID_CHECK(a.device == "cpu" || a.gpus_per_task > 0,
                "--device cuda needs --gpus-per-task: SLURM gives a task no GPU unless it asks for one");
  // Training on the GPU needs a build that can: refused here, not found out on a compute node after the queue.
  AUXGRID_CHECK(a.device == "cpu" || train::libtorch_has_cuda(),
                "--gpus-per-task {}: this auxgrid is built against LibTorch {} without CUDA, so its tasks could only "
                "train on the CPU; build it against a CUDA LibTorch (cmake -DAUXGRID_WITH_CUDA=ON "
                "-DCMAKE_PREFIX_PATH=\"$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')\", see "
                "docs/cluster.md, \"GPU nodes and LibTorch 2.x\"), leave out --gpus-per-task to train on CPUs, or add "
                "--device cpu to hold GPUs that the tasks do not train on",
                a.gpus_per_task, train::libtorch_version());
  return a;
}

// The template's values for a grid with `pending` cells in `tasks` array tasks.
ArraySbatch template_values(const SbatchArgs& a, const Grid& grid, const std::string& out_abs,
                            const std::string& script_abs, std::size_t pending, std::size_t tasks) {
  ArraySbatch values;
  values.text = {{"@GRID_NAME@", sbatch_value(grid.name, "grid name")},
                 {"'@GRID@'", shell_quote(absolute(grid.path))},
                 {"@GRID@", absolute(grid.path)},
                 {"'@OUT@'", shell_quote(out_abs)},
                 {"@OUT@", sbatch_value(out_abs, "results directory")},
                 {"'@AUXGRID@'", shell_quote(fs::read_symlink("/proc/self/exe").string())},
                 {"'@SUBMIT_DIR@'", shell_quote(fs::current_path().string())},
                 {"'@SCRIPT@'", shell_quote(script_abs)},
                 {"@LAST_TASK@", std::to_string(tasks - 1)},
                 {"@THROTTLE@", a.throttle ? "%" + std::to_string(a.throttle) : ""},
                 {"@DEVICE@", a.device},
                 {"@PENDING@", std::to_string(pending)},
                 {"@CELLS@", std::to_string(grid.cells.size())}};
  values.optional = {{"@CPUS@", a.cpus_per_task ? std::to_string(a.cpus_per_task) : ""},
                     {"@GPUS@", a.gpus_per_task ? std::to_string(a.gpus_per_task) : ""},
                     {"@TIME@", a.time.empty() ? "" : sbatch_value(a.time, "--time")},
                     {"@PARTITION@", a.partition.empty() ? "" : sbatch_value(a.partition, "--partition")},
                     {"@MEM@", a.mem.empty() ? "" : sbatch_value(a.mem, "--mem")},
                     {"@MEM_PER_GPU@", a.mem_per_gpu.empty() ? "" : sbatch_value(a.mem_per_gpu, "--mem-per-gpu")},
                     {"@ACCOUNT@", a.account.empty() ? "" : sbatch_value(a.account, "--account")},
                     {"@QOS@", a.qos.empty() ? "" : sbatch_value(a.qos, "--qos")},
                     {"@CONSTRAINT@", a.constraint.empty() ? "" : sbatch_value(a.constraint, "--constraint")}};
  values.repeated["@SETUP@"];  // no --setup: the line is dropped, never written as it stands
  values.repeated["@SBATCH_LINE@"];
  for (const auto& line : a.sbatch_lines) values.repeated["@SBATCH_LINE@"].push_back(sbatch_value(line, "--sbatch"));
  for (const auto& line : a.setup) {
    AUXGRID_CHECK(line.find('\n') == std::string::npos, "--setup '{}': one shell line each (repeat --setup)", line);
    values.repeated["@SETUP@"].push_back(line);
  }
  for (const auto& set : a.sets) values.repeated["'@KEY=VALUE@'"].push_back(shell_quote(set));
  for (const auto& plugin : a.plugins) values.repeated["'@PLUGIN@'"].push_back(shell_quote(absolute(plugin)));
  return values;
}

void write_executable(const std::string& path, const std::string& text) {
  files::write_atomically(path, text, "the job script");
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
}

}  // namespace

int sbatch(const Args& args) {
  auto a = parse_sbatch_args(args);
  // The same loading and validation as `auxgrid run`, so that a script is only
  // written for a grid whose tasks can start.
  Overrides overrides;
  for (const auto& s : a.sets) overrides.push_back(parse_override(s));
  for (const auto& p : a.plugins) models::load_plugin(p);
  const auto grid = load_grid(a.grid_path, overrides, [](const std::string& p) { models::load_plugin(p); });
  a.out = results_dir(a.out, grid.name, a.sets);
  const auto plan = train::make_plan(grid, a.out);
  train::throw_if_invalid(plan, grid);
  const auto pending = plan.pending.size();
  if (pending == 0) {
    fmt::print("grid '{}': nothing to train, all {} cells are complete in {}; no script written\n", grid.name,
               grid.cells.size(), a.out);
    return 0;
  }
  const auto tasks = std::min<std::size_t>(a.array_size, pending);  // more would start with empty shards
  const auto out_abs = absolute(a.out);
  const auto log_dir = out_abs + "/slurm";
  const auto script_abs = absolute(a.script.empty() ? log_dir + "/" + grid.name + ".sbatch" : a.script);
  fs::create_directories(log_dir);  // SLURM does not create the directory of --output: the logs would be lost
  write_executable(script_abs, fill_array_sbatch(template_values(a, grid, out_abs, script_abs, pending, tasks)));
  fmt::print("grid '{}': {} of {} cells to train in {} array task(s); wrote {}\nsubmit with:\n  sbatch {}\n", grid.name,
             pending, grid.cells.size(), tasks, script_abs, shell_quote(script_abs));
  return 0;
}

}  // namespace auxgrid::launcher
