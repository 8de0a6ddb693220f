// How Gemm blocks and tiles a product on this CPU: chosen at run time from
// the CPU (cpu.h) and the vector unit of the Highway target Gemm dispatches
// to, cached per target, and reported in benchmark output and run manifests.
//
//   GemmConfig c = ChooseGemmConfig(HostCpu(), {8, 16});  // AVX2: 8 lanes,
//                                                         // 16 registers
//   DescribeGemmConfig(c)  // "tile 6x2v kc 256 | blocked 6x2v kc 256 ..."
//
// The choice is a pure function of the machine (no timing), so a process
// always sums in the same order: results are reproducible run to run and
// independent of the thread count.
#ifndef TRAINBUS_KERNELS_GEMM_CONFIG_H_
#define TRAINBUS_KERNELS_GEMM_CONFIG_H_

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/cpu.h"

namespace trainbus::kernels {

// A register tile of C: `rows` rows x `vecs` vectors. It needs rows * vecs
// accumulators + vecs B vectors + 1 broadcast register.
struct GemmTile {
  size_t rows = 6, vecs = 2;
  bool operator==(const GemmTile& o) const {
    return rows == o.rows && vecs == o.vecs;
  }
};

// Every tile the kernels are compiled with; a target uses those that fit its
// registers (TilesFor).
inline constexpr GemmTile kGemmTiles[] = {{6, 2}, {4, 3}, {8, 2}, {14, 2},
                                          {6, 4}};

// What a Highway target offers: float lanes per vector, vector registers.
struct VectorUnit {
  size_t lanes = 8;
  size_t registers = 16;
};

struct GemmConfig {
  // m <= jit_max_rows: op(A) read in place, op(B) packed just in time into
  // kc x (tile.vecs vectors) panels that stay in L1.
  GemmTile tile;
  size_t tiled_kc = 256;
  // Panels are packed in groups of about this many bytes (L2-resident): a
  // non-transposed B is then read in rows of group x nr floats, long enough
  // for the prefetchers.
  size_t tiled_pack_bytes = 256 * 1024;
  size_t jit_max_rows = 128;
  // m > jit_max_rows (GotoBLAS/BLIS): per kc-deep block, op(B) packed into
  // kc x nr panels (L1), op(A) into mc-row blocks (L2), nc columns (L3).
  GemmTile blocked_tile;
  size_t kc = 256, mc = 168, nc = 2048;
  // Fewer multiply-adds than this run on the calling thread: the TBB
  // fork/join would cost more than the second thread saves.
  size_t parallel_macs = size_t{1} << 18;
  // Where the numbers come from: "measured on zen3" or "from cache sizes".
  std::string source;
};

// The tiles of kGemmTiles that fit `unit`'s registers.
std::vector<GemmTile> TilesFor(VectorUnit unit);

// The configuration for `cpu` when Gemm runs on `unit`.
GemmConfig ChooseGemmConfig(const CpuInfo& cpu, VectorUnit unit);

// The chosen configuration and variants of it that exercise every tile and
// blocking edge the kernels have for `unit`: what tests sweep.
std::vector<GemmConfig> GemmTestConfigs(const CpuInfo& cpu, VectorUnit unit);

// "tile 6x2v kc 256, blocked 6x2v kc 256 mc 168 nc 2048, 1 thread below
//  262144 MACs (measured on zen3)".
std::string DescribeGemmConfig(const GemmConfig& config);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_GEMM_CONFIG_H_
