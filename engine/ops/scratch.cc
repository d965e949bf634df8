#include "engine/ops/scratch.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace qasr::engine {

void* AllocateLargeScratch(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  void* p = nullptr;
  const size_t whole = (bytes + kHuge - 1) / kHuge * kHuge;
  if (posix_memalign(&p, kHuge, whole) != 0 || p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: where THP is off (or the kernel refuses) the buffer simply
  // faults in 4 KiB pages. Only whole huge pages are advised.
  (void)madvise(p, whole, MADV_HUGEPAGE);
#endif
  return p;
}

}  // namespace qasr::engine
