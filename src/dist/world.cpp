#include "auxgrid/dist/world.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "auxgrid/core/check.hpp"
#include "mpi_support.hpp"

namespace auxgrid::dist {

namespace {
World* the_world = nullptr;

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var)) return true;
  return false;
}

}  // namespace

World& World::init(int* argc, char*** argv) {
  AUXGRID_CHECK(!the_world, "World::init called twice");
  the_world = new World();
  if (launched_by_mpi()) {
    check_mpi(MPI_Init(argc, argv), "MPI_Init");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    the_world->mpi_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &the_world->rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &the_world->size_);
  }
  // Finalize on normal exit; static destructors of the caller run before this.
  std::atexit([] { delete the_world; });
  return *the_world;
}

World& World::get() {
  AUXGRID_CHECK(the_world, "World::init has not been called");
  return *the_world;
}

World::~World() {
  if (mpi_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

int World::local_size() const {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!local) local = std::getenv("SLURM_NTASKS_PER_NODE");
  return local ? std::max(1, std::atoi(local)) : 1;
}

std::string World::library_version() const {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, length);
  return version.substr(0, version.find(','));  // "Open MPI v4.1.4"
}

void World::barrier() const {
  if (mpi_) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void World::broadcast(std::vector<std::int64_t>& values) const {
  if (!mpi_) return;
  std::int64_t n = static_cast<std::int64_t>(values.size());
  check_mpi(MPI_Bcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  values.resize(n);
  check_mpi(MPI_Bcast(values.data(), static_cast<int>(n), MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

void World::broadcast(std::string& text) const {
  if (!mpi_) return;
  std::int64_t n = static_cast<std::int64_t>(text.size());
  check_mpi(MPI_Bcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  text.resize(n);
  check_mpi(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

std::int64_t World::sum(std::int64_t value) const {
  if (!mpi_) return value;
  std::int64_t total = 0;
  check_mpi(MPI_Allreduce(&value, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return total;
}

void World::abort(int code) const {
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

struct SharedCounter::State {
  bool mpi = false;
  MPI_Win window = MPI_WIN_NULL;
  std::int64_t* base = nullptr;
  std::int64_t local = 0;
};

SharedCounter::SharedCounter(const World& world) : state_(std::make_unique<State>()) {
  state_->mpi = world.uses_mpi();
  if (!state_->mpi) return;
  const MPI_Aint bytes = world.rank() == 0 ? sizeof(std::int64_t) : 0;
  check_mpi(
      MPI_Win_allocate(bytes, sizeof(std::int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &state_->base, &state_->window),
      "MPI_Win_allocate");
  if (world.rank() == 0) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, state_->window);
    *state_->base = 0;
    MPI_Win_unlock(0, state_->window);
  }
  world.barrier();
}

SharedCounter::~SharedCounter() {
  if (state_->mpi && state_->window != MPI_WIN_NULL) MPI_Win_free(&state_->window);
}

std::int64_t SharedCounter::fetch_add(std::int64_t increment) {
  if (!state_->mpi) return std::exchange(state_->local, state_->local + increment);
  std::int64_t previous = 0;
  check_mpi(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, state_->window), "MPI_Win_lock");
  check_mpi(MPI_Fetch_and_op(&increment, &previous, MPI_INT64_T, 0, 0, MPI_SUM, state_->window), "MPI_Fetch_and_op");
  check_mpi(MPI_Win_unlock(0, state_->window), "MPI_Win_unlock");
  return previous;
}

}  // namespace auxgrid::dist
