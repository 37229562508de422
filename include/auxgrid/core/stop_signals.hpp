#pragma once
// SIGTERM and SIGUSR1 (SLURM's --signal, a preempting scheduler, kill) and
// SIGINT (Ctrl-C) ask a run to checkpoint and stop at the next step boundary;
// a second SIGINT exits at once (code 130), without a checkpoint.
//
// No signal handler may run on a compute thread: oneDNN's JIT f32 GEMM kernels
// (LibTorch's and auxgrid's linear layers use them) point the stack pointer
// into the heap while they run, so a handler's frame pushed there corrupts the
// heap (oneDNN issue 4845, fixed in 3.11.2; Debian ships 2.6). So the signals
// are blocked in the calling thread, and in every thread it starts afterwards,
// and one dedicated thread takes them with sigwait. A handler is installed as
// well, for threads started before the call (MPI's, whose code is not JIT).
// Other signals with handlers (a sampling profiler's SIGPROF) are not kept
// off the compute threads: with such a tool attached, use -DAUXGRID_ONEDNN=OFF.

namespace auxgrid {

// Idempotent. Call before any compute thread starts (OpenMP's workers,
// LibTorch's, the batch prefetcher): `auxgrid run` does first thing. Only
// for commands that check stop_signal_received(): the signals no longer
// terminate the process.
void watch_stop_signals();

// The signal that asked to stop, or 0.
int stop_signal_received();

}  // namespace auxgrid
