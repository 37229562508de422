#pragma once
// The results directory, in one place (as LevelDB's filename.h is for a
// database): every path inside it, the failure record with its writer and its
// reader, the lock file's format and the one rule that says whether a lock is
// held, and the names of the provenance entries. No other module builds a
// path inside DIR or parses one of its files.
//
//   DIR/cells/<id>.h5          one result per cell (result_file.hpp), written atomically;
//                              one that fails verification is set aside as <id>.h5.rejected.<time>
//   DIR/manifest.tsv           every cell ever planned into DIR (manifest.hpp)
//   DIR/locks/<id>.lock        a claim on a cell: "host pid job" (LockStatus), never
//                              empty (create_lock); its modification time is the
//                              owner's heartbeat
//   DIR/checkpoints/<id>.pt    a cell's training state, removed when its result is written;
//                              one that fails verification is set aside as <id>.pt.rejected.<time>
//   DIR/errors/<id>.log        one line per failed attempt (FailureRecord)
//   DIR/verified.tsv           the result files that passed a full verification, by
//                              their identity on disk (result_file.cpp says why)
#include <string>
#include <vector>

namespace auxgrid::store {

std::string cells_dir(const std::string& dir);
std::string result_path(const std::string& dir, const std::string& cell_id);
std::string manifest_path(const std::string& dir);
std::string locks_dir(const std::string& dir);
std::string checkpoints_dir(const std::string& dir);
std::string errors_dir(const std::string& dir);
std::string lock_path(const std::string& dir, const std::string& cell_id);
std::string checkpoint_path(const std::string& dir, const std::string& cell_id);
std::string error_log_path(const std::string& dir, const std::string& cell_id);
std::string verified_path(const std::string& dir);

// Moves a file that failed verification (a result, a checkpoint) out of the
// way, to "<path>.rejected.<unix time>", kept for inspection; returns the new
// path. Throws naming both paths if the rename fails.
std::string set_aside(const std::string& path);

// One failed attempt at a cell, one line of DIR/errors/<id>.log:
//   <utc time> host=<host> rank=<rank> attempt=<n> cell='<label>': <message>
struct FailureRecord {
  std::string time_utc, host;
  int rank = 0, attempt = 0;
  std::string label, message;  // the message on one line
};
// Appends a record (time, host and attempt filled in here) and returns it.
// Throws naming the log and the reason when it cannot be written; a partly
// written line is taken back, so the log stays a list of whole records.
FailureRecord record_failure(const std::string& dir, const std::string& cell_id, int rank, const std::string& label,
                             const std::string& message);
// The cell's records in the order they were written; empty without a log.
std::vector<FailureRecord> read_failures(const std::string& dir, const std::string& cell_id);
int failed_attempts(const std::string& dir, const std::string& cell_id);
// The ids of the cells with a failure record, sorted.
std::vector<std::string> cells_with_failures(const std::string& dir);

// A lock file and whether it holds its cell. The one rule, for claims and
// `auxgrid status` alike: a lock is held (running) while its heartbeat is
// younger than the stale timeout and its owner is not a process of this host
// that no longer exists; otherwise it may be taken over. A lock that names no
// owner holds nothing either (unreadable): garbage, a directory, or an empty
// file older than kEmptyLockGraceSeconds (auxgrid writes its locks whole, but
// an earlier version created them empty and wrote the owner next, and a
// full disk could stop it there); a younger empty lock counts as running.
enum class LockState { none, running, stale, dead_owner, unreadable };
inline constexpr double kEmptyLockGraceSeconds = 5;
// A heartbeat further in the future than this is a skewed clock, not a live owner's.
inline constexpr double kClockSkewSeconds = 60;
struct LockStatus {
  LockState state = LockState::none;
  double age_seconds = 0;  // since the last heartbeat; negative when it lies in the future
  std::string host, job;   // job: "<SLURM job>[_<array task>]" or "-"
  long pid = 0;
  std::string owner() const;  // "host H pid P job J", for messages
  // A heartbeat more than kClockSkewSeconds ahead of this host's clock: the
  // lock's state cannot be judged by its age (it counts as held).
  bool clock_skew() const { return age_seconds < -kClockSkewSeconds; }
  // For messages: both times and what to do; empty without clock skew.
  std::string skew_note(const std::string& lock_path) const;
};
LockStatus lock_status(const std::string& lock_path, double stale_after_seconds);
// The content of a lock file this process writes: "host pid job\n"; the job
// is SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID in an array task (what squeue and
// the task's log name show), else SLURM_JOB_ID, else "-".
std::string lock_owner_line();
// Creates the lock at `lock_path` with this process's owner line, whole or
// not at all: the line is written to a temporary file that is then linked to
// `lock_path`, so no other process ever sees an empty lock. False when a lock
// exists there; throws naming the lock and the reason when it cannot be
// written (nothing is left behind then).
bool create_lock(const std::string& lock_path);

// The provenance entries of a result (prov.* attributes, result_file.hpp).
namespace provenance {
inline constexpr char kAuxgridVersion[] = "auxgrid_version";
inline constexpr char kHost[] = "host";
inline constexpr char kRank[] = "rank";
inline constexpr char kWorldSize[] = "world_size";
inline constexpr char kThreads[] = "threads";
inline constexpr char kDevice[] = "device";
inline constexpr char kDeviceName[] = "device_name";
inline constexpr char kLibtorchVersion[] = "libtorch_version";
inline constexpr char kMpiVersion[] = "mpi_version";
inline constexpr char kHdf5Version[] = "hdf5_version";
inline constexpr char kNccl[] = "nccl";
inline constexpr char kGitCommit[] = "git_commit";
inline constexpr char kGitDirty[] = "git_dirty";
inline constexpr char kCommand[] = "command";
inline constexpr char kFinishedUtc[] = "finished_utc";
inline constexpr char kWallSeconds[] = "wall_seconds";
inline constexpr char kRanksPerCell[] = "ranks_per_cell";
inline constexpr char kCommunicator[] = "communicator";
}  // namespace provenance

}  // namespace auxgrid::store
