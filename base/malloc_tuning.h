// How a long-running streaming process asks glibc's malloc to give memory
// back to the system.
//
//   base::ReturnLargeBlocksToTheSystem();  // once, before the stream starts
//
// A bus run allocates a pixel buffer per message (64 samples: 50 KB) on the
// source's thread and frees it on whichever thread delivered it last. glibc
// serves blocks that size from its arenas once its dynamic mmap threshold has
// risen (it does after the first large free, up to 32 MB), and the arenas
// then fragment: the soak (tools/soak/soak.py, BENCHMARKS.md) saw the peak
// RSS of parallel_models under drop_oldest double from 1M to 10M samples
// while the live heap stayed flat. A fixed threshold maps every block of 32
// KiB or more on its own and unmaps it when freed, so the RSS follows the
// live heap.
#ifndef TRAINBUS_BASE_MALLOC_TUNING_H_
#define TRAINBUS_BASE_MALLOC_TUNING_H_

#include <malloc.h>

namespace trainbus::base {

inline constexpr int kMmapThresholdBytes = 32 * 1024;

// Idempotent; a no-op where mallopt refuses the value.
inline void ReturnLargeBlocksToTheSystem() {
  ::mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
}

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_MALLOC_TUNING_H_
