#include "auxgrid/core/allocator.hpp"

#include <cstdlib>  // defines __GLIBC__ where glibc is the C library

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace auxgrid {

void tune_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);  // never give the heap back: a step would fault it in again
  mallopt(M_TOP_PAD, 1 << 30);
#endif
}

}  // namespace auxgrid
