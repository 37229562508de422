#pragma once
// The heap behaviour training needs, set by the process itself rather than by
// MALLOC_* variables in every job script. LibTorch frees and re-allocates
// tensors of hundreds of MB every step; glibc's defaults serve each with a
// fresh mmap and give it back right away (page faults on every touch), and trim
// the heap after every large free. Measured on the full-size AuxFormer: a step
// took 13.2 s with the defaults and 10.5 s with these settings.

namespace auxgrid {

// glibc: no mmap for large blocks, no trimming, 1 GB of top pad. Call once,
// early in main; a no-op elsewhere.
void tune_allocator();

}  // namespace auxgrid
