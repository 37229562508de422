// auxgrid sbatch: writes a SLURM job-array script that runs a grid's pending
// cells, one cost-balanced shard per array task. slurm/array.sbatch is the
// same script with placeholders; tests/e2e_slurm.sh checks that they agree.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/models/model.hpp"
#include "auxgrid/train/runner.hpp"
#include "commands.hpp"

namespace auxgrid::launcher {

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

}  // namespace

int sbatch(const Args& args) {
  std::string grid_path, out, time, partition, script;
  std::vector<std::string> sets, plugins;
  int array_size = 0, gpus_per_task = 0, cpus_per_task = 0;
  po::options_description o("options");
  o.add_options()("grid", po::value(&grid_path), "grid file")(
      "out", po::value(&out), "results directory (default results/<grid name>)")(
      "array-size", po::value(&array_size), "array tasks (default: pending cells, at most 64)")(
      "gpus-per-task", po::value(&gpus_per_task), "GPUs per array task")(
      "cpus-per-task", po::value(&cpus_per_task), "CPUs per array task (= torch threads)")(
      "time", po::value(&time), "time limit per task, in SLURM's format")(
      "partition", po::value(&partition), "SLURM partition")(
      "set", po::value(&sets)->composing(), "override a setting for every cell: key=value")(
      "plugin", po::value(&plugins)->composing(), "load a model plugin (shared library)")(
      "script", po::value(&script), "script to write (default DIR/slurm/<grid name>.sbatch)");
  const auto vm = parse(args, o, "grid");
  AUXGRID_CHECK(!grid_path.empty(), "missing GRID file argument");
  AUXGRID_CHECK(!vm.count("array-size") || array_size >= 1, "--array-size must be at least 1, got {}", array_size);
  AUXGRID_CHECK(!vm.count("cpus-per-task") || cpus_per_task >= 1, "--cpus-per-task must be at least 1, got {}",
                cpus_per_task);
  AUXGRID_CHECK(!vm.count("gpus-per-task") || gpus_per_task >= 1, "--gpus-per-task must be at least 1, got {}",
                gpus_per_task);

  // The same loading and validation as `auxgrid run`, so that a script is only
  // written for a grid whose tasks can start.
  Overrides overrides;
  for (const auto& s : sets) overrides.push_back(parse_override(s));
  for (const auto& p : plugins) models::load_plugin(p);
  const auto grid = load_grid(grid_path, overrides, [](const std::string& p) { models::load_plugin(p); });
  if (out.empty()) out = "results/" + grid.name;
  const auto plan = train::make_plan(grid, out);
  train::throw_if_invalid(plan, grid);
  const auto pending = plan.pending.size();
  if (pending == 0) {
    fmt::print("grid '{}': nothing to train, all {} cells are complete in {}; no script written\n", grid.name,
               grid.cells.size(), out);
    return 0;
  }
  // More tasks than cells would start with empty shards.
  const auto tasks = std::min<std::size_t>(vm.count("array-size") ? array_size : 64, pending);

  const auto out_abs = absolute(out);
  const auto log_dir = out_abs + "/slurm";
  if (script.empty()) script = log_dir + "/" + grid.name + ".sbatch";
  const auto script_abs = absolute(script);

  std::string options;
  options += fmt::format("#SBATCH --job-name=auxgrid-{}\n", sbatch_value(grid.name, "grid name"));
  options += fmt::format("#SBATCH --array=0-{}\n", tasks - 1);
  options += fmt::format("#SBATCH --output={}/%A_%a.out\n", sbatch_value(log_dir, "results directory"));
  options += "#SBATCH --open-mode=append\n#SBATCH --requeue\n#SBATCH --signal=B:USR1@120\n";
  if (cpus_per_task) options += fmt::format("#SBATCH --cpus-per-task={}\n", cpus_per_task);
  if (gpus_per_task) options += fmt::format("#SBATCH --gpus-per-task={}\n", gpus_per_task);
  if (!time.empty()) options += fmt::format("#SBATCH --time={}\n", sbatch_value(time, "--time"));
  if (!partition.empty()) options += fmt::format("#SBATCH --partition={}\n", sbatch_value(partition, "--partition"));

  // SLURM does not create the directory of --output: a missing one loses the logs.
  fs::create_directories(log_dir);
  fs::create_directories(fs::path(script_abs).parent_path());

  std::string command = fmt::format("{} run {} --out {}", shell_quote(fs::read_symlink("/proc/self/exe").string()),
                                    shell_quote(absolute(grid.path)), shell_quote(out_abs));
  command += " \\\n  --shard \"$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"";
  for (const auto& s : sets) command += " \\\n  --set " + shell_quote(s);
  for (const auto& p : plugins) command += " \\\n  --plugin " + shell_quote(absolute(p));

  const auto text = fmt::format(R"(#!/bin/bash
# auxgrid job array for grid '{grid}' ({grid_path}): {pending} of {cells} cells
# were pending when `auxgrid sbatch` wrote it. Submit, and resubmit after
# failures or new cells, with:  sbatch {script}
{options}#
# Task I of N trains shard I/N of the cells that are pending when the task
# starts (cost-balanced). Tasks that start at different times, and a
# resubmission while an earlier array still runs, see different pending cells,
# so shards may overlap; no cell is trained twice, because `auxgrid run` claims
# each cell (DIR/locks/<id>.lock, with a heartbeat) before training it and
# skips cells that another task holds or has completed.
#
# Preemption contract: SLURM sends USR1 to this script 120 s before the time
# limit (--signal=B:USR1@120, to the batch shell only; a partition that
# preempts with PreemptParameters=send_user_signal sends it at preemption).
# The trap forwards it to `auxgrid run`, which checkpoints the cell it trains
# and exits with code 3; on exit code 3 after USR1 this script requeues its
# task (`scontrol requeue`). The restarted task logs to the same file
# (--open-mode=append), and the checkpointed cell resumes where it stopped.
# TERM (scancel, the time limit, PreemptMode=REQUEUE, which requeues by
# itself) is forwarded as well, so the cell is checkpointed, but it does not
# requeue: otherwise scancel could not stop the array. Any exit code other
# than 3 after USR1 ends the task with that code.
set -u
cd {submit_dir} || exit 1  # grid files name corpora relative to this directory

child=
warned=
forward() {{ [ -n "$child" ] && kill -s "$1" "$child" 2>/dev/null; }}
trap 'warned=1; forward USR1' USR1
trap 'forward TERM' TERM

{command} &
child=$!
# A trapped signal ends `wait` early (status > 128): wait until the child is
# gone, then once more for its exit status, which bash keeps.
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
wait "$child"
status=$?
if [ "$status" -eq 3 ] && [ -n "$warned" ]; then
  echo "auxgrid: checkpointed after a preemption signal; requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
)",
                                fmt::arg("grid", grid.name), fmt::arg("grid_path", absolute(grid.path)),
                                fmt::arg("pending", pending), fmt::arg("cells", grid.cells.size()),
                                fmt::arg("script", shell_quote(script_abs)), fmt::arg("options", options),
                                fmt::arg("submit_dir", shell_quote(fs::current_path().string())),
                                fmt::arg("command", command));
  {
    std::ofstream file(script_abs);
    file << text;
    AUXGRID_CHECK(file.flush(), "cannot write '{}'", script_abs);
  }
  fs::permissions(script_abs, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
  fmt::print("grid '{}': {} of {} cells to train in {} array task(s); wrote {}\nsubmit with:\n  sbatch {}\n",
             grid.name, pending, grid.cells.size(), tasks, script_abs, shell_quote(script_abs));
  return 0;
}

}  // namespace auxgrid::launcher
