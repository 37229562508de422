#pragma once
// The processes of one launch. Under mpirun (or srun with PMIx) it is
// MPI_COMM_WORLD; started directly it is a single local rank and MPI is not
// initialised at all, so `auxgrid run` works without an MPI launcher.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace auxgrid::dist {

class World {
 public:
  // Initialises MPI when the environment says we were started by an MPI launcher.
  static World& init(int* argc, char*** argv);
  static World& get();
  ~World();

  // Ranks of this launch on this node (for threads per rank and device mapping).
  int local_size() const;
  std::string library_version() const;  // the MPI library's, or "none"

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool uses_mpi() const { return mpi_; }

  void barrier() const;
  // Rank 0's values reach every rank (resized as needed).
  void broadcast(std::vector<std::int64_t>& values) const;
  void broadcast(std::string& text) const;
  std::int64_t sum(std::int64_t value) const;
  // Ends every rank (MPI_Abort under MPI), for errors one rank cannot recover from.
  [[noreturn]] void abort(int code) const;

 private:
  World() = default;
  bool mpi_ = false;
  int rank_ = 0, size_ = 1;
};

// A shared counter that hands out 0, 1, 2, ... across all ranks without a
// master: MPI one-sided fetch-and-add on a window held by rank 0 (a plain
// integer for a local world). Collective to create.
class SharedCounter {
 public:
  explicit SharedCounter(const World& world);
  ~SharedCounter();
  SharedCounter(const SharedCounter&) = delete;
  SharedCounter& operator=(const SharedCounter&) = delete;

  std::int64_t fetch_add(std::int64_t increment = 1);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace auxgrid::dist
