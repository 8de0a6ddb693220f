// How the kernels split work across TBB threads.
//
//   trainbus::kernels::ParallelRanges(rows, [&](size_t r0, size_t r1) {
//     for (size_t r = r0; r < r1; ++r) ...;
//   });
//
// Each thread gets one contiguous range (TBB's static_partitioner), not the
// default auto_partitioner's many small tasks and stealing. On the 2-vCPU
// VMs this project runs on, those cost tens of microseconds a call, and a
// 10x64x784 GEMM ran 3x slower on 2 threads than on 1 (BENCHMARKS.md,
// "2 threads against 1"). Callers decide *whether* to go parallel (each
// kernel has its own work threshold); this only decides *how*. A kernel
// whose result must not depend on the thread count keeps its own fixed
// chunking (units of work) and passes the chunk count here.
#ifndef TRAINBUS_KERNELS_PARALLEL_H_
#define TRAINBUS_KERNELS_PARALLEL_H_

#include <cstddef>

#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"
#include "oneapi/tbb/partitioner.h"

namespace trainbus::kernels {

// body(begin, end) over [0, count), one contiguous range per thread; ranges
// are at least `grain` long (the last may be shorter).
template <class Body>
void ParallelRanges(size_t count, const Body& body, size_t grain = 1) {
  tbb::parallel_for(
      tbb::blocked_range<size_t>(0, count, grain),
      [&](const tbb::blocked_range<size_t>& r) { body(r.begin(), r.end()); },
      tbb::static_partitioner());
}

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_PARALLEL_H_
